package dev.vswitch.pipeline.offload;

import dev.vswitch.pipeline.PacketEvent;
import org.agrona.BufferUtil;
import org.agrona.UnsafeAccess;

import java.nio.ByteBuffer;

import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_IPV4;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_IPV6;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_OFFSET;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_QINQ;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_VLAN;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETH_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPPROTO_TCP;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV4_MAX_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.MAX_VLAN_TAGS;
import static dev.vswitch.pipeline.offload.EthernetLayout.TCP_CWR;
import static dev.vswitch.pipeline.offload.EthernetLayout.TCP_FIN;
import static dev.vswitch.pipeline.offload.EthernetLayout.TCP_MAX_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.TCP_PSH;
import static dev.vswitch.pipeline.offload.EthernetLayout.VLAN_HLEN;

/**
 * Software TCP segmentation (TSO fallback) of a GSO super-frame for a destination that did not negotiate
 * TSO4/TSO6: cuts the frame into standalone Ethernet frames of at most {@code gsoSize} TCP payload bytes each, with
 * complete IPv4 header and TCP checksums.
 *
 * <p>The headers are parsed here, not taken from the guest's {@code hdr_len}: Ethernet, at most two VLAN tags
 * (0x8100 / 0x88a8), then IPv4 (options allowed, per IHL) or IPv6 without extension headers (next header must be
 * TCP), then the TCP header (options allowed, per data offset). Per segment: headers copied from the source, then
 * <ul>
 *   <li>IPv4: total length, identification = source id + segment index (mod 2^16), header checksum recomputed;</li>
 *   <li>IPv6: payload length;</li>
 *   <li>TCP: sequence number = source seq + payload offset; FIN and PSH kept only on the last segment, CWR only on
 *   the first; checksum computed in full (pseudo-header + TCP header + payload). The source's checksum field (a
 *   NEEDS_CSUM pseudo-header partial) is ignored.</li>
 * </ul>
 * All other header bytes are as in the source. The L3 length field bounds the payload when it is non-zero and
 * shorter than the frame (trailing link padding is not sent as TCP data); a zero length field (as in >64 KB
 * "BIG TCP" IPv4 frames) or one longer than the frame means "up to the end of the frame". A frame without payload,
 * or with at most {@code gsoSize} bytes of it, gives one segment.
 *
 * <p>Each segment is built in this segmenter's own preallocated buffer and handed to {@link Sink#accept}; it is
 * valid only during that call. One instance per thread; no allocation per frame or segment. Never throws on any
 * frame content and never reads outside the scatter list: malformed input yields a negative error code.
 */
public final class TcpSegmenter
{
    /** Receives each segment: a complete Ethernet frame (no virtio-net header) at {@code address}. */
    @FunctionalInterface
    public interface Sink
    {
        /**
         * @return true if the segment was taken; false if the destination is full, which stops segmentation.
         */
        boolean accept(long address, int length);
    }

    /** L3 is not IPv4/IPv6 (after at most two VLAN tags), or L4 is not TCP (IPv6 extension headers included). */
    public static final int ERR_NOT_TCP = -1;
    /** The frame (or the scatter list) ends inside the Ethernet, VLAN, IP or TCP headers. */
    public static final int ERR_HEADERS_OUTSIDE_FRAME = -2;
    /** gsoSize is 0, negative or above 65535, or the longest segment (min(gsoSize, payload) payload bytes) would
     *  not fit the segment buffer or the 16-bit IP length field. */
    public static final int ERR_BAD_GSO_SIZE = -3;
    /** The frame would need more than {@link #MAX_SEGMENTS} segments. */
    public static final int ERR_TOO_MANY_SEGMENTS = -4;
    /** Inconsistent headers: IP version, IPv4 IHL &lt; 5, an IPv4 fragment, TCP data offset &lt; 5, or an IP length
     *  field shorter than the IP + TCP headers. */
    public static final int ERR_MALFORMED_HEADER = -5;

    /** Most segments cut from one frame (64 KB of payload at gsoSize 64). */
    public static final int MAX_SEGMENTS = 1024;
    /** Longest header chain parsed: Ethernet 14 + 2 tags 8 + IPv4 with options 60 + TCP with options 60 = 142. */
    public static final int MAX_HEADER_BYTES =
        ETH_HLEN + MAX_VLAN_TAGS * VLAN_HLEN + IPV4_MAX_HLEN + TCP_MAX_HLEN;
    /** Buffer size of the no-argument constructor: headers plus the largest IP payload. */
    public static final int DEFAULT_BUFFER_SIZE = 256 + 65535;

