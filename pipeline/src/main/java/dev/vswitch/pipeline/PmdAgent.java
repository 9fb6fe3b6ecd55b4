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
 */
public final class PmdAgent implements Agent, DatapathBarrier
{
    private static final long QUIESCE_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final String name;
    private final SwitchPort[] ports;
    private final RingBuffer<PacketEvent> ring;
    private final EventPoller<PacketEvent> poller;
    private final PacketPublisher publisher;
    private final PipelineHandler handler;
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
    private int firstPort;

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
        this.tracer = new FrameTracer(stages, ports, handler);
    }

    @Override
    public void onStart()
    {
        thread = Thread.currentThread();
    }

    @Override
    public int doWork() throws Exception
    {
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
        final int free = publisher.remaining();
        for (int left = count; left > 0; left--)
        {
            final int room = free - received;
            if (room <= 0)
            {
                break;
            }
            received += ports[index].receive(publisher, Math.min(burst, Math.max(1, room / left)));
            index = index + 1 == count ? 0 : index + 1;
        }
        if (received > 0)
        {
            for (int i = 0; i < count; i++)
            {
                ports[i].prepareTransmit(received);
            }
            // One plain field read per round: the tracer's handler only while a trace is armed.
            poller.poll(tracer.isArmed() ? tracer : handler);
        }
        for (int i = 0; i < ports.length; i++)
        {
            ports[i].flush();
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
    public void awaitQuiescent()
    {
        final Thread pmd = thread;
        if (pmd == null || pmd == Thread.currentThread())
        {
            return;
        }
        // Two increments: the round in progress when the caller withdrew its state may have read it; the next
        // one started after the withdrawal and cannot.
        final long target = rounds.get() + 2;
        final long deadline = System.nanoTime() + QUIESCE_TIMEOUT_NANOS;
        while (rounds.get() < target)
        {
            if (thread == null)
            {
                return;
            }
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException(name + ": data path did not finish a round within 5 s");
            }
            Thread.onSpinWait();
            Thread.yield();
        }
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
