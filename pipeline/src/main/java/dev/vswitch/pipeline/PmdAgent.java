package dev.vswitch.pipeline;

import com.lmax.disruptor.BusySpinWaitStrategy;
import com.lmax.disruptor.EventPoller;
import com.lmax.disruptor.RingBuffer;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.agrona.concurrent.Agent;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A poll-mode driver thread's duty cycle, run to completion: each round takes up to a burst from every port into
 * the Disruptor ring, runs the stages over everything published (the same thread, through an {@link EventPoller}),
 * then flushes every port so used-ring updates and interrupts go out once per round, not once per frame.
 * <p>
 * The round counter doubles as a quiescence barrier for the control plane ({@link DatapathBarrier}).
 * <p>
 * Supervised: anything thrown while serving one port (a bug, or the InternalError HotSpot raises when an Unsafe
 * access hits guest memory that was truncated away) takes that port out of service and the round goes on for the
 * others ({@link PortSupervisor}). The try blocks cost nothing while nothing is thrown.
 */
public final class PmdAgent implements Agent, DatapathBarrier
{
    private final String name;
    private final SwitchPort[] ports;
    private final RingBuffer<PacketEvent> ring;
    private final EventPoller<PacketEvent> poller;
    private final PacketPublisher publisher;
    private final PipelineHandler handler;
    private final PortSupervisor supervisor;
    private final FrameTracer tracer;
    private final int burst;
    private final AtomicLong rounds = new AtomicLong();
    /** Rounds that took at least one frame, and the frames they took: how full the bursts run. PMD-written. */
    private final AtomicLong busyRounds = new AtomicLong();
    private final AtomicLong framesTaken = new AtomicLong();
    /** Nanoseconds spent in rounds that took frames: busy share of the CPU and cost per frame. PMD-written. */
    private final AtomicLong busyNanos = new AtomicLong();
    private final Recorder latency = new Recorder(TimeUnit.SECONDS.toNanos(10), 3);
    private volatile Thread thread;
    /** While set, rounds take no new frames (ports are still flushed): see {@link #hold}. */
    private volatile boolean holding;
    private int firstPort;
    /** Set by {@link #awaitQuiescent}: pass through a VM transition at the next round's start (see round()). */
    private volatile boolean passTransition;
    /** Index of the port the round is serving (-1: running the pipeline), for blame when a fault surfaces late. */
    private int serving = -1;

    public PmdAgent(final String name, final SwitchPort[] ports, final Stage[] stages, final int ringSize,
        final int burst)
    {
        this.name = name;
        this.ports = ports;
        this.burst = burst;
        this.ring = RingBuffer.createSingleProducer(PacketEvent::new, ringSize, new BusySpinWaitStrategy());
        this.poller = ring.newPoller();
        ring.addGatingSequences(poller.getSequence());
        this.publisher = new PacketPublisher(ring);
        this.handler = new PipelineHandler(stages, ports);
        this.supervisor = new PortSupervisor(name, ports);
        this.tracer = new FrameTracer(stages, ports, handler);
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
        int received = 0;
        final SwitchPort[] ports = this.ports;
        final int count = ports.length;
        // Start at a different port each round and cap each port at a fair share of the free ring, so a port that
        // could fill the ring on its own never keeps the ports after it from being polled.
        int index = firstPort;
        firstPort = firstPort + 1 == count ? 0 : firstPort + 1;
        // Read the ring's free space once per round: every event is consumed within the round that published it,
        // so only this round's claims use it up. (Asking the ring per port walks its gating sequences each time,
        // which showed up as a third of the PMD's samples in an idle-heavy profile.)
        final int free = holding ? 0 : publisher.remaining();
        for (int left = count; left > 0; left--)
        {
            final int room = free - received;
            if (room <= 0)
            {
                break;
            }
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
            index = index + 1 == count ? 0 : index + 1;
        }
        if (received > 0)
        {
            for (int i = 0; i < count; i++)
            {
                serving = i;
                try
                {
                    ports[i].prepareTransmit(received);
                }
                catch (final Throwable t)
                {
                    supervisor.fault(i, "prepareTransmit", t);
                }
            }
            serving = -1;
            // Both catch per frame (they never leave a frame half done) and leave what they caught in the handler.
            // One plain field read per round: the tracer's handler only while a trace is armed.
            poller.poll(tracer.isArmed() ? tracer : handler);
            supervisor.afterPoll(handler);
        }
        for (int i = 0; i < ports.length; i++)
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
        // A full volatile store (one fence per round, not per frame): the quiescence barrier relies on it being
        // ordered after every volatile read of port state this round made, under the JMM and not just on x86.
        rounds.set(rounds.get() + 1);
        if (received > 0)
        {
            busyRounds.setOpaque(busyRounds.getOpaque() + 1);
            framesTaken.setOpaque(framesTaken.getOpaque() + received);
            // Every frame of the round waited at most this long between being polled and its used-ring publish.
            final long took = System.nanoTime() - start;
            busyNanos.setOpaque(busyNanos.getOpaque() + took);
            latency.recordValueWithCount(took, received);
        }
        return received;
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
        return busyRounds.getOpaque();
    }

    /** Frames taken from all ports, over all rounds. */
    public long framesTaken()
    {
        return framesTaken.getOpaque();
    }

    /** Packet trace: armed and disarmed on this PMD's thread, read by the control plane. */
    public FrameTracer tracer()
    {
        return tracer;
    }

    /** Nanoseconds spent in rounds that took at least one frame, over all rounds. */
    public long busyNanos()
    {
        return busyNanos.getOpaque();
    }

    /** Poll-to-publish latency since the previous call (nanoseconds). Allocates; call from the stats thread. */
    public Histogram intervalLatency()
    {
        return latency.getIntervalHistogram();
    }
}
