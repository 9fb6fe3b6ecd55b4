package dev.vswitch.vhost;

import dev.vswitch.pipeline.offload.OffloadPolicy;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import dev.vswitch.vhost.testing.DeviceQueues;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;
import dev.vswitch.vhost.testing.TestPublisher;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.vswitch.testkit.frames.Checksums.fold;
import static dev.vswitch.testkit.frames.Checksums.sum;
import static dev.vswitch.vhost.VirtioNet.bit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Offloads across the switch between two guests: a partial checksum or a TCP super-frame reaches a guest that
 * negotiated the same offload untouched (header passed through), and a guest that did not gets what it can take:
 * the checksum completed, or MSS-sized segments with complete checksums. Checked with an independent checksum.
 */
class VhostUserOffloadTest
{
    private static final int RING = 64;
    private static final long BASE = bit(VirtioNet.F_VERSION_1);
    private static final long HOST_OFFLOADS = bit(VirtioNet.F_CSUM) | bit(VirtioNet.F_HOST_TSO4) |
        bit(VirtioNet.F_HOST_TSO6);
    private static final long GUEST_OFFLOADS = bit(VirtioNet.F_GUEST_CSUM) | bit(VirtioNet.F_GUEST_TSO4) |
        bit(VirtioNet.F_GUEST_TSO6);
    private static final int CSUM_START = 34;
    private static final int CSUM_OFFSET = 16;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final TestPublisher pub = new TestPublisher(64);

    private final class Guest implements AutoCloseable
    {
        final GuestMemory mem = GuestMemory.create("g" + closeables.size(), 8 << 20, GuestMemory.DEFAULT_GPA,
            GuestMemory.DEFAULT_UVA);
        final GuestMemoryTable table = DeviceQueues.mapTable(mem);
        final VhostUserPort port;
        final DriverRing rx = DriverRing.allocate(mem, RING, 0);
        final DriverRing tx = DriverRing.allocate(mem, RING, 0);

        Guest(final int id, final long features, final int mtu)
        {
            port = new VhostUserPort(id, "g" + id, 0, mtu);
            port.publishRing(0, DeviceQueues.of(rx, table, false, -1), BASE | features);
            port.publishRing(1, DeviceQueues.of(tx, table, false, -1), BASE | features);
            closeables.add(this);
        }

        @Override
        public void close()
        {
            table.close();
            mem.close();
        }
    }

    @AfterEach
    void tearDown() throws Exception
    {
        for (final AutoCloseable c : closeables)
        {
            c.close();
        }
    }

    // ------------------------------------------------------------------ frames

    /** An Ethernet/IPv4/TCP frame as Linux hands it to virtio-net with CHECKSUM_PARTIAL: the TCP checksum field
     *  holds the folded pseudo-header sum, the IP header checksum is complete. */
    private static byte[] tcpFrame(final int payloadLength)
    {
        final ByteBuffer b = ByteBuffer.allocate(54 + payloadLength);
        b.put(new byte[] {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}).putShort((short)0x0800);
        b.put((byte)0x45).put((byte)0).putShort((short)(40 + payloadLength)).putShort((short)0x1000)
            .putShort((short)0x4000).put((byte)64).put((byte)6).putShort((short)0).putInt(0x0a000001).putInt(0x0a000002);
        b.putShort(24, (short)~fold(sum(b.array(), 14, 20, 0)));
        b.putShort((short)40000).putShort((short)5201).putInt(1000).putInt(0).put((byte)0x50).put((byte)0x18)
            .putShort((short)65535).putShort((short)0).putShort((short)0);
        for (int i = 0; i < payloadLength; i++)
        {
            b.put((byte)(i * 7 + 3));
        }
        final byte[] f = b.array();
        final long pseudo = 0x0a00L + 0x0001 + 0x0a00 + 0x0002 + 6 + (20 + payloadLength);
        final int seeded = fold(pseudo);
        f[CSUM_START + CSUM_OFFSET] = (byte)(seeded >>> 8);
        f[CSUM_START + CSUM_OFFSET + 1] = (byte)seeded;
        return f;
    }

    /** Independent verification of a complete IPv4 + TCP frame's checksums. */
    private static void assertChecksumsValid(final byte[] frame)
    {
        assertEquals(0xffff, fold(sum(frame, 14, 20, 0)), "IPv4 header checksum");
        final int tcpLength = ((frame[16] & 0xff) << 8 | (frame[17] & 0xff)) - 20;
        final long pseudo = sum(frame, 26, 8, 0) + 6 + tcpLength;
        assertEquals(0xffff, fold(sum(frame, 34, tcpLength, pseudo)), "TCP checksum");
    }

