package dev.vswitch.pipeline;

import dev.vswitch.pipeline.stages.AclRule;
import dev.vswitch.pipeline.stages.AclStage;
import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.stages.RateLimitStage;
import dev.vswitch.pipeline.stages.ForwardStage;
import dev.vswitch.pipeline.stages.MacAger;
import dev.vswitch.pipeline.stages.MacLearningStage;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.testing.FakePort;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import dev.vswitch.testkit.AllocationProbe;
import org.agrona.concurrent.CachedEpochClock;
import org.agrona.concurrent.CompositeAgent;
import org.junit.jupiter.api.Test;

import static dev.vswitch.testkit.frames.FrameBuilder.BROADCAST;
import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The per-frame path must not allocate: measured with the JVM's per-thread allocation counter. */
class ZeroAllocationTest
{
    static final long A = 0x5254_0000_000AL;
    static final long B = 0x5254_0000_000BL;
    static final int FRAMES = 100_000;
    static final long LIMIT_BYTES = 64 * 1024;

    private static int passes(final OffHeapFrame[] frames, final int[] inPorts, final PacketEvent e,
        final Stage classify, final Stage learn, final Stage forward, final Delivery delivery, final int n)
    {
        int dropped = 0;
        for (int i = 0; i < n; i++)
        {
            final int f = i & 3;
            frames[f].describe(e, inPorts[f]);
            classify.process(e);
            learn.process(e);
            forward.process(e);
            delivery.deliver(e);
            dropped += e.isDropped() ? 1 : 0;
        }
        return dropped;
    }

    static volatile Object sink;

    @Test
    void allocationCounterSeesAllocations()
    {
        assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");
        final AllocationProbe probe = AllocationProbe.start();
        sink = new byte[200_000];
        assertTrue(probe.bytes() >= 200_000, "the measurement below would be vacuous");
    }

    @Test
    void classifyLearnForwardDoesNotAllocatePerFrame()
    {
        assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");
        final FakePort p0 = new FakePort(0, false);
        final FakePort p1 = new FakePort(1, false);
        final SwitchPort[] ports = { p0, p1 };
        try (MacTable table = MacTable.inMemory(64))
        {
            final Stage classify = new ClassifyStage();
            final Stage learn = new MacLearningStage(table);
            final Stage forward = new ForwardStage(table, ports);
            final Delivery delivery = new Delivery(ports, null);
            // Unicast both ways (after the first frames, both MACs are known: steady-state learning), a
            // tagged unicast, and a broadcast that floods.
            final OffHeapFrame[] frames = {
                ethernet(B, A).etherType(0x0800).ipv4(5, 6).tcp().pad(26).as(OffHeapFrame::contiguous),
                OffHeapFrame.split(ethernet(A, B).etherType(0x86dd).ipv6(17).udp().pad(10).bytes(), 5, 9),
                ethernet(B, A).tag(0x8100, 5).etherType(0x0800).ipv4(5, 17).udp().as(OffHeapFrame::contiguous),
                ethernet(BROADCAST, B).etherType(0x0806).arp(1, B, 0).pad(18).as(OffHeapFrame::contiguous),
            };
            final int[] inPorts = { 0, 1, 0, 1 };
            final PacketEvent e = new PacketEvent();

            // Warm-up: learns A on (0, 0), B on (0, 1), A on (5, 0), and lets the JIT compile the path.
            passes(frames, inPorts, e, classify, learn, forward, delivery, 50_000);
            final long learned = table.learnedTotal();
            assertEquals(3, learned);
            final int tx0 = p0.transmitCount;
            final int tx1 = p1.transmitCount;

            final AllocationProbe probe = AllocationProbe.start();
            final int dropped = passes(frames, inPorts, e, classify, learn, forward, delivery, FRAMES);
            final long bytes = probe.bytes();

            assertEquals(0, dropped);
            assertEquals(learned, table.learnedTotal(), "steady state: no new learning during measurement");
            // Per 4 frames: port 1 gets frame 0 (unicast) and 2 (B unknown on VLAN 5: flooded), port 0 gets 1 and 3.
            assertEquals(FRAMES / 2, p0.transmitCount - tx0);
            assertEquals(FRAMES / 2, p1.transmitCount - tx1);
            assertTrue(bytes < LIMIT_BYTES, "per-frame path allocated " + bytes + " bytes over " + FRAMES +
                " frames (" + (double)bytes / FRAMES + " B/frame)");
        }
    }

    @Test
    void pmdRoundDoesNotAllocatePerFrame() throws Exception
    {
        assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");
        final FakePort p0 = new FakePort(0, false);
        final FakePort p1 = new FakePort(1, false);
        p0.enqueue(ethernet(B, A).etherType(0x0800).ipv4(5, 6).tcp().as(OffHeapFrame::contiguous)).loop();
        p1.enqueue(OffHeapFrame.split(ethernet(A, B).etherType(0x0800).ipv4(5, 6).tcp().bytes(), 5, 9)).loop();
        final SwitchPort[] ports = { p0, p1 };
        try (MacTable table = MacTable.inMemory(64))
        {
            final Stage[] stages = {
                new ClassifyStage(), new MacLearningStage(table), new ForwardStage(table, ports) };
            final PmdAgent agent = new PmdAgent("pmd", ports, stages, 256, 32);
            for (int i = 0; i < 2_000; i++)
            {
                agent.doWork();
            }
            agent.intervalLatency();   // swaps the recorder's histograms once outside the measurement

            long frames = 0;
            final AllocationProbe probe = AllocationProbe.start();
            for (int i = 0; i < 1_600; i++)
            {
                frames += agent.doWork();
            }
            final long bytes = probe.bytes();

            assertEquals(1_600 * 64, frames);
            assertTrue(bytes < LIMIT_BYTES, "PMD rounds allocated " + bytes + " bytes over " + frames + " frames");
        }
    }

