package dev.vswitch.pipeline.offload;

import com.sun.management.ThreadMXBean;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static dev.vswitch.pipeline.offload.OffloadPolicy.ACCEPTS_CSUM;
import static dev.vswitch.pipeline.offload.OffloadPolicy.ACCEPTS_ECN;
import static dev.vswitch.pipeline.offload.OffloadPolicy.ACCEPTS_TSO4;
import static dev.vswitch.pipeline.offload.OffloadPolicy.ACCEPTS_TSO6;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The offload decision over its whole matrix: every request (none, a partial checksum, TCPv4 / TCPv6 super-frames,
 * with and without ECN) from a source at MTU 1500 or 9000, to a destination at MTU 1500 or 9000 accepting every
 * subset of CSUM / TSO4 / TSO6 / ECN. The expected answer is written here independently of the policy; every
 * SEGMENT answer is then carried out with the real segmenter and every COMPLETE one with the real checksum
 * completion, and the frames that come out are checked: sizes within the destination's MTU, checksums, payload.
 */
class OffloadPolicyTest
{
    /** What a source asks for. */
    enum Request
    {
        PLAIN(false, 0), CSUM(false, 0), TSO4(false, VirtioNetHdr.GSO_TCPV4), TSO6(true, VirtioNetHdr.GSO_TCPV6),
        TSO4_ECN(false, VirtioNetHdr.GSO_TCPV4 | VirtioNetHdr.GSO_ECN),
        TSO6_ECN(true, VirtioNetHdr.GSO_TCPV6 | VirtioNetHdr.GSO_ECN);

        final boolean ipv6;
        final int gsoType;

        Request(final boolean ipv6, final int gsoType)
        {
            this.ipv6 = ipv6;
            this.gsoType = gsoType;
        }

        boolean gso()
        {
            return gsoType != 0;
        }
    }

    static final int[] MTUS = { 1500, 9000 };
    /** TCP header with a timestamp option, as Linux sends it: 20 + 12. */
    static final int TCP_HLEN = 32;

    /** A frame as a Linux source with {@code srcMtu} hands it over, with its request. */
    static final class Source
    {
        final Request request;
        final Frames.Layout layout;
        final int gsoSize;
        final OffHeapFrame memory;

        Source(final Request request, final int srcMtu)
        {
            this.request = request;
            final int ipHeader = request.ipv6 ? 40 : 20;
            gsoSize = request.gso() ? srcMtu - ipHeader - TCP_HLEN : 0;
            // a super-frame: three and a bit segments' worth; otherwise one full-MTU frame
            final int payloadLength = request.gso() ? 3 * gsoSize + 100 : srcMtu - ipHeader - TCP_HLEN;
            final byte[] payload = Frames.payload(payloadLength, srcMtu + request.ordinal());
            final int flags = Frames.ACK | Frames.PSH | ((request.gsoType & VirtioNetHdr.GSO_ECN) != 0 ? Frames.CWR : 0);
            final Frames.Layout l = request.ipv6 ?
                Frames.tcpIpv6(new int[0], Frames.TCP, 3, payload, 1000, flags, 0) :
                Frames.tcpIpv4(new int[0], 5, 3, payload, 1000, flags, 0x1234, 0);
            final int l4Length = l.bytes.length - l.l4;
            Frames.put16(l.bytes, l.l4 + 16, Frames.pseudoHeader(l.bytes, l.l3, l.ipv6, Frames.TCP, l4Length));
            if (!request.ipv6)
            {
                Frames.put16(l.bytes, l.l3 + 10, 0);
                Frames.put16(l.bytes, l.l3 + 10, ~Frames.refSum(l.bytes, l.l3, 20) & 0xffff);
            }
            layout = l;
            memory = Frames.scattered(l.bytes);
        }

        PacketEvent event()
        {
            final PacketEvent e = memory.describe(new PacketEvent(), 1);
            if (request != Request.PLAIN)
            {
                e.vnetFlags = VirtioNetHdr.F_NEEDS_CSUM;
                e.csumStart = layout.l4;
                e.csumOffset = 16;
            }
            e.gsoType = request.gsoType;
            e.gsoSize = gsoSize;
            e.hdrLen = 7;   // a source's hint, never trusted: the policy recomputes it
            return e;
        }
    }

