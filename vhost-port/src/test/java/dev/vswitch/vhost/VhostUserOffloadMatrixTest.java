package dev.vswitch.vhost;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;
import dev.vswitch.vhost.testing.DeviceQueues;
import dev.vswitch.vhost.testing.TestPublisher;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.vswitch.testkit.frames.Checksums.fold;
import static dev.vswitch.testkit.frames.Checksums.sum;
import static dev.vswitch.testkit.frames.Checksums.tcpPseudoHeader;
import static dev.vswitch.vhost.VirtioNet.bit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The offload matrix through two real vhost-user ports: a guest (driver side: {@link DriverRing} over
 * {@link GuestMemory}) that negotiated every HOST_* offload sends a frame as a Linux guest at MTU 1500 or 9000 would
 * (a full-MTU frame, with or without a partial checksum, or a TCPv4/TCPv6 super-frame of its MSS, with or without
 * ECN); the switch takes it from that guest's TX ring and delivers it into the RX ring of a guest at MTU 1500 or 9000
 * that negotiated any subset of GUEST_CSUM / GUEST_TSO4 / GUEST_TSO6 / GUEST_ECN. What the second guest finds in its
 * RX buffers is checked byte by byte against what the rule says: the frame and its header passed on (hdr_len
 * recomputed), its checksum completed, segments that fit its MTU with complete checksums, or nothing (counted).
 * Checksums are verified here with an independent implementation.
 */
class VhostUserOffloadMatrixTest
{
    private static final int RING = 64;
    private static final long BASE = bit(VirtioNet.F_VERSION_1);
    private static final long HOST_ALL = bit(VirtioNet.F_CSUM) | bit(VirtioNet.F_HOST_TSO4) |
        bit(VirtioNet.F_HOST_TSO6) | bit(VirtioNet.F_HOST_ECN);
    private static final int[] MTUS = { 1500, 9000 };
    private static final int TCP_HLEN = 32;   // with a timestamp option, as Linux sends it
    private static final int GSO_TCPV4 = 1;
    private static final int GSO_TCPV6 = 4;
    private static final int GSO_ECN = 0x80;

    enum Request
    {
        PLAIN(false, 0), CSUM(false, 0), TSO4(false, GSO_TCPV4), TSO6(true, GSO_TCPV6),
        TSO4_ECN(false, GSO_TCPV4 | GSO_ECN), TSO6_ECN(true, GSO_TCPV6 | GSO_ECN);

        final boolean ipv6;
        final int gsoType;

        Request(final boolean ipv6, final int gsoType)
        {
            this.ipv6 = ipv6;
            this.gsoType = gsoType;
        }
    }

    private static final class Guest implements AutoCloseable
    {
        final GuestMemory mem;
        final GuestMemoryTable table;
        final VhostUserPort port;
        final DriverRing rx;
        final DriverRing tx;

        Guest(final int id, final long features, final int mtu)
        {
            mem = GuestMemory.create("m" + id, 8 << 20, GuestMemory.DEFAULT_GPA, GuestMemory.DEFAULT_UVA);
            table = DeviceQueues.mapTable(mem);
            rx = DriverRing.allocate(mem, RING, 0);
            tx = DriverRing.allocate(mem, RING, 0);
            port = new VhostUserPort(id, "g" + id, 0, mtu);
            port.publishRing(0, DeviceQueues.of(rx, table, false, -1), BASE | features);
            port.publishRing(1, DeviceQueues.of(tx, table, false, -1), BASE | features);
        }

        @Override
        public void close()
        {
            table.close();
            mem.close();
        }
    }

    /** A frame as a Linux guest at {@code srcMtu} sends it: where its parts are, and its request. */
    private static final class Frame
    {
        final Request request;
        final byte[] bytes;
        final int l3;
        final int l4;
        final int headers;
        final int gsoSize;

