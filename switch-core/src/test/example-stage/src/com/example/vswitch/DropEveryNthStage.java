package com.example.vswitch;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.StageCounter;

/**
 * An example user stage, built outside the switch: drops every n-th frame it sees (a crude loss emulator), counted
 * as "filtered" at the ingress port. Per frame it only bumps counters: no allocation, no locks, no logging. Its
 * counters were registered through the stage SPI, so the metrics endpoint exports them too
 * ({@code vswitch_stage_drop_every_nth_seen_total}, {@code ..._dropped_total}).
 */
public final class DropEveryNthStage implements Stage
{
    private final int n;
    private final StageCounter seen;      // incremented by the PMD thread only, read by stats and metrics
    private final StageCounter dropped;
    private int untilDrop;

    public DropEveryNthStage(final int n, final StageCounter seen, final StageCounter dropped)
    {
        this.n = n;
        this.seen = seen;
        this.dropped = dropped;
        this.untilDrop = n;
    }

    @Override
    public String name()
    {
        return DropEveryNthStageFactory.NAME;
    }

    @Override
    public void process(final PacketEvent event)
    {
        seen.increment();
        if (--untilDrop == 0)
        {
            untilDrop = n;
            dropped.increment();
            event.drop(DropReason.FILTERED);
        }
    }

    @Override
    public void report(final StringBuilder out)
    {
        out.append("n=").append(n).append(" seen=").append(seen.get()).append(" dropped=").append(dropped.get());
    }
}