    private static final sun.misc.Unsafe U = UnsafeAccess.UNSAFE;
    private static final int HEAD_CAPACITY = 256;

    private final ByteBuffer headMemory;   // keep the direct buffers reachable
    private final ByteBuffer outMemory;
    private final long head;
    private final long out;
    private final int outCapacity;

    // scatter-list read cursor (payload is consumed in order)
    private int cursorSegment;
    private int cursorOffset;
    private int plannedSegments;

    /** A segmenter whose segment buffer holds {@link #DEFAULT_BUFFER_SIZE} bytes. */
    public TcpSegmenter()
    {
        this(DEFAULT_BUFFER_SIZE);
    }

    /**
     * @param maxSegmentBytes size of the one segment buffer: the longest frame ever handed to the sink (headers +
     * gsoSize), e.g. 256 + 65535. At least {@link #MAX_HEADER_BYTES} + 1.
     */
    public TcpSegmenter(final int maxSegmentBytes)
    {
        if (maxSegmentBytes <= MAX_HEADER_BYTES)
        {
            throw new IllegalArgumentException("segment buffer too small: " + maxSegmentBytes);
        }
        headMemory = BufferUtil.allocateDirectAligned(HEAD_CAPACITY, 64);
        outMemory = BufferUtil.allocateDirectAligned(align64(maxSegmentBytes), 64);
        head = BufferUtil.address(headMemory);
        out = BufferUtil.address(outMemory);
        outCapacity = maxSegmentBytes;
    }

    /** The segment buffer's size: the longest segment this segmenter can emit. */
    public int maxSegmentBytes()
    {
        return outCapacity;
    }

    /**
     * Number of segments the last {@link #segment} call set out to emit (0 if it failed validation). When the sink
     * refused a segment, {@code segment}'s return value is smaller than this.
     */
    public int plannedSegments()
    {
        return plannedSegments;
    }