        Frame(final Request request, final int srcMtu)
        {
            this.request = request;
            final int ipHeader = request.ipv6 ? 40 : 20;
            final int mss = srcMtu - ipHeader - TCP_HLEN;
            gsoSize = request.gsoType != 0 ? mss : 0;
            final int payload = request.gsoType != 0 ? 3 * mss + 100 : mss;
            l3 = 14;
            l4 = l3 + ipHeader;
            headers = l4 + TCP_HLEN;
            final ByteBuffer b = ByteBuffer.allocate(headers + payload);
            b.put(new byte[] {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}).putShort((short)(request.ipv6 ? 0x86dd : 0x0800));
            final int tcpLength = TCP_HLEN + payload;
            if (request.ipv6)
            {
                b.putInt(0x6000_0000).putShort((short)tcpLength).put((byte)6).put((byte)64);
                b.putLong(0x2001_0db8_0000_0000L).putLong(1).putLong(0x2001_0db8_0000_0000L).putLong(2);
            }
            else
            {
                b.put((byte)0x45).put((byte)0).putShort((short)(20 + tcpLength)).putShort((short)0x1000)
                    .putShort((short)0x4000).put((byte)64).put((byte)6).putShort((short)0).putInt(0x0a000001)
                    .putInt(0x0a000002);
                b.putShort(l3 + 10, (short)~fold(sum(b.array(), l3, 20, 0)));
            }
            final int flags = 0x18 | ((request.gsoType & GSO_ECN) != 0 ? 0x80 : 0);   // ACK PSH (CWR)
            b.putShort((short)40000).putShort((short)5201).putInt(1000).putInt(0).put((byte)(8 << 4))
                .put((byte)flags).putShort((short)65535).putShort((short)0).putShort((short)0);
            b.put((byte)1).put((byte)1).put((byte)8).put((byte)10).putInt(12345).putInt(0);   // NOP NOP timestamp
            final byte[] p = new byte[payload];
            new Random(srcMtu * 31L + request.ordinal()).nextBytes(p);
            b.put(p);
            bytes = b.array();
            if (request != Request.PLAIN)   // what CHECKSUM_PARTIAL leaves: the folded pseudo-header sum
            {
                final int seeded = fold(tcpPseudoHeader(bytes, l3, request.ipv6, tcpLength));
                bytes[l4 + 16] = (byte)(seeded >>> 8);
                bytes[l4 + 17] = (byte)seeded;
            }
            else
            {
                bytes[l4 + 16] = 0;
                bytes[l4 + 17] = 0;
                final int c = ~fold(sum(bytes, l4, tcpLength, tcpPseudoHeader(bytes, l3, false, tcpLength))) & 0xffff;
                bytes[l4 + 16] = (byte)(c >>> 8);
                bytes[l4 + 17] = (byte)c;
            }
        }

        /** The header the guest puts in front: hdr_len is a wrong hint (14) the switch must not pass on. */
        byte[] netHeader()
        {
            return request == Request.PLAIN ? DriverRing.netHeader() :
                DriverRing.netHeader(1, request.gsoType, 14, gsoSize, l4, 16, 0);
        }
    }

    private static void assertChecksumsValid(final byte[] f, final Frame source, final String what)
    {
        final int tcpLength = f.length - source.l4;
        if (!source.request.ipv6)
        {
            assertEquals(0xffff, fold(sum(f, source.l3, 20, 0)), what + ": IPv4 header checksum");
            assertEquals(20 + tcpLength, ((f[source.l3 + 2] & 0xff) << 8) | (f[source.l3 + 3] & 0xff), what);
        }
        else
        {
            assertEquals(tcpLength, ((f[source.l3 + 4] & 0xff) << 8) | (f[source.l3 + 5] & 0xff), what);
        }
        assertEquals(0xffff, fold(sum(f, source.l4, tcpLength, tcpPseudoHeader(f, source.l3, source.request.ipv6,
            tcpLength))), what + ": TCP checksum");
    }

    private static long guestFeatures(final int accepts)
    {
        return ((accepts & 1) != 0 ? bit(VirtioNet.F_GUEST_CSUM) : 0) |
            ((accepts & 2) != 0 ? bit(VirtioNet.F_GUEST_TSO4) : 0) |
            ((accepts & 4) != 0 ? bit(VirtioNet.F_GUEST_TSO6) : 0) |
            ((accepts & 8) != 0 ? bit(VirtioNet.F_GUEST_ECN) : 0);
    }

