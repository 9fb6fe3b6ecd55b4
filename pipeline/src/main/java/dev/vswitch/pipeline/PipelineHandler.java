package dev.vswitch.pipeline;

import com.lmax.disruptor.EventPoller;

/** Runs every stage in order over one event, then hands the frame's buffers back to its source port. */
final class PipelineHandler implements EventPoller.Handler<PacketEvent>
{
    private final Stage[] stages;
    private final SwitchPort[] ports;

    PipelineHandler(final Stage[] stages, final SwitchPort[] ports)
    {
        this.stages = stages;
        this.ports = ports;
    }

    @Override
    public boolean onEvent(final PacketEvent event, final long sequence, final boolean endOfBatch)
    {
        final SwitchPort source = ports[event.inPort];
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
        source.complete(event);
        return true;
    }
}