    /** The rule, as the policy's documentation states it, written out independently. */
    private static int[] expected(final Source s, final int accepts, final int dstMtu)
    {
        final int maxFrame = dstMtu + 14;
        final int length = s.layout.bytes.length;
        final Request r = s.request;
        if (!r.gso())
        {
            if (length > maxFrame)
            {
                return new int[] { OffloadPolicy.DROP, DropReason.TOO_BIG };
            }
            if (r == Request.PLAIN)
            {
                return new int[] { OffloadPolicy.PASS, 0 };
            }
            // passed on with hdr_len = the end of the TCP header, recomputed
            return (accepts & ACCEPTS_CSUM) != 0 ? new int[] { OffloadPolicy.PASS, s.layout.headers } :
                new int[] { OffloadPolicy.COMPLETE, 0 };
        }
        final int tso = r.ipv6 ? ACCEPTS_TSO6 : ACCEPTS_TSO4;
        final boolean ecn = (r.gsoType & VirtioNetHdr.GSO_ECN) != 0;
        final boolean whole = (accepts & tso) != 0 && (!ecn || (accepts & ACCEPTS_ECN) != 0);
        final int headers = s.layout.headers;
        if (whole)
        {
            return headers + s.gsoSize <= maxFrame ? new int[] { OffloadPolicy.PASS, headers } :
                new int[] { OffloadPolicy.DROP, DropReason.TOO_BIG };
        }
        return new int[] { OffloadPolicy.SEGMENT, Math.min(s.gsoSize, maxFrame - headers) };
    }

    @Test
    void theWholeMatrix()
    {
        final OffloadPolicy policy = new OffloadPolicy();
        final TcpSegmenter segmenter = new TcpSegmenter();
        final int[] seen = new int[4];
        int cases = 0;
        for (final Request request : Request.values())
        {
            for (final int srcMtu : MTUS)
            {
                final Source source = new Source(request, srcMtu);
                for (int accepts = 0; accepts <= OffloadPolicy.ACCEPTS_ALL; accepts++)
                {
                    for (final int dstMtu : MTUS)
                    {
                        final String what = request + " from MTU " + srcMtu + " to MTU " + dstMtu + " accepting " +
                            accepts;
                        final PacketEvent e = source.event();
                        final int decision = policy.decide(e, accepts, dstMtu);
                        final int[] want = expected(source, accepts, dstMtu);
                        assertEquals(want[0], decision, what);
                        seen[decision]++;
                        cases++;
                        switch (decision)
                        {
                            case OffloadPolicy.PASS:
                                assertEquals(want[1], policy.headerLength(), what + ": hdr_len passed on");
                                break;
                            case OffloadPolicy.DROP:
                                assertEquals(want[1], policy.dropReason(), what);
                                break;
                            case OffloadPolicy.SEGMENT:
                                assertEquals(want[1], policy.segmentSize(), what + ": segment size");
                                assertEquals(source.layout.headers, policy.headerLength(), what);
                                assertSegmentsFit(segmenter, source, e, policy.segmentSize(), dstMtu, what);
                                break;
                            default:
                                assertCompletedChecksumIsRight(source, e, what);
                                break;
                        }
                    }
                }
            }
        }
        assertEquals(Request.values().length * 2 * 16 * 2, cases);
        for (int d = 0; d < 4; d++)
        {
            assertTrue(seen[d] > 0, "decision " + d + " is reached by the matrix: " + Arrays.toString(seen));
        }
    }

    /** Cuts the frame as the policy said and checks every segment: fits, complete checksums, the payload in order. */
    private static void assertSegmentsFit(final TcpSegmenter segmenter, final Source s, final PacketEvent e,
        final int size, final int dstMtu, final String what)
    {
        final List<byte[]> segments = new ArrayList<>();
        final int sent = segmenter.segment(e, size, (address, length) ->
        {
            final byte[] b = new byte[length];
            org.agrona.UnsafeAccess.UNSAFE.copyMemory(null, address, b,
                org.agrona.UnsafeAccess.UNSAFE.arrayBaseOffset(byte[].class), length);
            segments.add(b);
            return true;
        });
        final Frames.Layout l = s.layout;
        final int payload = l.bytes.length - l.headers;
        assertEquals((payload + size - 1) / size, sent, what + ": segments");
        final ByteArrayOutputStream joined = new ByteArrayOutputStream();
        for (int i = 0; i < segments.size(); i++)
        {
            final byte[] seg = segments.get(i);
            final int want = l.headers + Math.min(size, payload - i * size);
            assertEquals(want, seg.length, what + ": segment " + i);
            assertTrue(seg.length <= dstMtu + 14, what + ": segment " + i + " of " + seg.length + " B fits");
            assertTrue(Frames.l4ChecksumOk(seg, l.l3, l.ipv6, Frames.TCP, l.l4, seg.length - l.l4), what);
            if (!l.ipv6)
            {
                assertTrue(Frames.ipv4HeaderChecksumOk(seg, l.l3), what);
            }
            joined.write(seg, l.headers, seg.length - l.headers);
        }
        assertArrayEquals(Arrays.copyOfRange(l.bytes, l.headers, l.bytes.length), joined.toByteArray(), what);
    }