    @Test
    void theWholeMatrixThroughTwoVhostUserPorts()
    {
        final int[] outcomes = new int[4];
        for (final Request request : Request.values())
        {
            for (final int srcMtu : MTUS)
            {
                final Frame frame = new Frame(request, srcMtu);
                for (int accepts = 0; accepts < 16; accepts++)
                {
                    for (final int dstMtu : MTUS)
                    {
                        outcomes[deliver(frame, srcMtu, accepts, dstMtu)]++;
                    }
                }
            }
        }
        for (int i = 0; i < 4; i++)
        {
            assertTrue(outcomes[i] > 0, "every outcome is reached: " + Arrays.toString(outcomes));
        }
    }

    /** The 9000 -> 1500 case of issue 14: segments cut to the destination's MTU, none dropped as too big. */
    @Test
    void aSuperFrameFromA9000MtuGuestReachesA1500MtuGuestWithoutTsoAsSegmentsThatFit()
    {
        assertEquals(2, deliver(new Frame(Request.TSO4, 9000), 9000, 1, 1500));
        assertEquals(2, deliver(new Frame(Request.TSO6, 9000), 9000, 1, 1500));
    }

    /** Received headers are checked as the TAP port checks the kernel's: hdr_len may not point past the frame. */
    @Test
    void aHeaderWhoseHdrLenPointsPastTheFrameIsBadHeaderAtItsSource()
    {
        final TestPublisher pub = new TestPublisher(64);
        try (Guest a = new Guest(1, HOST_ALL, 1500))
        {
            final Frame csum = new Frame(Request.CSUM, 1500);
            final Frame tso = new Frame(Request.TSO6, 1500);
            a.tx.addTx(DriverRing.netHeader(1, 0, csum.bytes.length + 1, 0, csum.l4, 16, 0), csum.bytes, false);
            a.tx.addTx(DriverRing.netHeader(1, tso.request.gsoType, tso.bytes.length + 1, tso.gsoSize, tso.l4, 16, 0),
                tso.bytes, false);
            a.tx.addTx(DriverRing.netHeader(1, tso.request.gsoType, tso.bytes.length, tso.gsoSize, tso.l4, 16, 0),
                tso.bytes, false);
            assertEquals(3, a.port.receive(pub.publisher(), pub.remaining()));
            final List<PacketEvent> events = pub.take();
            assertEquals(DropReason.BAD_HEADER, events.get(0).sourceDropReason, "partial checksum, hdr_len past the end");
            assertEquals(DropReason.BAD_HEADER, events.get(1).sourceDropReason, "super-frame, hdr_len past the end");
            assertEquals(DropReason.NONE, events.get(2).sourceDropReason, "hdr_len up to the end is fine");
            assertEquals(2, a.port.counters().drops(DropReason.BAD_HEADER));
        }
    }