    @Test
    void agingSweepsAndLastSeenRefreshesDoNotAllocate() throws Exception
    {
        assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");
        final FakePort p0 = new FakePort(0, false);
        final FakePort p1 = new FakePort(1, false);
        p0.enqueue(ethernet(B, A).etherType(0x0800).ipv4(5, 6).tcp().as(OffHeapFrame::contiguous)).loop();
        p1.enqueue(ethernet(A, B).etherType(0x0800).ipv4(5, 6).tcp().as(OffHeapFrame::contiguous)).loop();
        final SwitchPort[] ports = { p0, p1 };
        final CachedEpochClock clock = new CachedEpochClock();
        clock.update(1_000_000);
        try (MacTable table = MacTable.open(4096, 1024, 300, new String[] { "p0", "p1" }, null, clock))
        {
            final Stage[] stages = {
                new ClassifyStage(), new MacLearningStage(table), new ForwardStage(table, ports) };
            final PmdAgent pmd = new PmdAgent("pmd", ports, stages, 256, 32);
            final CompositeAgent agent = new CompositeAgent(pmd, new MacAger(table, clock));
            for (int i = 0; i < 20_000; i++)
            {
                agent.doWork();
                clock.advance(10);   // a new second every 100 rounds: a refresh per entry and a sweep start
            }
            pmd.intervalLatency();

            final AllocationProbe probe = AllocationProbe.start();
            for (int i = 0; i < 4_000; i++)
            {
                agent.doWork();
                clock.advance(10);
            }
            final long bytes = probe.bytes();

            assertEquals(2, table.size());
            assertEquals(0, table.agedTotal(), "both stations talk every round");
            assertTrue(bytes < LIMIT_BYTES, "rounds with aging allocated " + bytes + " bytes");
        }
    }

    @Test
    void aclRateLimitAndAHeadRewriteDoNotAllocatePerFrame()
    {
        assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");
        final Stage classify = new ClassifyStage();
        final AclStage acl = new AclStage(java.util.List.of(
            new AclRule(true, "drop ethertype=0x86dd").etherType(0x86dd),
            new AclRule(true, "drop udp 53").ipProto(17).dstPort(53),
            new AclRule(false, "allow 10/8 tcp 80").srcIp(0x0a00_0000, 8).ipProto(6).dstPort(80),
            new AclRule(true, "drop vlan 5 from port 0").vlan(5).inPort(0)), false);
        // Port 1 policed at 1 Mpps on a clock that moves 100 ns per frame: a policed frame every 4 frames earns 0.4
        // of a frame, so some pass and some drop whatever the machine's speed (a real clock made this flaky).
        final org.agrona.concurrent.CachedNanoClock clock = new org.agrona.concurrent.CachedNanoClock();
        final RateLimitStage limit = new RateLimitStage("rate-limit", clock,
            2, new int[] { 1 }, new String[] { "p1" }, 1_000_000, 32);
        final OffHeapFrame[] frames = {
            ethernet(B, A).etherType(0x0800).ipv4(5, 6).tcp().pad(26).as(OffHeapFrame::contiguous),
            OffHeapFrame.split(ethernet(A, B).etherType(0x86dd).ipv6(17).udp().pad(10).bytes(), 5, 9),
            ethernet(B, A).tag(0x8100, 5).etherType(0x0800).ipv4(5, 17).udp().as(OffHeapFrame::contiguous),
            OffHeapFrame.split(ethernet(A, B).etherType(0x0800).ipv4(5, 17).udp().pad(200).bytes(), 20, 30),
        };
        final int[] inPorts = { 0, 1, 0, 1 };
        final PacketEvent e = new PacketEvent();
        final int n = 50_000;
        final long[] outcome = new long[3];   // dropped by acl, by rate-limit, committed
        for (int round = 0; round < 2; round++)   // the first round warms up and compiles
        {
            java.util.Arrays.fill(outcome, 0);
            final AllocationProbe probe = AllocationProbe.start();
            for (int i = 0; i < n; i++)
            {
                final int f = i & 3;
                clock.advance(100);
                frames[f].describe(e, inPorts[f]);
                classify.process(e);
                acl.process(e);
                if (e.isDropped())
                {
                    outcome[0]++;
                    continue;
                }
                limit.process(e);
                if (e.isDropped())
                {
                    outcome[1]++;
                    continue;
                }
                e.head.putByte(0, (byte)0x02);   // a modify stage: rewrite the destination MAC's first octet
                outcome[2] += e.commitHead() ? 1 : 0;
            }
            final long bytes = probe.bytes();
            if (round == 1)
            {
                System.out.printf("acl + rate-limit + commitHead: %d bytes allocated over %d frames (%s)%n", bytes, n,
                    java.util.Arrays.toString(outcome));
                // Per 4 frames: frame 1 (IPv6) and frame 2 (VLAN 5 from port 0) hit drop rules; frame 0 passes;
                // frame 3 comes from the policed port.
                assertEquals(n / 2, outcome[0]);
                assertTrue(outcome[1] > 0 && outcome[2] >= n / 4, java.util.Arrays.toString(outcome));
                assertEquals(n / 4, outcome[1] + outcome[2] - n / 4);
                assertTrue(bytes < LIMIT_BYTES, "acl/rate-limit/commitHead allocated " + bytes + " bytes over " + n +
                    " frames (" + (double)bytes / n + " B/frame)");
            }
        }
    }
}