    private static void assertCompletedChecksumIsRight(final Source s, final PacketEvent e, final String what)
    {
        final int value = ChecksumCompletion.compute(e);
        final byte[] f = s.layout.bytes.clone();
        Frames.put16(f, e.csumStart + e.csumOffset, value);
        assertTrue(Frames.l4ChecksumOk(f, s.layout.l3, s.layout.ipv6, Frames.TCP, s.layout.l4,
            f.length - s.layout.l4), what);
    }

    /** The case of issue 14: a 9000-MTU guest's super-frame to a 1500-MTU peer without TSO. */
    @Test
    void aSuperFrameFromA9000MtuSourceIsCutToFitA1500MtuDestination()
    {
        final OffloadPolicy policy = new OffloadPolicy();
        final Source source = new Source(Request.TSO4, 9000);
        assertEquals(8948, source.gsoSize);
        final PacketEvent e = source.event();
        assertEquals(OffloadPolicy.SEGMENT, policy.decide(e, ACCEPTS_CSUM, 1500));
        assertEquals(1500 - 20 - 32, policy.segmentSize(), "MTU less the frame's own IP and TCP headers");
        assertSegmentsFit(new TcpSegmenter(), source, e, policy.segmentSize(), 1500, "9000 -> 1500");
    }

    @Test
    void aVlanTaggedFrameHasRoomForItsTag()
    {
        final OffloadPolicy policy = new OffloadPolicy();
        final Source source = new Source(Request.PLAIN, 1500);
        final PacketEvent e = source.event();
        e.frameLength += 4;   // as if it carried a tag: 1518 bytes
        assertEquals(OffloadPolicy.DROP, policy.decide(e, 0, 1500));
        e.packetFlags |= PacketEvent.FLAG_VLAN;
        assertEquals(OffloadPolicy.PASS, policy.decide(e, 0, 1500));
        assertEquals(1514 + 4, OffloadPolicy.maxFrame(e, 1500));
    }

    @Test
    void malformedRequestsAreBadHeaderWhateverTheDestinationAccepts()
    {
        final OffloadPolicy policy = new OffloadPolicy();
        final Source v4 = new Source(Request.TSO4, 1500);
        final Map<String, PacketEvent> bad = new java.util.LinkedHashMap<>();
        PacketEvent e = v4.event();
        e.gsoType = VirtioNetHdr.GSO_UDP;
        bad.put("UDP (UFO)", e);
        e = v4.event();
        e.gsoType = VirtioNetHdr.GSO_UDP_L4;
        bad.put("UDP_L4", e);
        e = v4.event();
        e.gsoType = VirtioNetHdr.GSO_ECN;
        bad.put("ECN alone", e);
        e = v4.event();
        e.gsoType = 0x41;
        bad.put("unknown bits", e);
        e = v4.event();
        e.gsoSize = 0;
        bad.put("gso_size 0", e);
        e = v4.event();
        e.vnetFlags = 0;
        bad.put("GSO without NEEDS_CSUM", e);
        e = v4.event();
        e.csumOffset = e.frameLength;
        bad.put("checksum field past the end", e);
        e = v4.event();
        e.csumStart = 10;
        e.csumOffset = 0;
        bad.put("csum_start inside the Ethernet header", e);
        e = v4.event();
        e.csumStart = e.frameLength - 19;
        e.csumOffset = 0;
        bad.put("no room for a TCP header at csum_start", e);
        final Source csum = new Source(Request.CSUM, 1500);
        e = csum.event();
        e.csumStart = e.frameLength - 1;
        e.csumOffset = 0;
        bad.put("partial checksum field past the end", e);
        for (final Map.Entry<String, PacketEvent> c : bad.entrySet())
        {
            for (int accepts = 0; accepts <= OffloadPolicy.ACCEPTS_ALL; accepts++)
            {
                assertEquals(OffloadPolicy.DROP, policy.decide(c.getValue(), accepts, 9000), c.getKey());
                assertEquals(DropReason.BAD_HEADER, policy.dropReason(), c.getKey());
            }
        }

        // A TCP data offset below 5 (read from the frame, not from hdr_len).
        final byte[] f = v4.layout.bytes.clone();
        f[v4.layout.l4 + 12] = 0x40;
        e = Frames.scattered(f).describe(new PacketEvent(), 1);
        e.vnetFlags = VirtioNetHdr.F_NEEDS_CSUM;
        e.gsoType = VirtioNetHdr.GSO_TCPV4;
        e.gsoSize = v4.gsoSize;
        e.csumStart = v4.layout.l4;
        e.csumOffset = 16;
        assertEquals(OffloadPolicy.DROP, policy.decide(e, 0, 1500));
        assertEquals(DropReason.BAD_HEADER, policy.dropReason());
        assertEquals(-1, OffloadPolicy.tcpHeadersEnd(new PacketEvent()), "nothing to read");
    }

