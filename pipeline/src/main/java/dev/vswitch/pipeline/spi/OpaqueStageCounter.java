package dev.vswitch.pipeline.spi;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The {@link StageCounter} the switch hands out: one long in the switch's counters scheme
 * ({@link dev.vswitch.pipeline.Counters}: one writer, opaque store of opaque load plus delta, opaque reads).
 */
final class OpaqueStageCounter implements StageCounter
{
    private static final VarHandle VALUE;

    static
    {
        try
        {
            VALUE = MethodHandles.lookup().findVarHandle(OpaqueStageCounter.class, "value", long.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    @SuppressWarnings("unused")   // through VALUE
    private long value;

    OpaqueStageCounter()
    {
    }

    @Override
    public void increment()
    {
        VALUE.setOpaque(this, (long)VALUE.getOpaque(this) + 1);
    }

    @Override
    public void add(final long delta)
    {
        VALUE.setOpaque(this, (long)VALUE.getOpaque(this) + delta);
    }

    @Override
    public long get()
    {
        return (long)VALUE.getOpaque(this);
    }
}