    /**
     * Cuts the frame described by {@code e} (its scatter list and frame length; its virtio-net header fields are
     * not used) into segments of at most {@code gsoSize} TCP payload bytes and passes each to {@code sink}, in
     * order.
     *
     * @return the number of segments the sink accepted: all of them normally; if {@code sink.accept} returns false
     * (destination full), segmentation stops at once and the number accepted before that refusal is returned (the
     * refused segment is not counted; compare with {@link #plannedSegments()}). A negative {@code ERR_*} code for
     * malformed input, in which case the sink was not called.
     */
    public int segment(final PacketEvent e, final int gsoSize, final Sink sink)
    {
        plannedSegments = 0;
        if (gsoSize <= 0 || gsoSize > 0xFFFF)
        {
            return ERR_BAD_GSO_SIZE;
        }
        final int frameLength = availableLength(e);
        final int headLength = gather(e, Math.min(frameLength, HEAD_CAPACITY));
        if (headLength < ETH_HLEN)
        {
            return ERR_HEADERS_OUTSIDE_FRAME;
        }

        // --- Ethernet and VLAN tags
        int typeOffset = ETHERTYPE_OFFSET;
        int etherType = getShortBE(head + typeOffset);
        for (int tags = 0; tags < MAX_VLAN_TAGS && (etherType == ETHERTYPE_VLAN || etherType == ETHERTYPE_QINQ); tags++)
        {
            typeOffset += 4;
            if (typeOffset + 2 > headLength)
            {
                return ERR_HEADERS_OUTSIDE_FRAME;
            }
            etherType = getShortBE(head + typeOffset);
        }
        final int l3 = typeOffset + 2;

        // --- IP
        final boolean ipv6;
        final int ipHeaderLength;
        final int ipLengthField;   // IPv4 total length, IPv6 payload length
        if (etherType == ETHERTYPE_IPV4)
        {
            ipv6 = false;
            if (l3 + 20 > headLength)
            {
                return ERR_HEADERS_OUTSIDE_FRAME;
            }
            final int versionIhl = U.getByte(head + l3) & 0xFF;
            if ((U.getByte(head + l3 + 9) & 0xFF) != IPPROTO_TCP)
            {
                return ERR_NOT_TCP;
            }
            ipHeaderLength = (versionIhl & 0x0F) * 4;
            if ((versionIhl >>> 4) != 4 || ipHeaderLength < 20 || (getShortBE(head + l3 + 6) & 0x3FFF) != 0)
            {
                return ERR_MALFORMED_HEADER;   // bad version or IHL, or a fragment (MF set or offset non-zero)
            }
            ipLengthField = getShortBE(head + l3 + 2);
        }
        else if (etherType == ETHERTYPE_IPV6)
        {
            ipv6 = true;
            if (l3 + 40 > headLength)
            {
                return ERR_HEADERS_OUTSIDE_FRAME;
            }
            if ((U.getByte(head + l3 + 6) & 0xFF) != IPPROTO_TCP)
            {
                return ERR_NOT_TCP;   // UDP, or an extension header in front of TCP
            }
            if (((U.getByte(head + l3) & 0xFF) >>> 4) != 6)
            {
                return ERR_MALFORMED_HEADER;
            }
            ipHeaderLength = 40;
            ipLengthField = getShortBE(head + l3 + 4);
        }
        else
        {
            return ERR_NOT_TCP;
        }
        final int l4 = l3 + ipHeaderLength;
        if (l4 + 20 > headLength)
        {
            return ERR_HEADERS_OUTSIDE_FRAME;
        }

        // --- TCP
        final int tcpHeaderLength = ((U.getByte(head + l4 + 12) & 0xFF) >>> 4) * 4;
        if (tcpHeaderLength < 20)
        {
            return ERR_MALFORMED_HEADER;
        }
        final int headersLength = l4 + tcpHeaderLength;
        if (headersLength > headLength)
        {
            return ERR_HEADERS_OUTSIDE_FRAME;
        }

        // --- where the payload ends: the IP length field if it is non-zero and shorter than the frame
        int end = frameLength;
        if (ipLengthField != 0)
        {
            final int ipEnd = ipv6 ? l3 + 40 + ipLengthField : l3 + ipLengthField;
            if (ipEnd < headersLength)
            {
                return ERR_MALFORMED_HEADER;
            }
            end = Math.min(end, ipEnd);
        }
        final int payload = end - headersLength;

        // --- segment size and count
        // Checked against the longest segment actually cut, so an over-large gsoSize on a frame that needs only
        // one segment is fine as long as that segment fits.
        final int largest = Math.min(gsoSize, payload);
        final int ipPayloadHeaders = ipv6 ? tcpHeaderLength : ipHeaderLength + tcpHeaderLength;
        if (headersLength + largest > outCapacity || ipPayloadHeaders + largest > 0xFFFF)
        {
            return ERR_BAD_GSO_SIZE;
        }
        final long segmentsNeeded = payload == 0 ? 1 : ((long)payload + gsoSize - 1) / gsoSize;
        if (segmentsNeeded > MAX_SEGMENTS)
        {
            return ERR_TOO_MANY_SEGMENTS;
        }
        final int segments = (int)segmentsNeeded;
        plannedSegments = segments;
        if (sink == null)
        {
            return segments;   // plan(): validated and counted, nothing cut
        }

        // --- per-frame constants
        final int firstSeq = getIntBE(head + l4 + 4);
        final int sourceFlags = U.getByte(head + l4 + 13) & 0xFF;
        final int firstId = ipv6 ? 0 : getShortBE(head + l3 + 4);
        // pseudo-header: addresses + protocol (the TCP length is added per segment)
        final long pseudo = ipv6 ?
            InternetChecksum.sum(head + l3 + 8, 32, IPPROTO_TCP) :
            InternetChecksum.sum(head + l3 + 12, 8, IPPROTO_TCP);

        seek(e, headersLength);
        final long l3Address = out + l3;
        final long l4Address = out + l4;
        final long payloadAddress = out + headersLength;
        int offset = 0;
        for (int i = 0; i < segments; i++)
        {
            final int length = Math.min(gsoSize, payload - offset);
            // Fresh headers every time, so a sink that scribbles on the buffer cannot corrupt the next segment.
            U.copyMemory(head, out, headersLength);
            copyPayload(e, payloadAddress, length);

            final int tcpLength = tcpHeaderLength + length;
            if (ipv6)
            {
                putShortBE(l3Address + 4, tcpLength);
            }
            else
            {
                putShortBE(l3Address + 2, ipHeaderLength + tcpLength);
                putShortBE(l3Address + 4, firstId + i);
                putShortBE(l3Address + 10, 0);
                putShortBE(l3Address + 10, InternetChecksum.finish(InternetChecksum.sum(l3Address, ipHeaderLength)));
            }

            int flags = sourceFlags;
            if (i != segments - 1)
            {
                flags &= ~(TCP_FIN | TCP_PSH);
            }
            if (i != 0)
            {
                flags &= ~TCP_CWR;
            }
            putIntBE(l4Address + 4, firstSeq + offset);
            U.putByte(l4Address + 13, (byte)flags);
            putShortBE(l4Address + 16, 0);
            putShortBE(l4Address + 16,
                InternetChecksum.finish(InternetChecksum.sum(l4Address, tcpLength, pseudo + tcpLength)));

            if (!sink.accept(out, headersLength + length))
            {
                return i;
            }
            offset += length;
        }
        return segments;
    }