    @Test
    void headersThatFillTheMtuAloneCannotBeSegmented()
    {
        // IPv4 with 40 bytes of options and TCP with 40: 14 + 60 + 60 = 134 headers against a 68-byte MTU (82).
        final byte[] payload = Frames.payload(3000, 5);
        final Frames.Layout l = Frames.tcpIpv4(new int[0], 15, 10, payload, 1, Frames.ACK, 1, 0);
        final PacketEvent e = OffHeapFrame.contiguous(l.bytes).describe(new PacketEvent(), 1);
        e.vnetFlags = VirtioNetHdr.F_NEEDS_CSUM;
        e.gsoType = VirtioNetHdr.GSO_TCPV4;
        e.gsoSize = 1000;
        e.csumStart = l.l4;
        e.csumOffset = 16;
        final OffloadPolicy policy = new OffloadPolicy();
        assertEquals(OffloadPolicy.DROP, policy.decide(e, 0, 68));
        assertEquals(DropReason.TOO_BIG, policy.dropReason());
        assertEquals(OffloadPolicy.SEGMENT, policy.decide(e, 0, 1500));
        assertEquals(1000, policy.segmentSize(), "gso_size when it fits");
        assertEquals(134, policy.headerLength());
    }

    /** hdr_len handed on with a partial checksum alone: recomputed, whatever the source's hint said. */
    @Test
    void aPartialChecksumIsPassedOnWithItsHeadersLengthRecomputed()
    {
        final OffloadPolicy policy = new OffloadPolicy();
        final Source tcp = new Source(Request.CSUM, 1500);
        assertEquals(OffloadPolicy.PASS, policy.decide(tcp.event(), ACCEPTS_CSUM, 1500));
        assertEquals(14 + 20 + 32, policy.headerLength(), "TCP with a timestamp option");

        final Frames.Layout udp = Frames.udpIpv6(Frames.payload(300, 9));
        final PacketEvent e = OffHeapFrame.contiguous(udp.bytes).describe(new PacketEvent(), 1);
        e.vnetFlags = VirtioNetHdr.F_NEEDS_CSUM;
        e.csumStart = udp.l4;
        e.csumOffset = 6;
        e.hdrLen = 9999;
        assertEquals(OffloadPolicy.PASS, policy.decide(e, ACCEPTS_CSUM, 1500));
        assertEquals(udp.headers, policy.headerLength(), "UDP: the end of its checksum field, its header's end");

        final byte[] bad = tcp.layout.bytes.clone();
        bad[tcp.layout.l4 + 12] = 0x10;   // data offset 1: no TCP header length to trust
        final PacketEvent b = OffHeapFrame.contiguous(bad).describe(new PacketEvent(), 1);
        b.vnetFlags = VirtioNetHdr.F_NEEDS_CSUM;
        b.csumStart = tcp.layout.l4;
        b.csumOffset = 16;
        assertEquals(OffloadPolicy.PASS, policy.decide(b, ACCEPTS_CSUM, 1500));
        assertEquals(tcp.layout.l4 + 18, policy.headerLength(), "at least the checksum field");
        assertEquals(OffloadPolicy.COMPLETE, policy.decide(b, 0, 1500));
    }

