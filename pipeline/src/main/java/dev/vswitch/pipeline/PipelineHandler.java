package dev.vswitch.pipeline;

import com.lmax.disruptor.EventPoller;

/**
 * The per-frame work of a PMD round's middle steps (the round itself, and their order, is {@link PmdAgent}'s):
 * <ol start="2">
 *   <li>{@link #onEvent}: the stages, in order, until one drops the frame (the poller hands each published event);</li>
 *   <li>{@link #deliver}: the frame to the destinations the stages chose ({@link Delivery});</li>
 *   <li>{@link #complete}: the frame's buffers back to its source port.</li>
 * </ol>
 * One stage sequence serves traced and untraced frames: while a {@link FrameTracer} is set for the round, a frame it
 * traces goes through the same sequence with the tracer's record calls in it; for every other frame the tracer is a
 * null local, so the untraced path pays two never-taken branches per stage and no call.
 * <p>
 * <b>One call site per stage position.</b> The first {@link #UNROLLED} stages are called from code written out
 * position by position, not from a loop. HotSpot profiles receiver types per call site: a loop's one
 * {@code process} call sees every stage class, three or more of them, and compiles to a megamorphic interface call
 * (an itable stub and an indirect jump per stage per frame, 7.5 % of a burst's time in JMH); each position's own
 * call sees the one class configured there, and the JIT inlines it behind a type check. The stage array is fixed
 * for the PMD's life, so the profile stays true.
 * <p>
 * A throw while handling one frame is caught here, per frame and per step, so no frame is left half handled and the
 * rest of the burst still runs; a frame whose stages threw is not delivered. The PMD hands the first fault of the
 * burst to its {@link PortSupervisor} afterwards. (A try block costs nothing on the path that does not throw.)
 */
final class PipelineHandler implements EventPoller.Handler<PacketEvent>
{
    private final Stage[] stages;
    /** Stages in the sequence written out position by position (see the class comment); the rest run in a loop. */
    static final int UNROLLED = 8;
    private final int stageCount;
    private final Stage stage0;
    private final Stage stage1;
    private final Stage stage2;
    private final Stage stage3;
    private final Stage stage4;
    private final Stage stage5;
    private final Stage stage6;
    private final Stage stage7;
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
        this.stageCount = stages.length;
        this.stage0 = stageAt(stages, 0);
        this.stage1 = stageAt(stages, 1);
        this.stage2 = stageAt(stages, 2);
        this.stage3 = stageAt(stages, 3);
        this.stage4 = stageAt(stages, 4);
        this.stage5 = stageAt(stages, 5);
        this.stage6 = stageAt(stages, 6);
        this.stage7 = stageAt(stages, 7);
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

    private static Stage stageAt(final Stage[] stages, final int position)
    {
        return position < stages.length ? stages[position] : null;
    }

    /**
     * The one stage sequence, position by position (see the class comment: each {@code process} call here is a
     * call site of its own, on purpose). Stops after the last stage or the first that drops the frame.
     * {@code tracer}: null for an untraced frame.
     */
    private void runStages(final PacketEvent event, final FrameTracer tracer, final int slot)
    {
        if (event.sourceDropReason != DropReason.NONE)
        {
            return;
        }
        try
        {
            final int count = stageCount;
            if (count == 0)
            {
                return;
            }
            before(tracer, slot, 0, event);
            stage0.process(event);
            if (stopped(event, tracer, slot, 0) || count == 1)
            {
                return;
            }
            before(tracer, slot, 1, event);
            stage1.process(event);
            if (stopped(event, tracer, slot, 1) || count == 2)
            {
                return;
            }
            before(tracer, slot, 2, event);
            stage2.process(event);
            if (stopped(event, tracer, slot, 2) || count == 3)
            {
                return;
            }
            before(tracer, slot, 3, event);
            stage3.process(event);
            if (stopped(event, tracer, slot, 3) || count == 4)
            {
                return;
            }
            before(tracer, slot, 4, event);
            stage4.process(event);
            if (stopped(event, tracer, slot, 4) || count == 5)
            {
                return;
            }
            before(tracer, slot, 5, event);
            stage5.process(event);
            if (stopped(event, tracer, slot, 5) || count == 6)
            {
                return;
            }
            before(tracer, slot, 6, event);
            stage6.process(event);
            if (stopped(event, tracer, slot, 6) || count == 7)
            {
                return;
            }
            before(tracer, slot, 7, event);
            stage7.process(event);
            if (stopped(event, tracer, slot, 7))
            {
                return;
            }
            final Stage[] stages = this.stages;
            for (int i = UNROLLED; i < count; i++)
            {
                before(tracer, slot, i, event);
                stages[i].process(event);
                if (stopped(event, tracer, slot, i))
                {
                    return;
                }
            }
        }
        catch (final Throwable t)
        {
            event.outPort = PacketEvent.OUT_DROP;   // not delivered; the fault is the supervisor's to count
            recordFault(event.inPort, t);
        }
    }

    private static void before(final FrameTracer tracer, final int slot, final int position, final PacketEvent event)
    {
        if (tracer != null)
        {
            tracer.beforeStage(slot, position, event);
        }
    }

    /** After the stage at {@code position}: its trace record; true if it dropped the frame (then counted). */
    private boolean stopped(final PacketEvent event, final FrameTracer tracer, final int slot, final int position)
    {
        if (tracer != null)
        {
            tracer.afterStage(slot, position, event);
        }
        if (!event.isDropped())
        {
            return false;
        }
        // Counted at the source port, except the one verdict ForwardStage counts itself.
        if (event.dropReason != DropReason.HAIRPIN)
        {
            ports[event.inPort].counters().drop(event.dropReason);
        }
        return true;
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