    private PacketEvent receiveOne(final Guest src)
    {
        assertEquals(1, src.port.receive(pub.publisher(), pub.remaining()));
        final List<PacketEvent> events = pub.take();
        assertEquals(1, events.size());
        return events.get(0);
    }

    private static byte[] frameOf(final DriverRing.Used used)
    {
        return Arrays.copyOfRange(used.data(), VirtioNetHdr.LENGTH, used.len());
    }

    // ------------------------------------------------------------------ checksum

    @Test
    void partialChecksumPassesToAGuestWithGuestCsum()
    {
        final Guest a = new Guest(1, HOST_OFFLOADS, 1500);
        final Guest b = new Guest(2, GUEST_OFFLOADS, 1500);
        b.rx.addRxBuffers(1, 2048);
        final byte[] frame = tcpFrame(100);
        a.tx.addTx(DriverRing.netHeader(1, 0, 54, 0, CSUM_START, CSUM_OFFSET, 0), frame, false);
        assertTrue(b.port.transmit(receiveOne(a)));
        b.port.flush();
        final DriverRing.Used used = b.rx.drainUsed().get(0);
        final ByteBuffer hdr = ByteBuffer.wrap(used.data(), 0, 12).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, hdr.get(0), "NEEDS_CSUM passed through");
        assertEquals(CSUM_START, hdr.getShort(6));
        assertEquals(CSUM_OFFSET, hdr.getShort(8));
        assertArrayEquals(frame, frameOf(used), "frame untouched: the receiving guest completes the checksum");
        assertEquals(0, b.port.counters().get(PortCounters.TX_CSUM_FILLED));
    }

    @Test
    void partialChecksumIsCompletedForAGuestWithout()
    {
        final Guest a = new Guest(1, HOST_OFFLOADS, 1500);
        final Guest b = new Guest(2, 0, 1500);
        // The checksum field sits at bytes 62-63 of what is written (12 header + 50): a 63-byte first buffer
        // splits it across two buffers, so the patch has to follow the scatter list.
        b.rx.addRxBuffers(1, 63);
        b.rx.addRxBuffers(1, 2048);
        final byte[] frame = tcpFrame(333);
        a.tx.addTx(DriverRing.netHeader(1, 0, 54, 0, CSUM_START, CSUM_OFFSET, 0), frame, false);
        final PacketEvent e = receiveOne(a);
        b.port.publishRing(0, DeviceQueues.of(b.rx, b.table, false, -1), BASE | bit(VirtioNet.F_MRG_RXBUF));
        assertTrue(b.port.transmit(e));
        b.port.flush();
        final ByteArrayOutputStream got = new ByteArrayOutputStream();
        for (final DriverRing.Used u : b.rx.drainUsed())
        {
            got.write(u.data(), 0, u.len());
        }
        final byte[] all = got.toByteArray();
        assertEquals(0, all[0], "no NEEDS_CSUM towards a guest without GUEST_CSUM");
        final byte[] delivered = Arrays.copyOfRange(all, 12, all.length);
        assertChecksumsValid(delivered);
        assertEquals(1, b.port.counters().get(PortCounters.TX_CSUM_FILLED));
        // The source guest's memory was only read: its frame still holds the partial sum.
        assertFalse(Arrays.equals(frame, delivered));
    }

    @Test
    void partialChecksumPointingOutsideTheFrameIsBadHeader()
    {
        final Guest a = new Guest(1, HOST_OFFLOADS, 1500);
        a.tx.addTx(DriverRing.netHeader(1, 0, 54, 0, 150, 16, 0), tcpFrame(100), false);   // 150 + 16 + 2 > 154
        final PacketEvent e = receiveOne(a);
        assertEquals(DropReason.BAD_HEADER, e.sourceDropReason);
    }

    @Test
    void anOffloadNotNegotiatedIsBadHeader()
    {
        final Guest a = new Guest(1, bit(VirtioNet.F_CSUM), 1500);   // checksum offload only, no TSO
        a.tx.addTx(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 54, 1448, CSUM_START, CSUM_OFFSET, 0),
            tcpFrame(3000), false);
        assertEquals(DropReason.BAD_HEADER, receiveOne(a).sourceDropReason);
        pub.release();
        final Guest b = new Guest(2, bit(VirtioNet.F_HOST_TSO4), 1500);   // TSO without the checksum offload
        b.tx.addTx(DriverRing.netHeader(1, 0, 54, 0, CSUM_START, CSUM_OFFSET, 0), tcpFrame(100), false);
        assertEquals(DropReason.BAD_HEADER, receiveOne(b).sourceDropReason);
    }

    @Test
    void theHeaderOfAFrontEndThatNegotiatedNoOffloadsAsksNothing()
    {
        // Such a front end must send all-zero headers; what it writes there asks nothing of the switch (the frame
        // goes on as a plain frame, as DPDK's vhost treats it), and the header's line is never read.
        final Guest a = new Guest(1, 0, 1500);
        final Guest b = new Guest(2, 0, 1500);
        final byte[] frame = tcpFrame(100);
        a.tx.addTx(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 54, 1448, CSUM_START, CSUM_OFFSET, 0), frame,
            false);
        final PacketEvent e = receiveOne(a);
        assertEquals(DropReason.NONE, e.sourceDropReason);
        assertEquals(0, e.vnetFlags);
        assertEquals(VirtioNetHdr.GSO_NONE, e.gsoType);
        assertEquals(0, e.gsoSize);
        assertEquals(frame.length, e.frameLength);
        b.rx.addRx(4096);
        assertTrue(b.port.transmit(e));
        b.port.flush();
        assertArrayEquals(frame, frameOf(b.rx.drainUsed().get(0)), "delivered unchanged");
    }

    @Test
    void superFrameWithoutAPartialChecksumIsBadHeader()
    {
        final Guest a = new Guest(1, HOST_OFFLOADS, 1500);
        a.tx.addTx(DriverRing.netHeader(0, VirtioNetHdr.GSO_TCPV4, 54, 1448, 0, 0, 0), tcpFrame(3000), false);
        assertEquals(DropReason.BAD_HEADER, receiveOne(a).sourceDropReason);
    }

    // ------------------------------------------------------------------ TSO

    @Test
    void superFramePassesWholeToAGuestWithGuestTso()
    {
        final Guest a = new Guest(1, HOST_OFFLOADS, 1500);
        final Guest b = new Guest(2, GUEST_OFFLOADS, 1500);
        b.rx.addRxBuffers(1, 16384);
        final byte[] frame = tcpFrame(10_000);
        a.tx.addTx(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 54, 1448, CSUM_START, CSUM_OFFSET, 0), frame, false);
        final PacketEvent e = receiveOne(a);
        assertEquals(1, a.port.counters().get(PortCounters.RX_GSO));
        assertTrue(b.port.transmit(e));
        b.port.flush();
        final DriverRing.Used used = b.rx.drainUsed().get(0);
        final ByteBuffer hdr = ByteBuffer.wrap(used.data(), 0, 12).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(VirtioNetHdr.GSO_TCPV4, hdr.get(1));
        assertEquals(1448, hdr.getShort(4));
        assertArrayEquals(frame, frameOf(used), "one 10 KB frame crossed the switch unsegmented");
        assertEquals(1, b.port.counters().get(PortCounters.TX_GSO));
    }

    @Test
    void superFrameIsSegmentedForAGuestWithoutTso()
    {
        final Guest a = new Guest(1, HOST_OFFLOADS, 1500);
        final Guest b = new Guest(2, 0, 1500);
        b.rx.addRxBuffers(10, 2048);
        final byte[] frame = tcpFrame(10_000);
        a.tx.addTx(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 54, 1448, CSUM_START, CSUM_OFFSET, 0), frame, false);
        assertTrue(b.port.transmit(receiveOne(a)));
        b.port.flush();
        final List<DriverRing.Used> used = b.rx.drainUsed();
        assertEquals(7, used.size(), "10000 bytes in 1448-byte segments");
        final ByteArrayOutputStream payload = new ByteArrayOutputStream();
        long seq = 1000;
        for (final DriverRing.Used u : used)
        {
            final byte[] seg = frameOf(u);
            assertEquals(0, u.data()[0], "segments carry complete checksums");
            assertTrue(seg.length <= 1514, "segment of " + seg.length + " bytes fits the MTU");
            assertChecksumsValid(seg);
            assertEquals(seq, ByteBuffer.wrap(seg).getInt(38) & 0xFFFF_FFFFL, "sequence number");
            payload.write(seg, 54, seg.length - 54);
            seq += seg.length - 54;
        }
        assertArrayEquals(Arrays.copyOfRange(frame, 54, frame.length), payload.toByteArray());
        assertEquals(7, b.port.counters().get(PortCounters.TX_SEGMENTED));
    }

    // ------------------------------------------------------------------ MTU

    @Test
    void frameLargerThanTheDestinationMtuIsDroppedNotTruncated()
    {
        final Guest a = new Guest(1, 0, 9000);
        final Guest b = new Guest(2, 0, 1500);
        b.rx.addRxBuffers(4, 4096);
        a.tx.addTx(tcpFrame(2000));
        assertFalse(b.port.transmit(receiveOne(a)));
        assertEquals(1, b.port.counters().drops(DropReason.TOO_BIG));
        b.port.flush();
        assertTrue(b.rx.drainUsed().isEmpty(), "nothing delivered, nothing truncated");
    }

    // ------------------------------------------------------------------ TSO work charged to its source

    @Test
    void aGsoSizeBelowTheMinimumIsBadHeaderAtTheSource()
    {
        final Guest a = new Guest(1, HOST_OFFLOADS, 1500);
        a.tx.addTx(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 54, OffloadPolicy.MIN_GSO_SIZE - 1, CSUM_START,
            CSUM_OFFSET, 0), tcpFrame(16_000), false);
        assertEquals(DropReason.BAD_HEADER, receiveOne(a).sourceDropReason);
        assertEquals(1, a.port.counters().drops(DropReason.BAD_HEADER));
        a.tx.addTx(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 54, OffloadPolicy.MIN_GSO_SIZE, CSUM_START,
            CSUM_OFFSET, 0), tcpFrame(16_000), false);
        assertEquals(DropReason.NONE, receiveOne(a).sourceDropReason, "the minimum itself is fine");
    }

    @Test
    void aMalformedSuperFrameIsCountedAtItsSourceNotAtTheDestination()
    {
        final Guest a = new Guest(1, HOST_OFFLOADS, 1500);
        final Guest b = new Guest(2, 0, 1500);   // no TSO: would have to segment it
        b.rx.addRxBuffers(8, 2048);
        final byte[] frame = tcpFrame(3000);
        frame[23] = 17;   // IP protocol UDP: the segmenter cannot cut it
        a.tx.addTx(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 54, 1448, CSUM_START, CSUM_OFFSET, 0), frame, false);
        final PacketEvent e = receiveOne(a);
        assertEquals(DropReason.BAD_HEADER, e.sourceDropReason);
        assertEquals(1, a.port.counters().drops(DropReason.BAD_HEADER));
        assertEquals(0, b.port.counters().drops(DropReason.BAD_HEADER), "the victim counts nothing");
    }

    @Test
    void theSegmentsOnePortsSuperFramesCauseAreBoundedPerRound()
    {
        final Guest a = new Guest(1, HOST_OFFLOADS, 1500);
        final int payload = 60_000;
        final int perFrame = (payload + OffloadPolicy.MIN_GSO_SIZE - 1) / OffloadPolicy.MIN_GSO_SIZE;   // 682
        final int fit = VhostUserPort.GSO_SEGMENT_BUDGET / perFrame;
        for (int i = 0; i < fit + 2; i++)
        {
            a.tx.addTx(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 54, OffloadPolicy.MIN_GSO_SIZE, CSUM_START,
                CSUM_OFFSET, 0), tcpFrame(payload), false);
        }
        assertEquals(fit + 2, a.port.receive(pub.publisher(), pub.remaining()));
        final List<PacketEvent> events = pub.take();
        for (int i = 0; i < fit + 2; i++)
        {
            assertEquals(i < fit ? DropReason.NONE : DropReason.RATE_LIMITED, events.get(i).sourceDropReason,
                "frame " + i);
        }
        assertEquals(2, a.port.counters().drops(DropReason.RATE_LIMITED));
        pub.release();
        a.port.flush();   // a new round: a new budget
        a.tx.addTx(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 54, OffloadPolicy.MIN_GSO_SIZE, CSUM_START,
            CSUM_OFFSET, 0), tcpFrame(payload), false);
        assertEquals(DropReason.NONE, receiveOne(a).sourceDropReason);
    }
}
