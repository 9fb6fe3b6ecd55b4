package dev.vswitch.pipeline;

import com.lmax.disruptor.EventPoller;

/**
 * Runs every stage in order over one event, then hands the frame's buffers back to its source port.
 * <p>
 * A throw while handling one frame is caught here, per frame, so the poller never re-delivers a half-handled frame
 * and the rest of the batch still runs; the PMD hands the first fault of the poll to its {@link PortSupervisor}
 * afterwards. (A try block costs nothing on the path that does not throw.)
 */
final class PipelineHandler implements EventPoller.Handler<PacketEvent>
{
    private final Stage[] stages;
    private final SwitchPort[] ports;
    /** First fault of the current poll: the frame's source port and what was thrown. PMD-owned. */
    int faultPort = -1;
    Throwable fault;
    long faults;

    PipelineHandler(final Stage[] stages, final SwitchPort[] ports)
    {
        this.stages = stages;
        this.ports = ports;
    }

    @Override
    public boolean onEvent(final PacketEvent event, final long sequence, final boolean endOfBatch)
    {
        final SwitchPort source = ports[event.inPort];
        try
        {
            if (event.sourceDropReason == DropReason.NONE)
            {
                final Stage[] stages = this.stages;
                for (int i = 0; i < stages.length; i++)
                {
                    stages[i].process(event);
                    if (event.isDropped())
                    {
                        // Counted at the source port, except the one verdict ForwardStage counts itself.
                        if (event.dropReason != DropReason.HAIRPIN)
                        {
                            source.counters().drop(event.dropReason);
                        }
                        break;
                    }
                }
            }
        }
        catch (final Throwable t)
        {
            recordFault(event.inPort, t);
        }
        if (event.completionToken != -1)   // -1: claimed by a port that threw before filling it
        {
            try
            {
                source.complete(event);
            }
            catch (final Throwable t)
            {
                recordFault(event.inPort, t);
            }
        }
        return true;
    }

    /** A throw while serving a frame of {@code port}: left for {@link PortSupervisor#afterPoll} (also the tracer's). */
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
