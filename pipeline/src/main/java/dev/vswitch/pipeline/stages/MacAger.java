package dev.vswitch.pipeline.stages;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.EpochClock;

/**
 * Ages the forwarding database on the PMD thread (the only thread that writes it), a little each round so no round
 * pays for the whole table: every {@link #CLOCK_ROUNDS} rounds it reads the clock, and each time the second changes
 * it starts a sweep of the whole table, {@link #SLOTS_PER_ROUND} slots per round. Runs next to the
 * {@link dev.vswitch.pipeline.PmdAgent} in a composite agent. Zero allocation unless an entry is removed.
 */
public final class MacAger implements Agent
{
    static final int CLOCK_ROUNDS = 8;
    static final int SLOTS_PER_ROUND = 1024;

    private final MacTable table;
    private final EpochClock clock;
    private long rounds;
    private long second = Long.MIN_VALUE;
    private int sweepLeft;

    public MacAger(final MacTable table, final EpochClock clock)
    {
        this.table = table;
        this.clock = clock;
    }

    /**
     * Wall-clock milliseconds that never jump: the time at the call plus the monotonic time elapsed since. Aging
     * only compares times within one run, so a clock step (NTP, an operator) must neither age out every entry at
     * once nor keep stale ones forever.
     */
    public static EpochClock monotonicClock()
    {
        final long offsetMillis = System.currentTimeMillis() - System.nanoTime() / 1_000_000;
        return () -> offsetMillis + System.nanoTime() / 1_000_000;
    }

    @Override
    public int doWork()
    {
        if ((++rounds & (CLOCK_ROUNDS - 1)) == 0)
        {
            final long now = clock.time() / 1000;
            if (now != second)
            {
                second = now;
                if (sweepLeft == 0)
                {
                    sweepLeft = table.sweepSlots();
                }
                table.age(now, 0);   // learning stamps entries with the new second from now on
            }
        }
        if (sweepLeft == 0)
        {
            return 0;
        }
        final int slots = Math.min(sweepLeft, SLOTS_PER_ROUND);
        sweepLeft -= slots;
        return table.age(second, slots);
    }

    @Override
    public String roleName()
    {
        return "fdb-ager";
    }
}