    /** Sends one frame from guest A to guest B and checks what B got; returns 0 pass, 1 complete, 2 segment, 3 drop. */
    private int deliver(final Frame frame, final int srcMtu, final int accepts, final int dstMtu)
    {
        final String what = frame.request + " from MTU " + srcMtu + " to MTU " + dstMtu + " accepting " + accepts;
        final TestPublisher pub = new TestPublisher(64);
        try (Guest a = new Guest(1, HOST_ALL, srcMtu); Guest b = new Guest(2, guestFeatures(accepts), dstMtu))
        {
            b.rx.addRxBuffers(32, 32 * 1024);
            a.tx.addTx(frame.netHeader(), frame.bytes, false);
            assertEquals(1, a.port.receive(pub.publisher(), pub.remaining()), what);
            final PacketEvent e = pub.take().get(0);
            assertEquals(DropReason.NONE, e.sourceDropReason, what + ": taken at the source");
            final boolean delivered = b.port.transmit(e);
            a.port.complete(e);
            b.port.flush();
            final List<DriverRing.Used> used = b.rx.drainUsed();
            final PortCounters c = b.port.counters();

            final int maxFrame = dstMtu + 14;
            final boolean gso = frame.request.gsoType != 0;
            final int tso = frame.request.ipv6 ? 4 : 2;
            final boolean whole = (accepts & tso) != 0 && ((frame.request.gsoType & GSO_ECN) == 0 || (accepts & 8) != 0);
            if ((!gso && frame.bytes.length > maxFrame) || (gso && whole && frame.headers + frame.gsoSize > maxFrame))
            {
                assertEquals(false, delivered, what);
                assertTrue(used.isEmpty(), what + ": nothing delivered, nothing truncated");
                assertEquals(1, c.drops(DropReason.TOO_BIG), what);
                return 3;
            }
            assertTrue(delivered, what + ": " + c.summary());
            assertEquals(0, c.totalDrops(), what + ": " + c.summary());
            if (gso && !whole)
            {
                final int size = Math.min(frame.gsoSize, maxFrame - frame.headers);
                final int payload = frame.bytes.length - frame.headers;
                assertEquals((payload + size - 1) / size, used.size(), what + ": segments");
                final ByteArrayOutputStream joined = new ByteArrayOutputStream();
                long seq = 1000;
                for (int i = 0; i < used.size(); i++)
                {
                    final byte[] data = used.get(i).data();
                    final ByteBuffer h = ByteBuffer.wrap(data, 0, 12).order(ByteOrder.LITTLE_ENDIAN);
                    assertEquals(0, h.get(0), what + ": a complete segment asks for nothing");
                    assertEquals(0, h.get(1), what);
                    assertEquals(1, h.getShort(10), what + ": num_buffers");
                    final byte[] seg = Arrays.copyOfRange(data, 12, used.get(i).len());
                    assertEquals(frame.headers + Math.min(size, payload - i * size), seg.length, what + " #" + i);
                    assertTrue(seg.length <= maxFrame, what + ": segment fits the MTU");
                    assertChecksumsValid(seg, frame, what + " #" + i);
                    assertEquals(seq, ByteBuffer.wrap(seg).getInt(frame.l4 + 4) & 0xffff_ffffL, what);
                    final int flags = seg[frame.l4 + 13] & 0xff;
                    assertEquals(i == 0 && (frame.request.gsoType & GSO_ECN) != 0, (flags & 0x80) != 0,
                        what + ": CWR on the first segment only");
                    assertEquals(i == used.size() - 1, (flags & 0x08) != 0, what + ": PSH on the last only");
                    joined.write(seg, frame.headers, seg.length - frame.headers);
                    seq += seg.length - frame.headers;
                }
                assertArrayEquals(Arrays.copyOfRange(frame.bytes, frame.headers, frame.bytes.length),
                    joined.toByteArray(), what + ": payload");
                assertEquals(used.size(), c.get(PortCounters.TX_SEGMENTED), what);
                return 2;
            }
            assertEquals(1, used.size(), what);
            final byte[] data = used.get(0).data();
            final ByteBuffer h = ByteBuffer.wrap(data, 0, 12).order(ByteOrder.LITTLE_ENDIAN);
            final byte[] got = Arrays.copyOfRange(data, 12, used.get(0).len());
            if (frame.request != Request.PLAIN && !gso && (accepts & 1) == 0)
            {
                assertEquals(0, h.get(0), what + ": nothing left to do for the guest");
                assertChecksumsValid(got, frame, what);
                final byte[] expected = frame.bytes.clone();
                expected[frame.l4 + 16] = got[frame.l4 + 16];
                expected[frame.l4 + 17] = got[frame.l4 + 17];
                assertArrayEquals(expected, got, what + ": only the checksum field differs");
                assertEquals(1, c.get(PortCounters.TX_CSUM_FILLED), what);
                return 1;
            }
            assertArrayEquals(frame.bytes, got, what + ": the frame as sent");
            if (frame.request == Request.PLAIN)
            {
                assertEquals(0, h.get(0), what);
                assertEquals(0, h.get(1), what);
            }
            else
            {
                assertEquals(1, h.get(0), what + ": NEEDS_CSUM passed on");
                assertEquals(frame.request.gsoType, h.get(1) & 0xff, what + ": gso_type");
                assertEquals(frame.headers, h.getShort(2), what + ": hdr_len recomputed, not the hint");
                assertEquals(frame.gsoSize, h.getShort(4) & 0xffff, what + ": gso_size");
                assertEquals(frame.l4, h.getShort(6), what + ": csum_start");
                assertEquals(16, h.getShort(8), what + ": csum_offset");
            }
            assertEquals(1, h.getShort(10), what + ": num_buffers");
            assertEquals(gso ? 1 : 0, c.get(PortCounters.TX_GSO), what);
            return 0;
        }
    }
}