    /**
     * Validates the frame as {@link #segment} would and returns how many segments it would cut at {@code gsoSize}
     * (or the same negative {@code ERR_*} code), without copying or checksumming anything: for a source port to
     * refuse a malformed super-frame, and to count the work it would cause, before any destination sees it.
     */
    public int plan(final PacketEvent e, final int gsoSize)
    {
        return segment(e, gsoSize, null);
    }

    /** Frame length actually backed by the scatter list: min(frameLength, sum of positive segment lengths). */
    private static int availableLength(final PacketEvent e)
    {
        final int segments = segmentCount(e);
        long total = 0;
        for (int i = 0; i < segments; i++)
        {
            total += Math.max(0, e.segLength[i]);
        }
        return (int)Math.max(0, Math.min(e.frameLength, total));
    }

    private static int segmentCount(final PacketEvent e)
    {
        return Math.max(0, Math.min(e.segCount, Math.min(e.segAddress.length, e.segLength.length)));
    }

    /** Copies the first {@code want} bytes of the frame into the head scratch buffer. */
    private int gather(final PacketEvent e, final int want)
    {
        seek(e, 0);
        return copyPayload(e, head, want);
    }

    /** Positions the read cursor at frame offset {@code offset}. */
    private void seek(final PacketEvent e, final int offset)
    {
        final int segments = segmentCount(e);
        int segment = 0;
        int remaining = offset;
        while (segment < segments && remaining >= Math.max(0, e.segLength[segment]))
        {
            remaining -= Math.max(0, e.segLength[segment]);
            segment++;
        }
        cursorSegment = segment;
        cursorOffset = remaining;
    }

    /** Copies up to {@code length} bytes from the cursor to {@code dst} and advances it; returns bytes copied. */
    private int copyPayload(final PacketEvent e, final long dst, final int length)
    {
        final int segments = segmentCount(e);
        int segment = cursorSegment;
        int segmentOffset = cursorOffset;
        int copied = 0;
        while (copied < length && segment < segments)
        {
            final int available = Math.max(0, e.segLength[segment]) - segmentOffset;
            if (available <= 0)
            {
                segment++;
                segmentOffset = 0;
                continue;
            }
            final int n = Math.min(available, length - copied);
            U.copyMemory(e.segAddress[segment] + segmentOffset, dst + copied, n);
            copied += n;
            segmentOffset += n;
            if (segmentOffset == e.segLength[segment])
            {
                segment++;
                segmentOffset = 0;
            }
        }
        cursorSegment = segment;
        cursorOffset = segmentOffset;
        return copied;
    }

    private static int align64(final int value)
    {
        return (value + 63) & ~63;
    }

    private static int getShortBE(final long address)
    {
        return ((U.getByte(address) & 0xFF) << 8) | (U.getByte(address + 1) & 0xFF);
    }

    private static int getIntBE(final long address)
    {
        return (getShortBE(address) << 16) | getShortBE(address + 2);
    }

    private static void putShortBE(final long address, final int value)
    {
        U.putByte(address, (byte)(value >>> 8));
        U.putByte(address + 1, (byte)value);
    }

    private static void putIntBE(final long address, final int value)
    {
        putShortBE(address, value >>> 16);
        putShortBE(address + 2, value);
    }
}
