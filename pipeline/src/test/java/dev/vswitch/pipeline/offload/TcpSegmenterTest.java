package dev.vswitch.pipeline.offload;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import dev.vswitch.testkit.AllocationProbe;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static dev.vswitch.pipeline.offload.Frames.ACK;
import static dev.vswitch.pipeline.offload.Frames.CWR;
import static dev.vswitch.pipeline.offload.Frames.ECE;
import static dev.vswitch.pipeline.offload.Frames.FIN;
import static dev.vswitch.pipeline.offload.Frames.PSH;
import static dev.vswitch.pipeline.offload.Frames.TCP;
import static dev.vswitch.pipeline.offload.Frames.ipv4HeaderChecksumOk;
import static dev.vswitch.pipeline.offload.Frames.l4ChecksumOk;
import static dev.vswitch.pipeline.offload.Frames.payload;
import static dev.vswitch.pipeline.offload.Frames.u16;
import static dev.vswitch.pipeline.offload.Frames.u32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TcpSegmenterTest
{
    private static final int SEQ = 0xFFFF_F000;   // wraps during the frame
    private static final int IP_ID = 0xFFF0;      // wraps during the frame
    private static final int FLAGS = CWR | ECE | ACK | PSH | FIN;

    private final TcpSegmenter segmenter = new TcpSegmenter(256 + 65535);
    private final PacketEvent e = new PacketEvent();

    /** Keeps a copy of every segment. */
    private static final class Collector implements TcpSegmenter.Sink
    {
        final List<byte[]> segments = new ArrayList<>();
        final int acceptCount;

        Collector(final int acceptCount)
        {
            this.acceptCount = acceptCount;
        }

        Collector()
        {
            this(Integer.MAX_VALUE);
        }

        @Override
        public boolean accept(final long address, final int length)
        {
            if (segments.size() == acceptCount)
            {
                return false;
            }
            final byte[] copy = new byte[length];
            new UnsafeBuffer(address, length).getBytes(0, copy);
            segments.add(copy);
            new UnsafeBuffer(address, length).setMemory(0, length, (byte)0x5A);   // a sink may scribble
            return true;
        }
    }

    enum Kind
    {
        IPV4, IPV6, IPV4_VLAN, IPV4_OPTIONS
    }

    private static Frames.Layout build(final Kind kind, final byte[] payload, final int checksumField)
    {
        switch (kind)
        {
            case IPV4:
                return Frames.tcpIpv4(new int[0], 5, 3, payload, SEQ, FLAGS, IP_ID, checksumField);
            case IPV6:
                return Frames.tcpIpv6(new int[0], TCP, 3, payload, SEQ, FLAGS, checksumField);
            case IPV4_VLAN:
                return Frames.tcpIpv4(new int[] { 0x88a8, 0x8100 }, 5, 3, payload, SEQ, FLAGS, IP_ID, checksumField);
            default:
                return Frames.tcpIpv4(new int[] { 0x8100 }, 7, 10, payload, SEQ, FLAGS, IP_ID, checksumField);
        }
    }

    static Stream<Arguments> superFrames()
    {
        final List<Arguments> cases = new ArrayList<>();
        for (final Kind kind : Kind.values())
        {
            for (final int payload : new int[] { 19999, 64999 })   // odd, and not a multiple of either gso
            {
                for (final int gso : new int[] { 1448, 1000 })
                {
                    cases.add(Arguments.of(kind, payload, gso));
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} payload {1} gso {2}")
    @MethodSource("superFrames")
    void segmentsAreValidStandaloneFrames(final Kind kind, final int payloadLength, final int gso)
    {
        final byte[] payload = payload(payloadLength, payloadLength * 31L + gso);
        // The checksum field holds garbage standing in for the NEEDS_CSUM partial: it must be ignored.
        final Frames.Layout l = build(kind, payload, 0x1357);
        final OffHeapFrame frame = Frames.scattered(l.bytes);
        assertTrue(frame.segmentCount() > 10, "source is scattered");
        frame.describe(e, 0);

        final Collector sink = new Collector();
        final int n = segmenter.segment(e, gso, sink);

        final int expectedSegments = (payloadLength + gso - 1) / gso;
        assertEquals(expectedSegments, n);
        assertEquals(expectedSegments, segmenter.plannedSegments());
        assertEquals(expectedSegments, sink.segments.size());
        assertTrue(payloadLength % gso != 0, "last segment is short in these cases");
        verifySegments(l, sink.segments, gso, payload);
    }

    /** Checks each segment against the source headers and payload. */
    private static void verifySegments(final Frames.Layout l, final List<byte[]> segments, final int gso,
        final byte[] payload)
    {
        final byte[] src = l.bytes;
        final int tcpHeader = l.headers - l.l4;
        final ByteArrayOutputStream joined = new ByteArrayOutputStream();
        int offset = 0;
        for (int i = 0; i < segments.size(); i++)
        {
            final byte[] s = segments.get(i);
            final boolean last = i == segments.size() - 1;
            final int length = Math.min(gso, payload.length - offset);
            final String where = "segment " + i;
            assertEquals(l.headers + length, s.length, where);

            // Lengths, id and checksums.
            if (l.ipv6)
            {
                assertEquals(tcpHeader + length, u16(s, l.l3 + 4), where + " IPv6 payload length");
            }
            else
            {
                assertEquals(l.l4 - l.l3 + tcpHeader + length, u16(s, l.l3 + 2), where + " IPv4 total length");
                assertEquals((IP_ID + i) & 0xffff, u16(s, l.l3 + 4), where + " IPv4 id");
                assertTrue(ipv4HeaderChecksumOk(s, l.l3), where + " IPv4 header checksum");
            }
            assertTrue(l4ChecksumOk(s, l.l3, l.ipv6, TCP, l.l4, tcpHeader + length), where + " TCP checksum");

            // Sequence number and flags.
            assertEquals(SEQ + offset, u32(s, l.l4 + 4), where + " seq");
            final int flags = s[l.l4 + 13] & 0xff;
            assertEquals(last, (flags & FIN) != 0, where + " FIN");
            assertEquals(last, (flags & PSH) != 0, where + " PSH");
            assertEquals(i == 0, (flags & CWR) != 0, where + " CWR");
            assertEquals(ECE | ACK, flags & (ECE | ACK), where + " other flags kept");

            // Everything else in the headers as in the source.
            final byte[] expected = java.util.Arrays.copyOf(src, l.headers);
            final byte[] actual = java.util.Arrays.copyOf(s, l.headers);
            final int[] changed = l.ipv6 ?
                new int[] { l.l3 + 4, l.l3 + 5, l.l4 + 4, l.l4 + 5, l.l4 + 6, l.l4 + 7, l.l4 + 13, l.l4 + 16,
                    l.l4 + 17 } :
                new int[] { l.l3 + 2, l.l3 + 3, l.l3 + 4, l.l3 + 5, l.l3 + 10, l.l3 + 11, l.l4 + 4, l.l4 + 5,
                    l.l4 + 6, l.l4 + 7, l.l4 + 13, l.l4 + 16, l.l4 + 17 };
            for (final int c : changed)
            {
                expected[c] = 0;
                actual[c] = 0;
            }
            assertArrayEquals(expected, actual, where + " headers otherwise identical");

            joined.write(s, l.headers, length);
            offset += length;
        }
        assertArrayEquals(payload, joined.toByteArray(), "concatenated payloads");
    }

    @Test
    void smallFrameGivesOneSegmentWithCompletedChecksum()
    {
        final byte[] payload = payload(500, 3);
        final Frames.Layout l = build(Kind.IPV6, payload, 0xdead);
        Frames.scattered(l.bytes).describe(e, 0);
        final Collector sink = new Collector();
        assertEquals(1, segmenter.segment(e, 1448, sink));
        verifySegments(l, sink.segments, 1448, payload);
    }

    @Test
    void exactMultipleOfGsoSize()
    {
        final byte[] payload = payload(1448 * 7, 4);
        final Frames.Layout l = build(Kind.IPV4, payload, 0);
        Frames.scattered(l.bytes).describe(e, 0);
        final Collector sink = new Collector();
        assertEquals(7, segmenter.segment(e, 1448, sink));
        verifySegments(l, sink.segments, 1448, payload);
    }

    @Test
    void headersOnlyFrameGivesOneSegment()
    {
        final Frames.Layout l = build(Kind.IPV4, new byte[0], 0);
        OffHeapFrame.contiguous(l.bytes).describe(e, 0);
        final Collector sink = new Collector();
        assertEquals(1, segmenter.segment(e, 1448, sink));
        verifySegments(l, sink.segments, 1448, new byte[0]);
    }

    @Test
    void ipv4TotalLengthZeroMeansToTheEndOfTheFrame()
    {
        final byte[] payload = payload(65600, 5);   // IPv4 total length does not fit: 0, as BIG TCP sends it
        final Frames.Layout l = build(Kind.IPV4, payload, 0);
        assertEquals(0, u16(l.bytes, l.l3 + 2));
        Frames.scattered(l.bytes).describe(e, 0);
        final Collector sink = new Collector();
        assertEquals((65600 + 1447) / 1448, segmenter.segment(e, 1448, sink));
        verifySegments(l, sink.segments, 1448, payload);
    }

    @Test
    void linkPaddingAfterTheIpPacketIsNotSentAsData()
    {
        final byte[] payload = payload(3000, 6);
        final Frames.Layout l = build(Kind.IPV4, payload, 0);
        final byte[] padded = java.util.Arrays.copyOf(l.bytes, l.bytes.length + 20);
        OffHeapFrame.split(padded, 9, 41, 3).describe(e, 0);
        final Collector sink = new Collector();
        assertEquals(3, segmenter.segment(e, 1448, sink));
        verifySegments(l, sink.segments, 1448, payload);
    }

    @Test
    void frameLengthBeyondTheScatterListIsNotRead()
    {
        final byte[] payload = payload(5000, 7);
        final Frames.Layout l = build(Kind.IPV6, payload, 0);
        final byte[] f = l.bytes.clone();
        Frames.put16(f, l.l3 + 4, 0);   // IPv6 payload length 0: only the frame length bounds the payload
        Frames.scattered(f).describe(e, 0);
        e.frameLength += 100;           // claims more than the segments hold (guard bytes follow each segment)
        final Collector sink = new Collector();
        assertEquals(4, segmenter.segment(e, 1448, sink));
        verifySegments(l, sink.segments, 1448, payload);
    }

    // ------------------------------------------------------------------ malformed input

    private int segmentBytes(final byte[] frame, final int gso)
    {
        OffHeapFrame.split(frame, Math.min(frame.length, 5)).describe(e, 0);
        return segmenter.segment(e, gso, new Collector());
    }

    @Test
    void udpFrameIsNotTcp()
    {
        assertEquals(TcpSegmenter.ERR_NOT_TCP, segmentBytes(Frames.udpIpv4(payload(3000, 1)).bytes, 1448));
        assertEquals(TcpSegmenter.ERR_NOT_TCP, segmentBytes(Frames.udpIpv6(payload(3000, 1)).bytes, 1448));
    }

    @Test
    void nonIpFrameIsNotTcp()
    {
        final byte[] f = build(Kind.IPV4, payload(3000, 1), 0).bytes;
        f[12] = 0x08;
        f[13] = 0x06;   // ARP
        assertEquals(TcpSegmenter.ERR_NOT_TCP, segmentBytes(f, 1448));
        final byte[] threeTags = Frames.tcpIpv4(new int[] { 0x8100, 0x8100, 0x8100 }, 5, 0, payload(3000, 1), 1,
            ACK, 1, 0).bytes;
        assertEquals(TcpSegmenter.ERR_NOT_TCP, segmentBytes(threeTags, 1448), "at most two VLAN tags");
    }

    @Test
    void ipv6ExtensionHeaderIsRefused()
    {
        for (final int nextHeader : new int[] { 0, 43, 44, 60 })   // hop-by-hop, routing, fragment, destination
        {
            final byte[] f = Frames.tcpIpv6(new int[0], nextHeader, 0, payload(3000, 2), 1, ACK, 0).bytes;
            assertEquals(TcpSegmenter.ERR_NOT_TCP, segmentBytes(f, 1448), "next header " + nextHeader);
        }
    }

    @Test
    void badGsoSize()
    {
        final byte[] f = build(Kind.IPV4, payload(20000, 1), 0).bytes;
        assertEquals(TcpSegmenter.ERR_BAD_GSO_SIZE, segmentBytes(f, 0));
        assertEquals(TcpSegmenter.ERR_BAD_GSO_SIZE, segmentBytes(f, -1));
        assertEquals(TcpSegmenter.ERR_BAD_GSO_SIZE, segmentBytes(f, 65536));
        assertEquals(0, segmenter.plannedSegments());

        final TcpSegmenter small = new TcpSegmenter(256 + 1500);
        OffHeapFrame.contiguous(f).describe(e, 0);
        assertEquals(TcpSegmenter.ERR_BAD_GSO_SIZE, small.segment(e, 4000, new Collector()), "segment > buffer");
        assertEquals(14, small.segment(e, 1500, new Collector()));
        final byte[] big = build(Kind.IPV4, payload(65600, 1), 0).bytes;
        OffHeapFrame.contiguous(big).describe(e, 0);
        assertEquals(TcpSegmenter.ERR_BAD_GSO_SIZE, segmenter.segment(e, 65535, new Collector()),
            "IPv4 total length would overflow 16 bits");
        assertEquals(2, segmenter.segment(e, 65535 - 52, new Collector()));
    }

    @Test
    void tooManySegments()
    {
        final byte[] f = build(Kind.IPV4, payload(65000, 1), 0).bytes;
        assertEquals(TcpSegmenter.ERR_TOO_MANY_SEGMENTS, segmentBytes(f, 32));
        assertEquals(TcpSegmenter.ERR_TOO_MANY_SEGMENTS, segmentBytes(f, 1));
        assertEquals((65000 + 63) / 64, segmentBytes(f, 64));
    }

    @Test
    void headersLongerThanTheFrame()
    {
        final Frames.Layout l = build(Kind.IPV4_OPTIONS, payload(100, 1), 0);
        for (int length = 0; length < l.headers; length++)
        {
            final byte[] truncated = java.util.Arrays.copyOf(l.bytes, length);
            final int result = length == 0 ? emptyEvent() : segmentBytes(truncated, 1448);
            assertEquals(TcpSegmenter.ERR_HEADERS_OUTSIDE_FRAME, result, "frame of " + length + " bytes");
        }
        // TCP data offset pointing past the frame.
        final byte[] f = build(Kind.IPV4, new byte[0], 0).bytes;
        f[build(Kind.IPV4, new byte[0], 0).l4 + 12] = (byte)0xf0;
        assertEquals(TcpSegmenter.ERR_HEADERS_OUTSIDE_FRAME, segmentBytes(f, 1448));
    }

    private int emptyEvent()
    {
        e.reset(0);
        return segmenter.segment(e, 1448, new Collector());
    }

    @Test
    void malformedHeaders()
    {
        final Frames.Layout l = build(Kind.IPV4, payload(3000, 1), 0);
        byte[] f = l.bytes.clone();
        f[l.l3] = 0x44;   // IHL 4
        assertEquals(TcpSegmenter.ERR_MALFORMED_HEADER, segmentBytes(f, 1448));
        f = l.bytes.clone();
        f[l.l3] = 0x55;   // version 5
        assertEquals(TcpSegmenter.ERR_MALFORMED_HEADER, segmentBytes(f, 1448));
        f = l.bytes.clone();
        f[l.l3 + 6] = 0x20;   // MF: a fragment
        assertEquals(TcpSegmenter.ERR_MALFORMED_HEADER, segmentBytes(f, 1448));
        f = l.bytes.clone();
        f[l.l4 + 12] = 0x40;   // data offset 4
        assertEquals(TcpSegmenter.ERR_MALFORMED_HEADER, segmentBytes(f, 1448));
        f = l.bytes.clone();
        Frames.put16(f, l.l3 + 2, 39);   // total length shorter than IP + TCP headers
        assertEquals(TcpSegmenter.ERR_MALFORMED_HEADER, segmentBytes(f, 1448));
    }

    @Test
    void fullSinkStopsSegmentation()
    {
        final Frames.Layout l = build(Kind.IPV4, payload(20000, 8), 0);
        Frames.scattered(l.bytes).describe(e, 0);
        final Collector sink = new Collector(3);
        assertEquals(3, segmenter.segment(e, 1448, sink), "accepted 3, refused the 4th");
        assertEquals(14, segmenter.plannedSegments());
        assertEquals(3, sink.segments.size());

        final Collector none = new Collector(0);
        assertEquals(0, segmenter.segment(e, 1448, none));
    }

    @Test
    void randomlyCorruptedFramesNeverThrow()
    {
        final Random random = new Random(31337);
        final Kind[] kinds = Kind.values();
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            final Frames.Layout l = build(kinds[random.nextInt(kinds.length)], payload(random.nextInt(4000), 9), 0);
            final byte[] f = java.util.Arrays.copyOf(l.bytes, random.nextInt(l.bytes.length + 1));
            for (int flips = random.nextInt(6); flips > 0 && f.length > 0; flips--)
            {
                f[random.nextInt(Math.min(f.length, l.headers + 4))] = (byte)random.nextInt(256);
            }
            final int[] cuts = new int[random.nextInt(8)];
            int used = 0;
            for (int i = 0; i < cuts.length; i++)
            {
                cuts[i] = random.nextInt(Math.max(1, (f.length - used) / 2 + 1));
                used += cuts[i];
            }
            OffHeapFrame.split(f, cuts).describe(e, 0);
            final int gso = random.nextInt(3) == 0 ? random.nextInt(70000) - 10 : 536 + random.nextInt(1000);
            final int[] bytes = { 0 };
            final int result = segmenter.segment(e, gso, (address, length) ->
            {
                assertTrue(length > 0 && length <= segmenter.maxSegmentBytes());
                bytes[0] += length;
                return true;
            });
            assertTrue(result >= TcpSegmenter.ERR_MALFORMED_HEADER, "result " + result);
            if (result > 0)
            {
                assertEquals(result, segmenter.plannedSegments());
            }
        }
    }

    // ------------------------------------------------------------------ allocation

    /** Sums lengths only: allocation-free. */
    private static final class CountingSink implements TcpSegmenter.Sink
    {
        long bytes;
        long segments;

        @Override
        public boolean accept(final long address, final int length)
        {
            bytes += length;
            segments++;
            return true;
        }
    }

    @Test
    void segmentingDoesNotAllocate()
    {
        assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");

        final Frames.Layout l = build(Kind.IPV4_VLAN, payload(65000, 10), 0);
        Frames.scattered(l.bytes).describe(e, 0);
        final CountingSink sink = new CountingSink();
        final int perFrame = (65000 + 1447) / 1448;
        for (int i = 0; i < 2000; i++)
        {
            assertEquals(perFrame, segmenter.segment(e, 1448, sink));
        }

        final AllocationProbe probe = AllocationProbe.start();
        int total = 0;
        for (int i = 0; i < 1000; i++)
        {
            total += segmenter.segment(e, 1448, sink);
        }
        final long allocated = probe.bytes();
        assertEquals(1000 * perFrame, total);
        assertTrue(allocated < 64 * 1024, "segmenting 1000 x 64 KB allocated " + allocated + " bytes");
    }
}
