package dev.vswitch.vhost.testing;

import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;
import dev.vswitch.vhost.GuestMemoryTable;
import dev.vswitch.vhost.SplitVirtqueue;
import dev.vswitch.vhost.VhostUserException;

/**
 * The switch's device side over testkit's driver-side rings and guest memory: the one place vhost-port's tests
 * turn a {@link DriverRing} into a {@link SplitVirtqueue} and a {@link GuestMemory} into a
 * {@link GuestMemoryTable}, without a vhost-user socket in between. (testkit cannot do it itself: it does not
 * depend on vhost-port.)
 */
public final class DeviceQueues
{
    private DeviceQueues()
    {
    }

    /**
     * The device side of {@code ring} over {@code table}, starting at {@link DriverRing#startIndex()}. Ring
     * addresses are translated like the switch does (uva), falling back to gpa for tables made with
     * {@link GuestMemoryTable#ofHostMemory} (which know no uva).
     */
    public static SplitVirtqueue of(final DriverRing ring, final GuestMemoryTable table, final boolean eventIdx,
        final int callFd)
    {
        final int size = ring.size();
        return new SplitVirtqueue(size,
            translate(ring, table, ring.descGpa(), SplitVirtqueue.descTableBytes(size)),
            translate(ring, table, ring.availGpa(), SplitVirtqueue.availRingBytes(size)),
            translate(ring, table, ring.usedGpa(), SplitVirtqueue.usedRingBytes(size)),
            table, eventIdx, callFd, ring.startIndex());
    }

    /** {@link #of(DriverRing, GuestMemoryTable, boolean, int)} over {@link #hostTable} of the ring's memory, no call fd. */
    public static SplitVirtqueue of(final DriverRing ring, final boolean eventIdx)
    {
        return of(ring, hostTable(ring.memory()), eventIdx, -1);
    }

    /**
     * A table over {@code mem} without a second mapping ({@link GuestMemoryTable#ofHostMemory}). Such a table
     * translates uva == gpa (ofHostMemory has no separate uva), so hand its rings host addresses directly, or use
     * {@link #mapTable} to exercise uva translation. It owns nothing: nothing to close.
     */
    public static GuestMemoryTable hostTable(final GuestMemory mem)
    {
        return GuestMemoryTable.ofHostMemory(mem.gpa(), mem.hostBase(), mem.size());
    }

    /**
     * Maps {@code mem} a second time the way the switch does for SET_MEM_TABLE (gpa, size, uva, offset 0, a dup of
     * the memfd). Host addresses from this table differ from {@link GuestMemory#host}, but alias the same bytes.
     * The caller closes the returned table.
     */
    public static GuestMemoryTable mapTable(final GuestMemory mem)
    {
        try
        {
            return GuestMemoryTable.map(1, new long[] {mem.gpa()}, new long[] {mem.size()}, new long[] {mem.uva()},
                new long[] {0}, new int[] {mem.dupFd()});
        }
        catch (final VhostUserException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private static long translate(final DriverRing ring, final GuestMemoryTable table, final long gpa,
        final long len)
    {
        long h = table.uvaToHost(ring.memory().uvaOf(gpa), len);
        if (h == 0)
        {
            h = table.gpaToHost(gpa, len);
        }
        if (h == 0)
        {
            throw new IllegalArgumentException("ring part at gpa 0x" + Long.toHexString(gpa) + " not in table");
        }
        return h;
    }
}
