package com.example.vswitch;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An example user stage, built outside the switch: drops every n-th frame it sees (a crude loss emulator), counted
 * as "filtered" at the ingress port. Per frame it only bumps counters: no allocation, no locks, no logging.
 */
public final class DropEveryNthStage implements Stage
{
    private static final VarHandle LONG = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int SEEN = 0;
    private static final int DROPPED = 1;

    private final int n;
    private final long[] counts = new long[2];   // written by the PMD thread only, read by the stats printer
    private int untilDrop;

    public DropEveryNthStage(final int n)
    {
        this.n = n;
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
        bump(SEEN);
        if (--untilDrop == 0)
        {
            untilDrop = n;
            bump(DROPPED);
            event.drop(DropReason.FILTERED);
        }
    }

    private void bump(final int index)
    {
        LONG.setOpaque(counts, index, (long)LONG.getOpaque(counts, index) + 1);
    }

    @Override
    public void report(final StringBuilder out)
    {
        out.append("n=").append(n).append(" seen=").append((long)LONG.getOpaque(counts, SEEN))
            .append(" dropped=").append((long)LONG.getOpaque(counts, DROPPED));
    }
}