    /** What a port accepts in a received header, for every request and every set of negotiated offloads. */
    @Test
    void receivedHeadersAskOnlyForWhatWasNegotiated()
    {
        final Map<Request, int[]> fields = new EnumMap<>(Request.class);
        for (final Request r : Request.values())
        {
            final Source s = new Source(r, 1500);
            final PacketEvent e = s.event();
            fields.put(r, new int[] { e.vnetFlags, e.gsoType, s.layout.headers, e.gsoSize, e.csumStart, e.csumOffset,
                e.frameLength });
        }
        for (final Request r : Request.values())
        {
            final int[] f = fields.get(r);
            for (int mayUse = 0; mayUse <= OffloadPolicy.ACCEPTS_ALL; mayUse++)
            {
                final boolean csumOk = r == Request.PLAIN || (mayUse & ACCEPTS_CSUM) != 0;
                final int tso = r.ipv6 ? ACCEPTS_TSO6 : ACCEPTS_TSO4;
                final boolean gsoOk = !r.gso() || ((mayUse & tso) != 0 &&
                    ((r.gsoType & VirtioNetHdr.GSO_ECN) == 0 || (mayUse & ACCEPTS_ECN) != 0));
                assertEquals(csumOk && gsoOk ? DropReason.NONE : DropReason.BAD_HEADER,
                    OffloadPolicy.checkReceived(f[0], f[1], f[2], f[3], f[4], f[5], f[6], mayUse),
                    r + " with " + mayUse + " negotiated");
            }
        }
        final int all = OffloadPolicy.ACCEPTS_ALL;
        final int[] v4 = fields.get(Request.TSO4);
        assertEquals(DropReason.BAD_HEADER, OffloadPolicy.checkReceived(v4[0], v4[1], v4[6] + 1, v4[3], v4[4], v4[5],
            v4[6], all), "hdr_len past the end of the frame");
        assertEquals(DropReason.NONE, OffloadPolicy.checkReceived(v4[0], v4[1], v4[6], v4[3], v4[4], v4[5],
            v4[6], all), "hdr_len up to the end");
        assertEquals(DropReason.BAD_HEADER, OffloadPolicy.checkReceived(v4[0], v4[1], v4[2],
            OffloadPolicy.MIN_GSO_SIZE - 1, v4[4], v4[5], v4[6], all), "gso_size below the minimum");
        assertEquals(DropReason.NONE, OffloadPolicy.checkReceived(v4[0], v4[1], v4[2], OffloadPolicy.MIN_GSO_SIZE,
            v4[4], v4[5], v4[6], all));
        final int[] csum = fields.get(Request.CSUM);
        assertEquals(DropReason.BAD_HEADER, OffloadPolicy.checkReceived(csum[0], 0, csum[6] + 1, 0, csum[4],
            csum[5], csum[6], all), "hdr_len past the end with a checksum alone");
        assertEquals(DropReason.NONE, OffloadPolicy.checkReceived(VirtioNetHdr.F_DATA_VALID, 0, 9999, 0, 0, 0, 60,
            0), "a header asking for nothing: its other fields are not looked at");
    }

    @Test
    void decidingAllocatesNothing()
    {
        final ThreadMXBean threads = (ThreadMXBean)ManagementFactory.getThreadMXBean();
        final OffloadPolicy policy = new OffloadPolicy();
        final PacketEvent[] events = new PacketEvent[Request.values().length];
        for (final Request r : Request.values())
        {
            events[r.ordinal()] = new Source(r, 9000).event();
        }
        long sink = 0;
        for (int i = 0; i < 50_000; i++)   // warm up: class init, JIT
        {
            sink += policy.decide(events[i % events.length], i & OffloadPolicy.ACCEPTS_ALL, (i & 1) == 0 ? 1500 : 9000);
        }
        final long tid = Thread.currentThread().getId();
        final long before = threads.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 100_000; i++)
        {
            sink += policy.decide(events[i % events.length], i & OffloadPolicy.ACCEPTS_ALL, (i & 1) == 0 ? 1500 : 9000)
                + policy.segmentSize() + policy.headerLength() + policy.dropReason();
        }
        final long allocated = threads.getThreadAllocatedBytes(tid) - before;
        assertTrue(sink > 0);
        // One object per decision would be >= 1.6 MB; what is left is the JIT's and the harness's (a few KB at most).
        assertTrue(allocated < 16 * 1024, "100,000 decisions allocated " + allocated + " bytes");
    }
}
