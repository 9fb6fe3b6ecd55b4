package dev.vswitch.bench.jmh;

import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.vhost.GuestMemoryTable;
import dev.vswitch.vhost.SplitVirtqueue;

/**
 * The switch's device side of a testkit {@link DriverRing}, handed straight to a port without a vhost-user
 * socket: what the in-process benchmarks measure. (vhost-port's tests have the same adapter; testkit cannot hold
 * it because it does not depend on vhost-port.)
 */
final class DeviceQueues
{
    private DeviceQueues()
    {
    }

    /** The device side of {@code ring} over a table of its memory's host mapping, no call fd. */
    static SplitVirtqueue of(final DriverRing ring, final boolean eventIdx)
    {
        final var mem = ring.memory();
        final GuestMemoryTable table = GuestMemoryTable.ofHostMemory(mem.gpa(), mem.hostBase(), mem.size());
        final int size = ring.size();
        // ofHostMemory knows no uva: the ring's parts are found by gpa.
        return new SplitVirtqueue(size,
            table.gpaToHost(ring.descGpa(), SplitVirtqueue.descTableBytes(size)),
            table.gpaToHost(ring.availGpa(), SplitVirtqueue.availRingBytes(size)),
            table.gpaToHost(ring.usedGpa(), SplitVirtqueue.usedRingBytes(size)),
            table, eventIdx, -1, ring.startIndex());
    }
}
