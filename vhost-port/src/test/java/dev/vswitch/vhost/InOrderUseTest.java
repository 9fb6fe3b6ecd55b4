package dev.vswitch.vhost;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.vhost.testing.PortGuest;
import dev.vswitch.vhost.testing.TestPublisher;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The switch offers VIRTIO_F_IN_ORDER, so it must use every chain in the order the driver made it available, on
 * both rings, whatever happens to the frames: drops at the source, frames too big, an RX ring that runs dry. A
 * driver that negotiated the bit recycles descriptors by position, so one chain used out of turn would hand it a
 * buffer the device still owns. And the early stores that pull RX buffer lines in ahead of the copies
 * ({@link SplitVirtqueue#claimLinesAhead}) write only what a device may write, consume nothing, and survive
 * hostile descriptors.
 */
class InOrderUseTest
{
    private static final int RING = PortGuest.RING;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final TestPublisher pub = new TestPublisher(64);

    private PortGuest guest(final int id)
    {
        final PortGuest g = new PortGuest(id, true, VirtioNetHdr.LENGTH, 1, 0, -1);
        closeables.add(g);
        return g;
    }

    @AfterEach
    void tearDown() throws Exception
    {
        for (int i = closeables.size() - 1; i >= 0; i--)
        {
            closeables.get(i).close();
        }
    }

    private static byte[] frame(final int length, final int seed)
    {
        final byte[] b = new byte[length];
        for (int i = 0; i < length; i++)
        {
            b[i] = (byte)(seed + i);
        }
        b[0] = 0x02;   // unicast destination
        return b;
    }

    @Test
    void theDeviceOffersInOrder()
    {
        assertTrue(VirtioNet.has(VhostUserDevice.OFFERED_FEATURES, VirtioNet.F_IN_ORDER));
    }

    @Test
    void txChainsAreUsedInAvailOrderWithSourceDropsAmongThem()
    {
        final PortGuest a = guest(1);
        final List<Integer> availOrder = new ArrayList<>();
        availOrder.add(a.tx.addTx(frame(60, 1)));
        final int offMemory = a.tx.allocDesc();   // runs off the end of guest memory: BAD_CHAIN
        a.tx.writeDesc(offMemory, a.mem.gpa() + a.mem.size() - 4, 64, 0, 0);
        a.tx.publishAvail(offMemory);
        availOrder.add(offMemory);
        availOrder.add(a.tx.addTx(frame(200, 2)));
        availOrder.add(a.tx.addTx(new byte[8]));   // runt after the header
        availOrder.add(a.tx.addTx(DriverRing.netHeader(), frame(900, 3), true, 5, 7 + 100, 800));   // indirect
        availOrder.add(a.tx.addTx(frame(1500, 4)));

        // Two calls, so the order must also hold across bursts.
        assertEquals(4, a.port.receive(pub.publisher(), 4));
        assertEquals(2, a.port.receive(pub.publisher(), 4));
        final List<PacketEvent> events = pub.take();
        assertEquals(6, events.size());
        assertEquals(DropReason.BAD_CHAIN, events.get(1).sourceDropReason);
        assertEquals(DropReason.RUNT, events.get(3).sourceDropReason);
        for (final PacketEvent e : events)
        {
            a.port.complete(e);   // the pipeline completes in sequence order, dropped frames included
        }
        pub.release();
        a.port.flush();
        final List<Integer> usedOrder = new ArrayList<>();
        for (final DriverRing.Used u : a.tx.drainUsed())
        {
            usedOrder.add(u.id());
        }
        assertEquals(availOrder, usedOrder);
    }

    @Test
    void rxBuffersAreUsedInAvailOrderAcrossDropsAndRewinds()
    {
        final PortGuest src = guest(1);
        final PortGuest dst = guest(2);
        final List<Integer> availOrder = new ArrayList<>();
        for (final int head : dst.rx.addRxBuffers(2, 1024))
        {
            availOrder.add(head);
        }

        // 3000 bytes need three 1 KB buffers and two are there: RING_FULL, nothing used, nothing skipped.
        src.tx.addTx(frame(3000, 1));
        assertEquals(1, src.port.receive(pub.publisher(), 8));
        PacketEvent e = pub.take().get(0);
        assertFalse(dst.port.transmit(e));
        assertEquals(1, dst.port.counters().drops(DropReason.RING_FULL));
        src.port.complete(e);
        pub.release();
        dst.port.flush();
        assertEquals(0, dst.rx.pendingUsed());

        for (final int head : dst.rx.addRxBuffers(3, 1024))
        {
            availOrder.add(head);
        }
        // The same 3000 bytes now take the first three buffers, then 100 bytes the fourth and 1000 the fifth.
        src.tx.addTx(frame(3000, 2));
        src.tx.addTx(frame(100, 3));
        src.tx.addTx(frame(1000, 4));
        assertEquals(3, src.port.receive(pub.publisher(), 8));
        for (final PacketEvent f : pub.take())
        {
            assertTrue(dst.port.transmit(f));
            src.port.complete(f);
        }
        pub.release();
        dst.port.flush();
        final List<Integer> usedOrder = new ArrayList<>();
        for (final DriverRing.Used u : dst.rx.drainUsed())
        {
            usedOrder.add(u.id());
        }
        assertEquals(availOrder, usedOrder);
    }

    @Test
    void earlyStoresWriteZeroAtTheStartAnd64BytesIntoTheNextBuffersOnly()
    {
        final PortGuest g = guest(1);
        final int[] heads = g.rx.addRxBuffers(3, 2048);
        final int before = g.rxQ.lastAvailIndex();

        g.rxQ.claimLinesAhead(2, 65);

        assertEquals(before, g.rxQ.lastAvailIndex(), "nothing consumed");
        for (int i = 0; i < 3; i++)
        {
            final byte[] buffer = g.mem.getBytes(g.mem.getLong(g.rx.descGpa(heads[i])), 2048);
            for (int b = 0; b < buffer.length; b++)
            {
                final boolean written = i < 2 && (b == 0 || b == 64);
                assertEquals(written ? 0 : DriverRing.POISON, buffer[b], "buffer " + i + " byte " + b);
            }
        }
        // Asking for more than is available stops at what is available.
        g.rxQ.claimLinesAhead(100, 65);
        assertEquals(0, g.mem.getBytes(g.mem.getLong(g.rx.descGpa(heads[2])), 1)[0]);
        assertEquals(before, g.rxQ.lastAvailIndex());
    }

    @Test
    void earlyStoresReachEveryLineOfTheSpanAskedForAndNoFurther()
    {
        final PortGuest g = guest(1);
        final DriverRing rx = g.rx;
        final long buffer = rx.allocBuffer(2048);
        g.mem.fill(buffer, 2048, DriverRing.POISON);
        final int head = rx.allocDesc();            // starts 20 bytes into a line, as a buffer after headroom does
        rx.writeDesc(head, buffer + 20, 2000, VirtioNet.DESC_F_WRITE, 0);
        rx.publishAvail(head);

        g.rxQ.claimLinesAhead(1, 12 + 256);   // a header and a 256-byte frame: 268 bytes from buffer + 20

        final byte[] bytes = g.mem.getBytes(buffer, 2048);
        for (int b = 0; b < bytes.length; b++)
        {
            final boolean written = b == 20 || (b > 20 && b < 20 + 268 && b % 64 == 0);
            assertEquals(written ? 0 : DriverRing.POISON, bytes[b], "byte " + b);
        }
        assertEquals(0, bytes[256], "the line holding the span's last byte (287) is reached");
    }

    @Test
    void earlyStoresSkipEveryDescriptorTheyMayNotWrite()
    {
        final PortGuest g = guest(1);
        final DriverRing rx = g.rx;
        final long tail = g.mem.gpa() + g.mem.size() - 32;   // 32 bytes before the end of guest memory
        g.mem.fill(tail, 32, DriverRing.POISON);
        final long shortBuffer = rx.allocBuffer(64);
        g.mem.fill(shortBuffer, 64, DriverRing.POISON);
        final long readOnly = rx.allocBuffer(128);
        g.mem.fill(readOnly, 128, DriverRing.POISON);

        final int offEnd = rx.allocDesc();          // a writable buffer that runs off the end of memory
        rx.writeDesc(offEnd, tail, 100, VirtioNet.DESC_F_WRITE, 0);
        final int wild = rx.allocDesc();            // nowhere near guest memory
        rx.writeDesc(wild, 0x10, 4096, VirtioNet.DESC_F_WRITE, 0);
        final int ro = rx.allocDesc();              // device-readable: not ours to write
        rx.writeDesc(ro, readOnly, 128, 0, 0);
        final int indirect = rx.allocDesc();        // indirect tables are left to the real walk
        rx.writeDesc(indirect, readOnly, 32, VirtioNet.DESC_F_INDIRECT, 0);
        final int empty = rx.allocDesc();
        rx.writeDesc(empty, shortBuffer, 0, VirtioNet.DESC_F_WRITE, 0);
        final int small = rx.allocDesc();           // 40 bytes: only its first line is stored to
        rx.writeDesc(small, shortBuffer, 40, VirtioNet.DESC_F_WRITE, 0);
        rx.publishAvail(offEnd, wild, ro, indirect, empty, small);
        rx.publishAvail(RING + 3);                  // a head index outside the ring ends the pass
        final int before = g.rxQ.lastAvailIndex();

        g.rxQ.claimLinesAhead(16, 65);

        assertEquals(before, g.rxQ.lastAvailIndex());
        assertFalse(g.rxQ.isBroken(), "a look ahead does not judge the ring; the real pop does");
        final byte[] tailBytes = g.mem.getBytes(tail, 32);
        for (final byte b : tailBytes)
        {
            assertEquals(DriverRing.POISON, b, "nothing written where the whole span does not translate");
        }
        final byte[] ro128 = g.mem.getBytes(readOnly, 128);
        for (final byte b : ro128)
        {
            assertEquals(DriverRing.POISON, b, "device-readable and indirect buffers untouched");
        }
        final byte[] small64 = g.mem.getBytes(shortBuffer, 64);
        assertEquals(0, small64[0]);
        for (int i = 1; i < 64; i++)
        {
            assertEquals(DriverRing.POISON, small64[i], "byte " + i);
        }
    }
}
