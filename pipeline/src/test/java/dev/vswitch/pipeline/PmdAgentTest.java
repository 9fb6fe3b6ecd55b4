package dev.vswitch.pipeline;

import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.stages.ForwardStage;
import dev.vswitch.pipeline.stages.MacLearningStage;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.testing.FakePort;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.HdrHistogram.Histogram;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static dev.vswitch.testkit.frames.FrameBuilder.BROADCAST;
import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PmdAgentTest
{
    static final long A = 0x5254_0000_000AL;
    static final long A2 = 0x5254_0000_00A2L;
    static final long B = 0x5254_0000_000BL;

    private final MacTable table = MacTable.inMemory(256);

    @AfterEach
    void tearDown()
    {
        table.close();
    }

    private Stage[] stages(final SwitchPort[] ports)
    {
        return new Stage[] { new ClassifyStage(), new MacLearningStage(table), new ForwardStage(table, ports) };
    }

    private static OffHeapFrame udp(final long dst, final long src, final int payload)
    {
        return ethernet(dst, src).etherType(0x0800).ipv4(5, 17).udp().pad(payload).as(OffHeapFrame::contiguous);
    }

    @Test
    void aRoundDeliversTheWholeBurstThenCompletesItThenFlushes() throws Exception
    {
        final FakePort source = new FakePort(0);
        final FakePort dest = new FakePort(1);
        final FakePort[] ports = { source, dest };
        final List<String> journal = new ArrayList<>();
        for (final FakePort p : ports)
        {
            p.journal = journal;
        }
        table.learn(0, B, 1);
        for (int i = 0; i < 4; i++)
        {
            source.enqueue(udp(B, A, 10 + i));
        }
        final PmdAgent agent = new PmdAgent("pmd-test", ports, stages(ports), 64, 32);

        assertEquals(4, agent.doWork());

        // The round's steps, each over the whole burst: deliver (tx), complete, flush.
        assertEquals(List.of("tx p1 from p0 t0", "tx p1 from p0 t1", "tx p1 from p0 t2", "tx p1 from p0 t3",
            "complete p0 t0", "complete p0 t1", "complete p0 t2", "complete p0 t3", "flush p0", "flush p1"), journal);
        // Every slot was released within the round: the next round has the whole ring again.
        for (int i = 0; i < 64; i++)
        {
            source.enqueue(udp(B, A, 10));
        }
        assertEquals(32, agent.doWork(), "a full burst");
        assertEquals(32, agent.doWork(), "and the rest: nothing of the first round still holds a slot");
    }

    @Test
    void oneRoundEndToEnd() throws Exception
    {
        final FakePort source = new FakePort(0);
        final FakePort dest = new FakePort(1);
        final FakePort bystander = new FakePort(2);
        final FakePort down = new FakePort(3).down();
        final FakePort[] ports = { source, dest, bystander, down };
        final List<String> journal = new ArrayList<>();
        for (final FakePort p : ports)
        {
            p.journal = journal;
        }
        table.learn(0, B, 1);

        final List<byte[]> unicast = new ArrayList<>();
        for (int i = 0; i < 5; i++)
        {
            final OffHeapFrame f = i % 2 == 0 ? udp(B, A, 10 + i) :
                OffHeapFrame.split(ethernet(B, A).etherType(0x0800).ipv4(5, 17).udp().pad(10 + i).bytes(), 5, 9);
            unicast.add(f.bytes());
            source.enqueue(f);                                                      // tokens 0..4
        }
        source.enqueue(OffHeapFrame.contiguous(new byte[10]));                      // 5: runt, classify drops
        source.enqueue(udp(B, A2, 4), DropReason.BAD_CHAIN);                        // 6: source already dropped
        source.enqueue(udp(A, A, 4));                                               // 7: A is on port 0: hairpin
        final OffHeapFrame bcast = ethernet(BROADCAST, A).etherType(0x0806).arp(1, A, 0).as(OffHeapFrame::contiguous);
        source.enqueue(bcast);                                                      // 8: flooded

        final PmdAgent agent = new PmdAgent("pmd-test", ports, stages(ports), 64, 32);
        assertEquals(0, agent.rounds());
        assertEquals("pmd-test", agent.roleName());

        assertEquals(9, agent.doWork());

        // Destination: the five unicast frames, byte for byte, then the broadcast.
        assertEquals(6, dest.delivered.size());
        for (int i = 0; i < 5; i++)
        {
            final FakePort.Delivery d = dest.delivered.get(i);
            assertEquals(i, d.token());
            assertEquals(0, d.inPort());
            assertArrayEquals(unicast.get(i), d.bytes(), "frame " + i);
        }
        assertEquals(8, dest.delivered.get(5).token());
        assertArrayEquals(bcast.bytes(), dest.delivered.get(5).bytes());
        // Bystander: only the flood. Down port and source: nothing.
        assertEquals(1, bystander.delivered.size());
        assertEquals(8, bystander.delivered.get(0).token());
        assertEquals(0, down.transmitCount);
        assertEquals(0, source.transmitCount);

        // Every frame completed exactly once, in order, including every kind of drop.
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8), source.completedTokens);
        assertEquals(0, dest.completeCount + bystander.completeCount + down.completeCount);

        // Drops and counters at the ingress port.
        final PortCounters c = source.counters();
        assertEquals(1, c.drops(DropReason.RUNT), "runt counted by the pipeline");
        assertEquals(1, c.drops(DropReason.HAIRPIN));
        assertEquals(0, c.drops(DropReason.BAD_CHAIN), "a source drop is the source's to count");
        assertEquals(5, c.get(PortCounters.UNICAST));
        assertEquals(1, c.get(PortCounters.FLOODED));

        // The source-dropped frame skipped the stages: its sender was never learned.
        assertEquals(MacTable.NO_PORT, table.lookup(0, A2));
        assertEquals(0, table.lookup(0, A));

        // flush() once per port per round, after everything of the round was completed.
        for (final FakePort p : ports)
        {
            assertEquals(1, p.flushCount, p.name());
        }
        final int firstFlush = journal.indexOf("flush p0");
        assertEquals(journal.size() - ports.length, firstFlush, journal.toString());
        assertTrue(journal.indexOf("complete p0 t8") < firstFlush);
        assertTrue(journal.indexOf("tx p1 from p0 t0") < journal.indexOf("complete p0 t0"),
            "a frame is delivered before its buffers go back to the source");

        assertEquals(1, agent.rounds());

        // An idle round: nothing received, still one flush per port, still a round.
        assertEquals(0, agent.doWork());
        for (final FakePort p : ports)
        {
            assertEquals(2, p.flushCount, p.name());
        }
        assertEquals(2, agent.rounds());
        assertEquals(9, source.completeCount);

        final Histogram latency = agent.intervalLatency();
        assertEquals(9, latency.getTotalCount(), "one latency sample per frame of the busy round");
    }

    @Test
    void sourceDroppedFramesSkipEveryStage() throws Exception
    {
        final FakePort source = new FakePort(0);
        final FakePort[] ports = { source, new FakePort(1) };
        final List<String> seen = new ArrayList<>();
        final Stage spy = new Stage()
        {
            public String name()
            {
                return "spy";
            }

            public void process(final PacketEvent event)
            {
                seen.add("t" + event.completionToken);
            }
        };
        source.enqueue(udp(B, A, 4), DropReason.BAD_CHAIN)
            .enqueue(udp(B, A, 4))
            .enqueue(udp(B, A, 4), DropReason.BAD_HEADER);
        final PmdAgent agent = new PmdAgent("pmd", ports, new Stage[] { spy }, 8, 8);

        assertEquals(3, agent.doWork());
        assertEquals(List.of("t1"), seen);
        assertEquals(List.of(0, 1, 2), source.completedTokens);
    }

    /** Runs rounds over looping sources and checks every budget against burst and the ring's free slots. */
    private static void runAndCheckBudgets(final PmdAgent agent, final FakePort[] ports, final int rounds,
        final int ringSize, final int burst) throws Exception
    {
        int published = 0;
        for (int round = 1; round <= rounds; round++)
        {
            final int frames = agent.doWork();
            assertTrue(frames <= ringSize, "round " + round + " took " + frames + " > ring size");
            published += frames;
            assertEquals(round, agent.rounds());
        }
        int completed = 0;
        for (final FakePort p : ports)
        {
            assertEquals(0, p.budgetOverRemaining, p.name() + ": budget above the ring's remaining capacity");
            for (int i = 0; i < p.budgets.size(); i++)
            {
                final int budget = p.budgets.get(i);
                assertTrue(budget >= 1 && budget <= burst, p.name() + ": budget " + budget + " not in 1.." + burst);
                assertTrue(budget <= p.remainingAtReceive.get(i), p.name() + ": budget " + budget + " > remaining " +
                    p.remainingAtReceive.get(i));
            }
            assertTrue(p.maxBudget <= burst);
            assertEquals(rounds, p.flushCount, p.name() + ": one flush per round, polled or not");
            completed += p.completeCount;
        }
        assertEquals(published, completed, "every published frame completed within its round");
    }

    @Test
    void budgetIsTheBurstWhenTheRingHasRoomForEveryPort() throws Exception
    {
        final FakePort[] ports = { new FakePort(0), new FakePort(1), new FakePort(2) };
        for (final FakePort p : ports)
        {
            p.enqueue(udp(B, 0x5254_0000_1000L + p.id(), 4)).loop();
        }
        final PmdAgent agent = new PmdAgent("pmd", ports, stages(ports), 64, 6);   // 64 >= 3 * 6

        runAndCheckBudgets(agent, ports, 5, 64, 6);
        for (final FakePort p : ports)
        {
            assertEquals(List.of(6, 6, 6, 6, 6), p.budgets, p.name());
            assertEquals(30, p.completeCount, p.name());
        }
    }

    @Test
    void budgetNeverExceedsBurstOrRingCapacity() throws Exception
    {
        // ring 16 < 3 ports * burst 6: the ring, not the burst, is the limit.
        final FakePort[] ports = { new FakePort(0), new FakePort(1), new FakePort(2) };
        for (final FakePort p : ports)
        {
            p.enqueue(udp(B, 0x5254_0000_1000L + p.id(), 4)).loop();
        }
        final PmdAgent agent = new PmdAgent("pmd", ports, stages(ports), 16, 6);

        runAndCheckBudgets(agent, ports, 6, 16, 6);
        for (final FakePort p : ports)
        {
            assertEquals(6, p.receiveCalls, p.name() + " polled every round");
        }
    }

    @Test
    void budgetWithARingSmallerThanOneBurst() throws Exception
    {
        final FakePort[] ports = { new FakePort(0), new FakePort(1), new FakePort(2) };
        ports[0].enqueue(udp(B, A, 4)).loop();
        ports[1].enqueue(udp(B, A2, 4)).loop();   // port 2 idle
        final PmdAgent agent = new PmdAgent("pmd", ports, stages(ports), 4, 32);

        runAndCheckBudgets(agent, ports, 8, 4, 32);
        assertTrue(ports[0].completeCount > 0 && ports[1].completeCount > 0);
    }

    /**
     * Regression: the original PmdAgent.doWork always polled ports in array order and stopped at the first zero
     * budget, so a port that could fill the ring by itself (ringSize <= burst, or ringSize < burst * ports, e.g.
     * the accepted config ring-size 64, burst 64) kept every later port from ever being polled while it stayed
     * busy, contrary to SwitchPort#receive ("a busy or hostile peer cannot starve the others").
     */
    @Test
    void busyFirstPortDoesNotStarveLaterPortsWhenItCanFillTheRing() throws Exception
    {
        final FakePort[] ports = { new FakePort(0, false), new FakePort(1, false) };
        ports[0].enqueue(udp(B, A, 4)).loop();    // hostile guest: TX ring always full
        ports[1].enqueue(udp(A, B, 4)).loop();
        final PmdAgent agent = new PmdAgent("pmd", ports, stages(ports), 64, 64);   // valid config values

        for (int i = 0; i < 100; i++)
        {
            agent.doWork();
        }
        final int total = ports[0].completeCount + ports[1].completeCount;
        assertTrue(ports[1].receiveCalls > 0, "STARVATION BUG: port 1 was never polled in 100 rounds (port 0 took " +
            ports[0].completeCount + " frames)");
        assertTrue(ports[1].completeCount >= total / 4, "port 1 got only " + ports[1].completeCount + " of " + total);
        assertTrue(ports[0].completeCount >= total / 4, "port 0 got only " + ports[0].completeCount + " of " + total);
        assertEquals(0, ports[0].budgetOverRemaining + ports[1].budgetOverRemaining);
        assertTrue(ports[0].maxBudget <= 64 && ports[1].maxBudget <= 64);
    }

    /** A free port slot (what the switch keeps for ports added live): never polled, so any poll is a failure. */
    private static final class FreeSlot implements SwitchPort
    {
        private final int id;
        private final PortCounters counters = new PortCounters();
        int polls;

        FreeSlot(final int id)
        {
            this.id = id;
        }

        @Override
        public int id()
        {
            return id;
        }

        @Override
        public String name()
        {
            return "#free-" + id;
        }

        @Override
        public int receive(final PacketPublisher publisher, final int budget)
        {
            polls++;
            return 0;
        }

        @Override
        public boolean transmit(final PacketEvent event)
        {
            return false;
        }

        @Override
        public void prepareTransmit(final int frames, final int longestFrame)
        {
            polls++;
        }

        @Override
        public void complete(final PacketEvent event)
        {
        }

        @Override
        public void flush()
        {
            polls++;
        }

        @Override
        public boolean isUp()
        {
            return false;
        }

        @Override
        public boolean polled()
        {
            return false;
        }

        @Override
        public PortCounters counters()
        {
            return counters;
        }
    }

    /**
     * Regression: free slots counted in the fair share of the ring. With the default 8 spare slots and a ring of 64
     * (or the default 128), each real port's share was ring / 10, below the burst: a port got 6 (or 12) frames a
     * round where the ring had room for its 32.
     */
    @Test
    void freeSlotsAreNotPolledAndTakeNoShareOfTheRing() throws Exception
    {
        final SwitchPort[] ports = new SwitchPort[10];
        final FakePort first = new FakePort(0, false);
        final FakePort last = new FakePort(9, false);
        ports[0] = first;
        ports[9] = last;
        for (int i = 1; i < 9; i++)
        {
            ports[i] = new FreeSlot(i);
        }
        first.enqueue(udp(B, A, 4)).loop();
        last.enqueue(udp(A, B, 4)).loop();
        final PmdAgent agent = new PmdAgent("pmd", ports, stages(ports), 64, 32);

        for (int i = 0; i < 10; i++)
        {
            assertEquals(64, agent.doWork(), "round " + i + ": both ports take a whole burst");
        }
        assertEquals(32, first.maxBudget);
        assertEquals(32, last.maxBudget);
        for (int i = 1; i < 9; i++)
        {
            assertEquals(0, ((FreeSlot)ports[i]).polls, "free slot " + i + " was polled");
        }
    }

    @Test
    void aPortInstalledInAFreeSlotIsPolledOnceThePmdIsTold() throws Exception
    {
        final FakePort source = new FakePort(0, false);
        final SwitchPort[] ports = { source, new FreeSlot(1), new FreeSlot(2) };
        table.learn(0, B, 2);
        final PmdAgent agent = new PmdAgent("pmd", ports, stages(ports), 64, 32);
        agent.doWork();

        final FakePort added = new FakePort(2, false);
        added.enqueue(udp(A, B, 4));
        ports[2] = added;   // what a live add does, in a PMD task
        agent.portsChanged();
        agent.doWork();
        assertEquals(1, added.receiveCalls);
        assertEquals(1, added.completeCount);

        final FreeSlot freed = new FreeSlot(2);
        ports[2] = freed;   // and a live removal
        agent.portsChanged();
        agent.doWork();
        assertEquals(0, freed.polls);
    }

    @Test
    void agentWithoutPortsStillCountsRounds() throws Exception
    {
        final PmdAgent agent = new PmdAgent("empty", new SwitchPort[0], new Stage[0], 8, 8);
        for (int i = 0; i < 3; i++)
        {
            assertEquals(0, agent.doWork());
        }
        assertEquals(3, agent.rounds());
        assertEquals(0, agent.intervalLatency().getTotalCount());
    }

    /** Calls awaitQuiescent on this thread and checks it returned at once (it would spin 5 s, then throw). */
    private static void assertImmediate(final PmdAgent agent)
    {
        final long t0 = System.nanoTime();
        agent.awaitQuiescent();
        final long took = System.nanoTime() - t0;
        assertTrue(took < TimeUnit.MILLISECONDS.toNanos(100), "awaitQuiescent waited " + took + " ns");
    }

    @Test
    void awaitQuiescentReturnsAtOnceWithoutAPmdThread()
    {
        final FakePort[] ports = { new FakePort(0) };
        final PmdAgent agent = new PmdAgent("pmd", ports, stages(ports), 8, 8);
        assertImmediate(agent);

        // Between onStart and onClose, on the PMD thread itself (e.g. called from a port): also immediate.
        agent.onStart();
        assertImmediate(agent);
        agent.onClose();
        assertImmediate(agent);
        assertEquals(0, agent.rounds());
    }

    /**
     * Steps a real PMD thread round by round (its port's flush() waits for a permit, i.e. the round is held open
     * before its counter moves): a caller that arrives while a round is in progress must wait for that round and
     * the whole next one, since the round in progress may have read the state the caller just withdrew.
     */
    @Test
    void awaitQuiescentWaitsForTheRoundInProgressAndTheNextOne() throws Exception
    {
        final FakePort stepped = new FakePort(0, false);
        final FakePort[] ports = { stepped };
        final PmdAgent agent = new PmdAgent("pmd-stepped", ports, stages(ports), 8, 8);
        final Semaphore permits = new Semaphore(0);
        final AtomicInteger heldRounds = new AtomicInteger();
        final AtomicBoolean stepping = new AtomicBoolean(true);
        stepped.onFlush = () ->
        {
            if (stepping.get())
            {
                heldRounds.incrementAndGet();
                permits.acquireUninterruptibly();
            }
        };
        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        final AgentRunner runner = new AgentRunner(new BusySpinIdleStrategy(), errors::add, null, agent);
        AgentRunner.startOnThread(runner);
        final ExecutorService control = Executors.newSingleThreadExecutor();
        try
        {
            awaitHeld(heldRounds, 1);                 // PMD is inside round 1, rounds() == 0
            assertEquals(0, agent.rounds());

            final Future<?> barrier = control.submit((Runnable)agent::awaitQuiescent);
            Thread.sleep(50);                          // let the caller read the round counter
            assertFalse(barrier.isDone(), "returned while a round was in progress");

            permits.release();                         // round 1 (in progress at the call) finishes
            awaitHeld(heldRounds, 2);                 // PMD is inside round 2
            assertEquals(1, agent.rounds());
            Thread.sleep(50);
            assertFalse(barrier.isDone(), "returned after only the round that was in progress at the call");

            permits.release();                         // round 2 (started after the call) finishes
            barrier.get(1, TimeUnit.SECONDS);
            assertTrue(agent.rounds() >= 2);
        }
        finally
        {
            stepping.set(false);
            permits.release(100);
            runner.close();
            control.shutdownNow();
        }
        assertTrue(errors.isEmpty(), () -> "agent errors: " + Arrays.toString(errors.toArray()));
    }

    private static void awaitHeld(final AtomicInteger heldRounds, final int n) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (heldRounds.get() < n)
        {
            assertTrue(System.nanoTime() < deadline, "PMD did not reach round " + n);
            Thread.sleep(1);
        }
    }

    @Test
    void awaitQuiescentWaitsForTwoRoundsOfARunningPmd() throws Exception
    {
        final FakePort idle = new FakePort(0, false);
        final FakePort hooked = new FakePort(1, false);
        final FakePort[] ports = { idle, hooked };
        final PmdAgent agent = new PmdAgent("pmd-thread", ports, stages(ports), 64, 32);
        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        final AtomicLong selfWaitNanos = new AtomicLong(-1);
        // Once, on the PMD thread: awaitQuiescent from the PMD itself must not wait for its own rounds.
        hooked.onFlush = () ->
        {
            hooked.onFlush = null;
            final long t0 = System.nanoTime();
            agent.awaitQuiescent();
            selfWaitNanos.set(System.nanoTime() - t0);
        };

        final AgentRunner runner = new AgentRunner(new BusySpinIdleStrategy(), errors::add, null, agent);
        final Thread thread = AgentRunner.startOnThread(runner);
        try
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (agent.rounds() < 3)
            {
                assertTrue(System.nanoTime() < deadline, "PMD thread never ran a round");
                Thread.onSpinWait();
            }
            for (int i = 0; i < 20; i++)
            {
                final long before = agent.rounds();
                final long t0 = System.nanoTime();
                agent.awaitQuiescent();
                final long took = System.nanoTime() - t0;
                assertTrue(took < TimeUnit.SECONDS.toNanos(1), "awaitQuiescent took " + took / 1_000_000 + " ms");
                assertTrue(agent.rounds() >= before + 2, "returned after fewer than two rounds: " + before +
                    " -> " + agent.rounds());
            }
            assertTrue(selfWaitNanos.get() >= 0, "hook ran");
            assertTrue(selfWaitNanos.get() < TimeUnit.MILLISECONDS.toNanos(100),
                "awaitQuiescent on the PMD thread waited " + selfWaitNanos.get() + " ns");
            assertTrue(idle.flushCount > 0 && hooked.flushCount > 0);
            assertTrue(thread.isAlive());
        }
        finally
        {
            runner.close();
        }
        assertTrue(errors.isEmpty(), () -> "agent errors: " + Arrays.toString(errors.toArray()));

        // Stopped: no PMD thread to wait for.
        assertImmediate(agent);
        assertEquals(agent.rounds(), idle.flushCount, "one flush per port per round");
        assertEquals(agent.rounds(), hooked.flushCount);
    }
}
