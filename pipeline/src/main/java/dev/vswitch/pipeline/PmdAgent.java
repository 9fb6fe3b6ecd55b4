package dev.vswitch.pipeline;

import com.lmax.disruptor.BusySpinWaitStrategy;
import com.lmax.disruptor.EventPoller;
import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.Sequence;
import dev.vswitch.pipeline.spi.VlanView;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;
import org.agrona.concurrent.Agent;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A poll-mode driver thread's duty cycle, run to completion. One round is a frame's whole life, in five steps
 * ({@link #round()} reads as exactly that):
 * <ol>
 *   <li><b>receive</b>: each port claims slots of the burst ring, fills them and publishes ({@link PacketPublisher});</li>
 *   <li><b>stages</b>: every published frame through the stages, in order ({@link PipelineHandler#onEvent}); the
 *   last, {@code forward}, decides the destinations;</li>
 *   <li><b>deliver</b>: each frame to its destinations, copied in by their {@link SwitchPort#transmit}
 *   ({@link Delivery});</li>
 *   <li><b>complete</b>: each frame's buffers back to its source port ({@link SwitchPort#complete});</li>
 *   <li><b>flush</b>: every port publishes its batched ring updates and sends the interrupts its peer asked for,
 *   once per round, not once per frame ({@link SwitchPort#flush}).</li>
 * </ol>
 * <b>The burst ring.</b> The Disruptor {@link RingBuffer} is the burst's storage: its {@link PacketEvent}s are
 * allocated once, at start, and reused by every round. The publisher claims slots on this thread, the
 * {@link EventPoller} hands them to the stages on this same thread (no other consumer, no hand-off between
 * threads), and steps 3 and 4 walk the same slots by sequence. A slot is given back to the publisher (the ring's
 * one gating sequence) only once its frame was completed at its source, so a frame's descriptor stays in its slot
 * for the whole round and nothing is copied out of the ring.
 * <p>
 * The round counter doubles as a quiescence barrier for the control plane ({@link DatapathBarrier}).
 * <p>
 * Supervised: anything thrown while serving one port (a bug, or the InternalError HotSpot raises when an Unsafe
 * access hits guest memory that was truncated away) takes that port out of service and the round goes on for the
 * others ({@link PortSupervisor}). The try blocks cost nothing while nothing is thrown. Steps 2 to 4 each keep their
 * own cursor into the ring, so a fault that cuts a step short leaves the rest of the burst to the next round's steps.
 */
public final class PmdAgent implements Agent, DatapathBarrier
{
    private final String name;
    private final SwitchPort[] ports;
    /** The burst ring: pre-allocated events, claimed by the publisher, consumed on this thread (see above). */
    private final RingBuffer<PacketEvent> ring;
    /** Step 2's cursor: the last sequence the stages ran over. */
    private final EventPoller<PacketEvent> poller;
    /** Step 3's cursor: the last sequence delivered. */
    private long delivered = -1;
    /** Step 4's cursor: the last sequence completed at its source. */
    private long completed = -1;
    /** The ring's gating sequence: slots up to it are free for the publisher. Set once per round, after step 4. */
    private final Sequence released = new Sequence();
    private final PacketPublisher publisher;
    private final PipelineHandler handler;
    private final PortSupervisor supervisor;
    private final FrameTracer tracer;
    private final int burst;
    /** Not a counter but the quiescence barrier ({@link #awaitQuiescent}): volatile, stored once per round. */
    private final AtomicLong rounds = new AtomicLong();
    /**
     * In the {@link Counters} scheme (this thread writes): rounds that took at least one frame and the frames they
     * took (how full the bursts run); nanoseconds spent in those rounds (busy share of the CPU, cost per frame).
     */
    private static final int BUSY_ROUNDS = 0;
    private static final int FRAMES_TAKEN = 1;
    private static final int BUSY_NANOS = 2;
    private final Counters stats = new Counters(3);
    /**
     * Poll-to-publish, ns. Two significant digits (values within 1 %): each histogram is 28 KB instead of the 200 KB
     * of three, which the stats thread adds, copies and walks every interval on a CPU it shares with guests (~2 ms of
     * interpreted loops and a C2 recompile per print at three digits, seen with -XX:+PrintCompilation). Single-writer:
     * only this PMD records, so its counts need no atomic add per round, nor the readers' copies atomic loads.
     */
    private final SingleWriterRecorder latency = new SingleWriterRecorder(TimeUnit.SECONDS.toNanos(10), 2);
    private volatile Thread thread;
    /** While set, rounds take no new frames (ports are still flushed): see {@link #hold}. */
    private volatile boolean holding;
    /**
     * Indices into {@code ports} of the ports the rounds poll ({@link SwitchPort#polled}), in port order. Steps 1
     * and 5 and the look-ahead walk only these: the switch keeps free slots for ports added live (8 by default),
     * and counted in the fair share of the ring they would cap each real port's burst (see receive()). PMD-owned;
     * rebuilt by {@link #portsChanged}.
     */
    private int[] polled;
    /** Position in {@link #polled} of the port served first next round. */
    private int firstPort;
    /** Set by {@link #awaitQuiescent}: pass through a VM transition at the next round's start (see round()). */
    private volatile boolean passTransition;
    /** Index of the port the round is serving (-1: running the pipeline), for blame when a fault surfaces late. */
    private int serving = -1;

    /** A VLAN-unaware switch: every port gets every frame unchanged. */
    public PmdAgent(final String name, final SwitchPort[] ports, final Stage[] stages, final int ringSize,
        final int burst)
    {
        this(name, ports, stages, null, ringSize, burst);
    }

    /** @param vlans which VLANs each port carries (bounds delivery); null, or none configured: VLAN-unaware. */
    public PmdAgent(final String name, final SwitchPort[] ports, final Stage[] stages, final VlanView vlans,
        final int ringSize, final int burst)
    {
        this.name = name;
        this.ports = ports;
        this.burst = burst;
        this.ring = RingBuffer.createSingleProducer(PacketEvent::new, ringSize, new BusySpinWaitStrategy());
        this.poller = ring.newPoller();
        ring.addGatingSequences(released);
        this.publisher = new PacketPublisher(ring);
        this.handler = new PipelineHandler(stages, ports,
            new Delivery(ports, vlans != null && vlans.anyVlans() ? vlans : null));
        this.supervisor = new PortSupervisor(name, ports);
        this.tracer = new FrameTracer(stages, ports);
        this.polled = polledPorts(ports);
    }

    private static int[] polledPorts(final SwitchPort[] ports)
    {
        int count = 0;
        for (final SwitchPort port : ports)
        {
            count += port.polled() ? 1 : 0;
        }
        final int[] polled = new int[count];
        for (int i = 0, n = 0; i < ports.length; i++)
        {
            if (ports[i].polled())
            {
                polled[n++] = i;
            }
        }
        return polled;
    }

    /**
     * Call on this PMD's thread (a PMD task, between rounds) after a port of the array it was built with was
     * replaced, e.g. a free slot by a port added live or back: the rounds poll the ports it now holds.
     */
    public void portsChanged()
    {
        polled = polledPorts(ports);
        firstPort = 0;
    }

    @Override
    public void onStart()
    {
        thread = Thread.currentThread();
    }

    @Override
    public int doWork()
    {
        try
        {
            return round();
        }
        catch (final Throwable t)
        {
            // Thrown where no per-port catch stood. HotSpot raises the InternalError for a fault in an Unsafe access
            // from compiled code asynchronously, at the thread's next VM transition (a native call, a safepoint), so
            // it can surface anywhere in the round (seen in EventPoller.poll) or even rounds later; the supervisor
            // finds the port to blame by its state.
            fault(serving, "round", t);
            return 0;
        }
    }

    private static void abortReceive(final SwitchPort port)
    {
        try
        {
            port.abortReceive();
        }
        catch (final Throwable ignore)
        {
            // the supervisor is told of the first throw; this port will be quarantined or reset anyway
        }
    }

    /**
     * Handles a fault that left the round, never throwing: an asynchronous error can be delivered again while this
     * runs (one per faulting access), and AgentRunner ends the thread for any Error that reaches it.
     */
    private void fault(final int port, final String where, final Throwable t)
    {
        Throwable fault = t;
        for (int attempt = 0; fault != null && attempt < 8; attempt++)
        {
            try
            {
                publisher.abortBatch();   // published as dropped frames, polled next round
                for (final SwitchPort p : ports)
                {
                    abortReceive(p);   // a no-op but for a port cut short in the middle of its receive
                }
                supervisor.fault(port, where, fault);
                rounds.set(rounds.get() + 1);   // the round is over: it reads nothing more
                fault = null;
            }
            catch (final Throwable again)
            {
                fault = again;
            }
        }
    }

    /**
     * For the runner ({@link SupervisedRunner}): something thrown outside the round's own guard (in the idle
     * strategy, in an agent sharing the thread, between rounds). Never throws.
     */
    public void onFault(final Throwable t)
    {
        fault(-1, "pmd thread", t);
    }

    /** One round: a frame's whole life, step by step (see the class comment). */
    private int round() throws Exception
    {
        if (passTransition)
        {
            // A control thread is waiting for quiescence, about to free or reuse what it withdrew. A fault from
            // an access to that state may still be pending in HotSpot (delivered only at a VM transition): take it
            // here, between rounds, where nothing is half done, rather than later in the middle of another port.
            passTransition = false;
            Thread.yield();
        }
        final long start = System.nanoTime();
        final int received = holding ? 0 : receive();                       // 1
        if (received > 0 || completed != ring.getCursor())
        {
            if (received > 0)
            {
                prepareTransmit(received);
            }
            handler.trace(tracer);   // one plain read per round: the tracer only while it has frames to record
            final long staged = runStages();                                // 2
            deliver(staged);                                                // 3
            completeSources(staged);                                        // 4
            supervisor.afterBurst(handler);
        }
        flush();                                                            // 5
        endRound(start, received);
        return received;
    }

    /**
     * Step 1: up to a burst from every port into the ring. Starts at a different port each round and caps each
     * port at a fair share of the free ring, so a port that could fill the ring on its own never keeps the ports
     * after it from being polled.
     */
    private int receive()
    {
        final SwitchPort[] ports = this.ports;
        final int[] polled = this.polled;
        final int count = polled.length;
        if (count == 0)
        {
            return 0;
        }
        int received = 0;
        int at = firstPort < count ? firstPort : 0;
        firstPort = at + 1 == count ? 0 : at + 1;
        // Read the ring's free space once per round: every slot is released within the round that claimed it, so
        // only this round's claims use it up. (Asking the ring per port walks its gating sequences each time,
        // which showed up as a third of the PMD's samples in an idle-heavy profile.)
        final int free = publisher.remaining();
        for (int left = count; left > 0; left--)
        {
            final int room = free - received;
            if (room <= 0)
            {
                break;
            }
            final int index = polled[at];
            serving = index;
            try
            {
                received += ports[index].receive(publisher, Math.min(burst, Math.max(1, room / left)));
            }
            catch (final Throwable t)
            {
                received += publisher.abortBatch();   // what it claimed goes through as dropped frames
                abortReceive(ports[index]);
                supervisor.fault(index, "receive", t);
            }
            at = at + 1 == count ? 0 : at + 1;
        }
        serving = -1;
        return received;
    }

    /** Before step 2: destinations may get ready for up to {@code frames} transmits (a hint, no delivery). */
    private void prepareTransmit(final int frames)
    {
        // The round's frames are the last published: the longest says how many lines of each buffer to take ahead.
        final long last = ring.getCursor();
        int longest = 0;
        for (long seq = last - frames + 1; seq <= last; seq++)
        {
            longest = Math.max(longest, ring.get(seq).frameLength);
        }
        final int[] polled = this.polled;
        for (final int i : polled)
        {
            serving = i;
            try
            {
                ports[i].prepareTransmit(frames, longest);
            }
            catch (final Throwable t)
            {
                supervisor.fault(i, "prepareTransmit", t);
            }
        }
        serving = -1;
    }

    /** Step 2: the stages over every published frame; returns the last sequence they ran over. */
    private long runStages() throws Exception
    {
        poller.poll(handler);   // the handler catches per frame: it never leaves a frame half done
        return poller.getSequence().get();
    }

    /** Step 3: each frame the stages are done with, to its destinations. */
    private void deliver(final long staged)
    {
        for (long seq = delivered + 1; seq <= staged; seq++)
        {
            delivered = seq;
            handler.deliver(ring.get(seq), seq);
        }
    }

    /** Step 4: each delivered frame's buffers back to its source; then its slot back to the publisher. */
    private void completeSources(final long staged)
    {
        final long last = Math.min(staged, delivered);
        for (long seq = completed + 1; seq <= last; seq++)
        {
            completed = seq;
            handler.complete(ring.get(seq));
        }
        released.set(completed);
    }

    /** Step 5: every port publishes its ring updates and notifies its peer, once per round. */
    private void flush()
    {
        final SwitchPort[] ports = this.ports;
        final int[] polled = this.polled;
        for (final int i : polled)
        {
            serving = i;
            try
            {
                ports[i].flush();
            }
            catch (final Throwable t)
            {
                supervisor.fault(i, "flush", t);
            }
        }
        serving = -1;
    }

    private void endRound(final long start, final int received)
    {
        // A full volatile store (one fence per round, not per frame): the quiescence barrier relies on it being
        // ordered after every volatile read of port state this round made, under the JMM and not just on x86.
        rounds.set(rounds.get() + 1);
        if (received > 0)
        {
            stats.increment(BUSY_ROUNDS);
            stats.add(FRAMES_TAKEN, received);
            // Every frame of the round waited at most this long between being polled and its used-ring publish.
            final long took = System.nanoTime() - start;
            stats.add(BUSY_NANOS, took);
            latency.recordValueWithCount(took, received);
        }
    }

    /**
     * Stops (true) or resumes (false) taking frames from the ports. Frames wait in the front ends' rings meanwhile
     * instead of being dropped towards a port that is not up: while ports connect one after the other at start-up,
     * and while they disconnect one after the other at shutdown. Once it returns true, {@link #awaitQuiescent}
     * guarantees every frame already taken has been delivered or dropped.
     */
    public void hold(final boolean hold)
    {
        holding = hold;
    }

    public boolean isHolding()
    {
        return holding;
    }

    @Override
    public void onClose()
    {
        thread = null;
    }

    @Override
    public String roleName()
    {
        return name;
    }

    @Override
    public boolean awaitQuiescent(final long timeoutNanos)
    {
        final Thread pmd = thread;
        if (pmd == null || pmd == Thread.currentThread())
        {
            return true;
        }
        passTransition = true;
        // Two increments: the round in progress when the caller withdrew its state may have read it; the next
        // one started after the withdrawal and cannot.
        final long target = rounds.get() + 2;
        final long deadline = System.nanoTime() + timeoutNanos;
        while (rounds.get() < target)
        {
            if (thread == null)
            {
                return true;
            }
            if (System.nanoTime() - deadline > 0)
            {
                return false;
            }
            Thread.onSpinWait();
            Thread.yield();
        }
        return true;
    }

    /** Ports taken out of service after a fault on this PMD, by index (see {@link PortSupervisor}). */
    public long quarantines(final int port)
    {
        return supervisor.quarantines(port);
    }

    public long rounds()
    {
        return rounds.get();
    }

    /** Rounds that took at least one frame. */
    public long busyRounds()
    {
        return stats.get(BUSY_ROUNDS);
    }

    /** Frames taken from all ports, over all rounds. */
    public long framesTaken()
    {
        return stats.get(FRAMES_TAKEN);
    }

    /** Packet trace: armed and disarmed on this PMD's thread, read by the control plane. */
    public FrameTracer tracer()
    {
        return tracer;
    }

    /** Nanoseconds spent in rounds that took at least one frame, over all rounds. */
    public long busyNanos()
    {
        return stats.get(BUSY_NANOS);
    }

    /** Poll-to-publish latency since the previous call (nanoseconds). Allocates; call from the stats thread. */
    public Histogram intervalLatency()
    {
        return latency.getIntervalHistogram();
    }
}
