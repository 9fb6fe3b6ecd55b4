package dev.vswitch.vhost.testing;

import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;
import dev.vswitch.vhost.GuestMemoryTable;
import dev.vswitch.vhost.SplitVirtqueue;
import dev.vswitch.vhost.VhostUserPort;

/**
 * One guest on a vhost-user port without sockets: its memfd memory, its port on the switch, and the driver side
 * of its RX (queue 0) and TX (queue 1) rings, published to the port as the control plane would.
 */
public final class PortGuest implements AutoCloseable
{
    public static final int RING = 16;

    public final GuestMemory mem;
    public final GuestMemoryTable table;
    public final VhostUserPort port;
    public final DriverRing rx;
    public final DriverRing tx;
    public final SplitVirtqueue rxQ;
    public final SplitVirtqueue txQ;

    public PortGuest(final int id, final boolean mergeable, final int hdrLen, final int rxRetries, final int base,
        final int callFd)
    {
        mem = GuestMemory.create("vm" + id, 4 << 20, GuestMemory.DEFAULT_GPA, GuestMemory.DEFAULT_UVA);
        table = DeviceQueues.mapTable(mem);   // a second mapping, translated through uva like SET_VRING_ADDR
        port = new VhostUserPort(id, "vm" + id, rxRetries);
        rx = DriverRing.allocate(mem, RING, base);
        tx = DriverRing.allocate(mem, RING, base);
        rxQ = DeviceQueues.of(rx, table, false, callFd);
        txQ = DeviceQueues.of(tx, table, false, -1);
        if (port.isUp())
        {
            throw new IllegalStateException("port up before its rings were published");
        }
        port.publishRing(0, rxQ, hdrLen, mergeable);
        port.publishRing(1, txQ, hdrLen, mergeable);
        if (!port.isUp() || !port.isReceiving())
        {
            throw new IllegalStateException("port not up after its rings were published");
        }
    }

    /** A 12-byte-header guest, two RX retries, rings starting at index 0, no call eventfd. */
    public PortGuest(final int id, final boolean mergeable)
    {
        this(id, mergeable, VirtioNetHdr.LENGTH, 2, 0, -1);
    }

    public PortCounters counters()
    {
        return port.counters();
    }

    @Override
    public void close()
    {
        table.close();
        mem.close();
    }
}
