package dev.vswitch.pipeline;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The switch's one counters scheme, for every count the data path keeps (ports, stages, mirrors, the PMD, the FDB):
 * a fixed array of longs, <b>each with one writer thread</b> (the PMD thread that owns the data path, or where a
 * class says so another single thread, e.g. a mirror's writer), read by any thread (stats, metrics, control).
 * <ul>
 *   <li>Writes are an opaque store of an opaque load plus the delta. One writer needs no atomic read-modify-write
 *   (a lock-prefixed instruction per frame would cost more than the work counted); opaque, unlike plain, keeps a
 *   long whole and keeps the JIT from holding the count in a register across a loop; it adds no fence, so an
 *   increment costs what a plain one does.</li>
 *   <li>Reads are opaque loads: a recent, whole value. Statistics need nothing more, in particular no ordering
 *   against other memory.</li>
 * </ul>
 * What needs ordering is not a counter and does not use this (the PMD's round counter, a quiescence barrier, is a
 * volatile; a trace's published slot count is a volatile store). Allocated once; nothing here allocates.
 */
public final class Counters
{
    private static final VarHandle VALUES = MethodHandles.arrayElementVarHandle(long[].class);
    private final long[] values;

    public Counters(final int count)
    {
        values = new long[count];
    }

    /** Writer thread only. */
    public void add(final int counter, final long delta)
    {
        VALUES.setOpaque(values, counter, (long)VALUES.getOpaque(values, counter) + delta);
    }

    /** Writer thread only. */
    public void increment(final int counter)
    {
        add(counter, 1);
    }

    /** Any thread. */
    public long get(final int counter)
    {
        return (long)VALUES.getOpaque(values, counter);
    }

    public int count()
    {
        return values.length;
    }
}
