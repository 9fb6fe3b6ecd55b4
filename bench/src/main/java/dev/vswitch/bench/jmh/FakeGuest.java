package dev.vswitch.bench.jmh;

import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;

/**
 * The driver side of the benchmarks' rings: built once with {@link DriverRing}, then kept full forever without
 * allocating.
 * <p>
 * Every ring is filled completely at setup (one single-descriptor chain per descriptor), so avail->ring[i % size]
 * holds the same head for ever, and a chain is made available again simply by moving avail->idx forward. The device
 * returns chains in the order it took them (true of both the TX walk and the RX enqueue), so keeping avail->idx at
 * used->idx + size offers every chain the device has returned and never one it still holds. {@link DriverRing}'s own
 * bookkeeping ({@code pollUsed}, which allocates) is not used after setup.
 */
final class FakeGuest
{
    /** Guest RAM per fake guest: rings plus {@link DataPathBenchmark#QUEUE_SIZE} 2 KB buffers, with room to spare. */
    static final long MEMORY_BYTES = 4L << 20;

    private FakeGuest()
    {
    }

    /** A TX ring whose every descriptor holds one chain: a zero virtio_net_hdr (12 bytes) then {@code frame}. */
    static DriverRing txRing(final GuestMemory mem, final byte[] frame)
    {
        final DriverRing ring = DriverRing.allocate(mem, DataPathBenchmark.QUEUE_SIZE);
        for (int i = 0; i < ring.size(); i++)
        {
            ring.addTx(frame);
        }
        DataPathBenchmark.check(ring.freeDescriptors() == 0 && ring.availIdx() == ring.size(), "tx ring not full");
        return ring;
    }

    /** An RX ring whose every descriptor is a 2 KB device-writable buffer (one MTU-sized frame plus header). */
    static DriverRing rxRing(final GuestMemory mem)
    {
        final DriverRing ring = DriverRing.allocate(mem, DataPathBenchmark.QUEUE_SIZE);
        ring.addRxBuffers(ring.size(), DriverRing.DEFAULT_SLOT_BYTES);
        DataPathBenchmark.check(ring.freeDescriptors() == 0 && ring.availIdx() == ring.size(), "rx ring not full");
        return ring;
    }

    /** Offers again every chain the device has returned: avail->idx = used->idx + size. Allocation-free. */
    static void recycle(final DriverRing ring)
    {
        ring.setAvailIdx(ring.usedIdx() + ring.size());
    }
}
