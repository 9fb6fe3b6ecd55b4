package dev.vswitch.pipeline;

import com.lmax.disruptor.EventPoller;

/**
 * The per-frame work of a PMD round's middle steps (the round itself, and their order, is {@link PmdAgent}'s):
 * <ol start="2">
 *   <li>{@link #onEvent}: the stages, in order, until one drops the frame (the poller hands each published event);</li>
 *   <li>{@link #deliver}: the frame to the destinations the stages chose ({@link Delivery});</li>
 *   <li>{@link #complete}: the frame's buffers back to its source port.</li>
 * </ol>
 * One stage loop serves traced and untraced frames: while a {@link FrameTracer} is set for the round, a frame it
 * traces goes through the same loop with the tracer's record calls in it; for every other frame the tracer is a
 * null local, so the untraced path pays two never-taken branches per stage and no call.
 * <p>
 * A throw while handling one frame is caught here, per frame and per step, so no frame is left half handled and the
 * rest of the burst still runs; a frame whose stages threw is not delivered. The PMD hands the first fault of the
 * burst to its {@link PortSupervisor} afterwards. (A try block costs nothing on the path that does not throw.)
 */
final class PipelineHandler implements EventPoller.Handler<PacketEvent>
{
    private final Stage[] stages;
    private final SwitchPort[] ports;
    private final Delivery delivery;
    /** The tracer while a trace is armed or still has frames to finish, for this round; else null. PMD-owned. */
    private FrameTracer tracing;
    /** First fault of the current burst: the frame's source port and what was thrown. PMD-owned. */
    int faultPort = -1;
    Throwable fault;
    long faults;

    PipelineHandler(final Stage[] stages, final SwitchPort[] ports, final Delivery delivery)
    {
        this.stages = stages;
        this.ports = ports;
        this.delivery = delivery;
    }

    /** Per round, before the stages run: {@code tracer} if it has anything to record this round, else null. */
    void trace(final FrameTracer tracer)
    {
        tracing = tracer != null && tracer.isActive() ? tracer : null;
    }

    /** Step 2 for one frame: the stages. */
    @Override
    public boolean onEvent(final PacketEvent event, final long sequence, final boolean endOfBatch)
    {
        final FrameTracer tracer = tracing;
        if (tracer != null && tracer.traces(event))
        {
            final int slot = tracer.begin(event, sequence);
            runStages(event, tracer, slot);
            tracer.afterStages(slot, event);
        }
        else
        {
            runStages(event, null, 0);
        }
        return true;
    }

    /** The one stage loop. {@code tracer}: null for an untraced frame. */
    private void runStages(final PacketEvent event, final FrameTracer tracer, final int slot)
    {
        if (event.sourceDropReason != DropReason.NONE)
        {
            return;
        }
        try
        {
            final Stage[] stages = this.stages;
            for (int i = 0; i < stages.length; i++)
            {
                if (tracer != null)
                {
                    tracer.beforeStage(slot, i, event);
                }
                stages[i].process(event);
                if (tracer != null)
                {
                    tracer.afterStage(slot, i, event);
                }
                if (event.isDropped())
                {
                    // Counted at the source port, except the one verdict ForwardStage counts itself.
                    if (event.dropReason != DropReason.HAIRPIN)
                    {
                        ports[event.inPort].counters().drop(event.dropReason);
                    }
                    break;
                }
            }
        }
        catch (final Throwable t)
        {
            event.outPort = PacketEvent.OUT_DROP;   // not delivered; the fault is the supervisor's to count
            recordFault(event.inPort, t);
        }
    }

    /** Step 3 for one frame: to its destinations. */
    void deliver(final PacketEvent event, final long sequence)
    {
        final FrameTracer tracer = tracing;
        if (tracer != null && tracer.awaitsDelivery(sequence))
        {
            tracer.beforeDelivery();
            deliver(event);
            tracer.afterDelivery();
        }
        else
        {
            deliver(event);
        }
    }

    private void deliver(final PacketEvent event)
    {
        try
        {
            delivery.deliver(event);
        }
        catch (final Throwable t)
        {
            recordFault(event.inPort, t);
        }
    }

    /** Step 4 for one frame: its buffers back to the source. */
    void complete(final PacketEvent event)
    {
        if (event.completionToken != -1)   // -1: claimed by a port that threw before filling it
        {
            try
            {
                ports[event.inPort].complete(event);
            }
            catch (final Throwable t)
            {
                recordFault(event.inPort, t);
            }
        }
    }

    /** A throw while serving a frame of {@code port}: left for {@link PortSupervisor#afterBurst}. */
    void recordFault(final int port, final Throwable t)
    {
        faults++;
        if (fault == null)
        {
            fault = t;
            faultPort = port;
        }
    }
}
