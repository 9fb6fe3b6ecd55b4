package dev.vswitch.pipeline.spi;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One counter a stage registered with {@link StageCounters#counter}: a long with one writer, the PMD thread, read
 * by the metrics endpoint at scrape time. Opaque accesses (as in {@code PortCounters}) keep the long whole for the
 * reader without a fence per frame; incrementing costs what a plain field increment costs.
 */
public final class StageCounter
{
    private static final VarHandle VALUE;

    static
    {
        try
        {
            VALUE = MethodHandles.lookup().findVarHandle(StageCounter.class, "value", long.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    @SuppressWarnings("unused")   // through VALUE
    private long value;

    StageCounter()
    {
    }

    /** PMD thread only (one writer). */
    public void increment()
    {
        VALUE.setOpaque(this, (long)VALUE.getOpaque(this) + 1);
    }

    /** PMD thread only (one writer). */
    public void add(final long delta)
    {
        VALUE.setOpaque(this, (long)VALUE.getOpaque(this) + delta);
    }

    /** Any thread. */
    public long get()
    {
        return (long)VALUE.getOpaque(this);
    }
}
