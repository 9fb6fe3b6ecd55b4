package dev.vswitch.pipeline.offload;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import org.agrona.UnsafeAccess;

import static dev.vswitch.pipeline.offload.EthernetLayout.ETH_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.TCP_DATA_OFFSET_OFFSET;
import static dev.vswitch.pipeline.offload.EthernetLayout.TCP_MIN_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.VLAN_HLEN;
import static dev.vswitch.pipeline.offload.VirtioNetHdr.F_NEEDS_CSUM;
import static dev.vswitch.pipeline.offload.VirtioNetHdr.GSO_ECN;
import static dev.vswitch.pipeline.offload.VirtioNetHdr.GSO_NONE;
import static dev.vswitch.pipeline.offload.VirtioNetHdr.GSO_TCPV4;
import static dev.vswitch.pipeline.offload.VirtioNetHdr.GSO_TCPV6;

/**
 * The switch's one offload decision, made by every port for every frame it transmits, and the one check of the
 * offload request every port receives. A frame's request travels with it in its {@link PacketEvent} (the source's
 * {@code virtio_net_hdr}: NEEDS_CSUM, gso_type TCPV4/TCPV6 maybe with ECN, gso_size, csum_start/offset); a
 * destination says what it accepts as a set of {@code ACCEPTS_*} bits (a vhost-user guest: its negotiated GUEST_*
 * features; a TAP: what TUNSETOFFLOAD gave the kernel) and has an MTU. {@link #decide} answers:
 * <ul>
 * <li>{@link #PASS}: write the frame as it is; when it carries a request, hand it on in the header
 * ({@link #headerLength()} is the hdr_len to write).</li>
 * <li>{@link #COMPLETE}: complete the partial checksum in software ({@link ChecksumCompletion}) and write a header
 * asking for nothing.</li>
 * <li>{@link #SEGMENT}: cut the super-frame in software ({@link TcpSegmenter}) into segments of
 * {@link #segmentSize()} TCP payload bytes (the last one shorter), each complete, behind a header asking for nothing.</li>
 * <li>{@link #DROP}: count {@link #dropReason()} against the destination.</li>
 * </ul>
 *
 * <h2>The rules</h2>
 * The destination's largest frame is its MTU + 14 (+ 4 for a VLAN-tagged frame). The hdr_len handed on is
 * recomputed from the frame, never copied from the source (it is a hint that Linux's guests and tun fill
 * differently, and a stage that pushes or pops a VLAN tag moves it): for TCP (a super-frame, or a partial checksum
 * at TCP's checksum offset 16) the end of the TCP header, csum_start (where TCP starts) + the TCP data offset; for
 * another partial checksum (UDP's, at offset 6) the end of the checksum field, csum_start + csum_offset + 2, which
 * is where Linux's tun rounds a shorter hdr_len up to. For a super-frame that length is {@code headers} below.
 * <ul>
 * <li>Not a super-frame: longer than the largest frame: DROP TOO_BIG; shorter than an Ethernet header: DROP RUNT.
 * With NEEDS_CSUM: a checksum field outside the frame: DROP BAD_HEADER; the destination accepts CSUM: PASS (header
 * with NEEDS_CSUM, csum_start/offset and the recomputed hdr_len), else COMPLETE.</li>
 * <li>A super-frame must be TCPV4/TCPV6 (ECN bit allowed), with a non-zero gso_size, NEEDS_CSUM, its checksum field
 * inside the frame, csum_start past the Ethernet header and a whole TCP header there: else DROP BAD_HEADER.</li>
 * <li>The destination accepts its type (TSO4 or TSO6, and ECN when the ECN bit is set): PASS with hdr_len =
 * {@code headers}, when every segment the destination will cut, {@code headers + gso_size}, fits its largest frame;
 * else DROP TOO_BIG (the source's stack chose that size; a destination that asked for super-frames gets them as
 * sent or not at all).</li>
 * <li>It does not: SEGMENT at {@code min(gso_size, largest frame - headers)}: the payload that fits the
 * destination's MTU once the frame's own L3 + L4 headers are counted, so a super-frame from a 9000-MTU source
 * reaches a 1500-MTU destination as 1500-MTU segments; DROP TOO_BIG when the headers alone fill the MTU.</li>
 * </ul>
 * Limits of a port's own (the TAP's largest write) stay with the port.
 *
 * <h2>Receive</h2>
 * {@link #checkReceived} is what both port types apply to the header a source hands them, with the offloads the
 * source may use (what was negotiated with it) as {@code ACCEPTS_*} bits.
 *
 * <p>One instance per port, used by the thread that owns it: {@link #decide} returns a primitive code and leaves the
 * size, header length and drop reason in fields, so nothing is allocated per frame.
 */
public final class OffloadPolicy
{
    public static final int PASS = 0;
    public static final int COMPLETE = 1;
    public static final int SEGMENT = 2;
    public static final int DROP = 3;

    /** The destination completes partial checksums (virtio GUEST_CSUM, tun TUN_F_CSUM). */
    public static final int ACCEPTS_CSUM = 1;
    /** The destination takes TCP/IPv4 super-frames (GUEST_TSO4, TUN_F_TSO4). */
    public static final int ACCEPTS_TSO4 = 1 << 1;
    /** The destination takes TCP/IPv6 super-frames (GUEST_TSO6, TUN_F_TSO6). */
    public static final int ACCEPTS_TSO6 = 1 << 2;
    /** The destination takes super-frames with the ECN bit (GUEST_ECN, TUN_F_TSO_ECN). */
    public static final int ACCEPTS_ECN = 1 << 3;
    public static final int ACCEPTS_NONE = 0;
    public static final int ACCEPTS_ALL = ACCEPTS_CSUM | ACCEPTS_TSO4 | ACCEPTS_TSO6 | ACCEPTS_ECN;

    /**
     * Smallest gso_size a received super-frame may ask for. Linux never sends less than TCP_MIN_MSS (88 = 128 bytes
     * of the smallest IPv4 + TCP headers with options, less 40) unless a peer advertises a smaller MSS, and a smaller
     * one is how a source turns one 64 KB frame into a thousand segments of work for the switch and its peers.
     */
    public static final int MIN_GSO_SIZE = 88;

    private static final sun.misc.Unsafe U = UnsafeAccess.UNSAFE;

    private int segmentSize;
    private int headerLength;
    private int dropReason;

    /** For {@link #SEGMENT}: TCP payload bytes per segment (the last one may be shorter); meaningless otherwise. */
    public int segmentSize()
    {
        return segmentSize;
    }

    /**
     * For {@link #PASS} of a frame with a request: the hdr_len to hand on, recomputed (see the class comment; 0 for
     * a frame without a request). For {@link #SEGMENT}: the super-frame's headers, as each segment has them.
     */
    public int headerLength()
    {
        return headerLength;
    }

    /** For {@link #DROP}: the {@link DropReason} to count; meaningless otherwise. */
    public int dropReason()
    {
        return dropReason;
    }

    /** The destination's largest frame: MTU plus the Ethernet header, plus a VLAN tag if the frame has one. */
    public static int maxFrame(final PacketEvent e, final int mtu)
    {
        return mtu + ETH_HLEN + ((e.packetFlags & PacketEvent.FLAG_VLAN) != 0 ? VLAN_HLEN : 0);
    }

    /**
     * Decides what a destination that {@code accepts} these offloads and has this {@code mtu} does with the frame.
     * Reads the frame's TCP header length (one byte) when it is a super-frame; allocates nothing.
     */
    public int decide(final PacketEvent e, final int accepts, final int mtu)
    {
        final int gsoType = e.gsoType;
        if (gsoType == GSO_NONE && (e.vnetFlags & F_NEEDS_CSUM) == 0)
        {
            // The common case, kept small enough to inline into a port's transmit: a frame asking for nothing.
            final int length = e.frameLength;
            if (length <= maxFrame(e, mtu) && length >= ETH_HLEN)
            {
                headerLength = 0;
                return PASS;
            }
        }
        int headers = 0;
        if (gsoType != GSO_NONE)
        {
            headers = tcpHeadersEnd(e);
        }
        else if ((e.vnetFlags & F_NEEDS_CSUM) != 0 && (accepts & ACCEPTS_CSUM) != 0)
        {
            headers = checksummedHeadersEnd(e);   // only read where the request is passed on
        }
        return decide(e.vnetFlags, gsoType, e.gsoSize, e.csumStart, e.csumOffset, headers, e.frameLength,
            maxFrame(e, mtu), accepts);
    }

    /**
     * The decision over primitives: {@code headers} is the recomputed hdr_len: a super-frame's Ethernet-to-end-of-TCP
     * length (as {@link #tcpHeadersEnd} finds it; -1 when it is not inside the frame), a partial checksum's as
     * {@link #checksummedHeadersEnd} finds it, ignored for other frames;
     * {@code maxFrame} the destination's largest frame for this one ({@link #maxFrame}).
     */
    public int decide(final int flags, final int gsoType, final int gsoSize, final int csumStart,
        final int csumOffset, final int headers, final int frameLength, final int maxFrame, final int accepts)
    {
        segmentSize = 0;
        headerLength = 0;
        dropReason = DropReason.NONE;
        final boolean needsCsum = (flags & F_NEEDS_CSUM) != 0;
        if (gsoType == GSO_NONE)
        {
            if (frameLength > maxFrame)
            {
                return drop(DropReason.TOO_BIG);
            }
            if (frameLength < ETH_HLEN)
            {
                return drop(DropReason.RUNT);
            }
            if (!needsCsum)
            {
                return PASS;
            }
            if (!ChecksumCompletion.valid(frameLength, csumStart, csumOffset))
            {
                return drop(DropReason.BAD_HEADER);   // checksum code must never be pointed outside the frame
            }
            if ((accepts & ACCEPTS_CSUM) == 0)
            {
                return COMPLETE;
            }
            final int fieldEnd = csumStart + csumOffset + 2;
            headerLength = headers >= fieldEnd && headers <= frameLength ? headers : fieldEnd;
            return PASS;
        }

        if (!VirtioNetHdr.isTcpGso(gsoType) || gsoSize <= 0 || !needsCsum ||
            !ChecksumCompletion.valid(frameLength, csumStart, csumOffset) || csumStart < ETH_HLEN ||
            headers < csumStart + TCP_MIN_HLEN || headers > frameLength)
        {
            return drop(DropReason.BAD_HEADER);
        }
        headerLength = headers;
        if (acceptsGso(accepts, gsoType))
        {
            if (headers + gsoSize > maxFrame)
            {
                return drop(DropReason.TOO_BIG);   // a segment the destination cuts would break its MTU
            }
            return PASS;
        }
        final int fits = maxFrame - headers;
        if (fits <= 0)
        {
            return drop(DropReason.TOO_BIG);   // the headers alone fill the MTU
        }
        segmentSize = Math.min(gsoSize, fits);
        return SEGMENT;
    }

    private int drop(final int reason)
    {
        dropReason = reason;
        return DROP;
    }

    /** Whether a destination that {@code accepts} these offloads takes a super-frame of {@code gsoType} whole. */
    public static boolean acceptsGso(final int accepts, final int gsoType)
    {
        final int base = VirtioNetHdr.gsoBase(gsoType);
        final int needed = (base == GSO_TCPV4 ? ACCEPTS_TSO4 : base == GSO_TCPV6 ? ACCEPTS_TSO6 : -1) |
            ((gsoType & GSO_ECN) != 0 ? ACCEPTS_ECN : 0);
        return needed > 0 && (accepts & needed) == needed;
    }

    /**
     * Checks the offload request of a frame a port received, with the offloads its source may use
     * ({@code ACCEPTS_*}: what was negotiated with it). Fields a header asking for nothing does not use are not
     * looked at (a tun may leave hdr_len set). Otherwise:
     * <ul>
     * <li>NEEDS_CSUM only if CSUM was negotiated, with the checksum field inside the frame (CVE-2024-11614: checksum
     * code must never be steered outside it);</li>
     * <li>a super-frame only of a negotiated type (TCPV4 / TCPV6 for TSO4 / TSO6, the ECN bit for ECN; never UDP,
     * never other bits), with gso_size at least {@link #MIN_GSO_SIZE}, and with NEEDS_CSUM (virtio 1.2, 5.1.6.2: a
     * super-frame always carries a partial checksum);</li>
     * <li>hdr_len not beyond the frame.</li>
     * </ul>
     * Whether the super-frame's headers parse is checked by the port that received it
     * ({@link TcpSegmenter#plan}), so a malformed one is dropped at its source.
     *
     * @return {@link DropReason#NONE}, or {@link DropReason#BAD_HEADER}.
     */
    public static int checkReceived(final int flags, final int gsoType, final int hdrLen, final int gsoSize,
        final int csumStart, final int csumOffset, final int frameLength, final int mayUse)
    {
        final boolean needsCsum = (flags & F_NEEDS_CSUM) != 0;
        if (!needsCsum && gsoType == GSO_NONE)
        {
            return DropReason.NONE;
        }
        if (needsCsum &&
            ((mayUse & ACCEPTS_CSUM) == 0 || !ChecksumCompletion.valid(frameLength, csumStart, csumOffset)))
        {
            return DropReason.BAD_HEADER;
        }
        if (gsoType != GSO_NONE && (!acceptsGso(mayUse, gsoType) || gsoSize < MIN_GSO_SIZE || !needsCsum))
        {
            return DropReason.BAD_HEADER;
        }
        if (hdrLen > frameLength)
        {
            return DropReason.BAD_HEADER;
        }
        return DropReason.NONE;
    }

    /**
     * A super-frame's Ethernet-to-end-of-TCP length: csum_start (where its partial checksum, and so TCP, starts)
     * plus the TCP data offset read from the frame; -1 when the TCP header's first 20 bytes are not inside the frame
     * (the caller then drops it as BAD_HEADER).
     */
    public static int tcpHeadersEnd(final PacketEvent e)
    {
        final int csumStart = e.csumStart;
        if (csumStart < ETH_HLEN || csumStart + TCP_MIN_HLEN > e.frameLength)
        {
            return -1;
        }
        final int dataOffset = byteAt(e, csumStart + TCP_DATA_OFFSET_OFFSET);
        return dataOffset < 0 ? -1 : csumStart + (dataOffset >>> 4) * 4;
    }

    /**
     * The hdr_len handed on with a partial checksum alone: the end of the TCP header when the checksum sits at TCP's
     * offset and a whole TCP header is in the frame, else the end of the checksum field (UDP: the end of its header).
     */
    public static int checksummedHeadersEnd(final PacketEvent e)
    {
        final int fieldEnd = e.csumStart + e.csumOffset + 2;
        if (e.csumOffset == EthernetLayout.TCP_CHECKSUM_OFFSET)
        {
            final int tcpEnd = tcpHeadersEnd(e);
            if (tcpEnd >= fieldEnd && tcpEnd <= e.frameLength)
            {
                return tcpEnd;
            }
        }
        return fieldEnd;
    }

    /** Byte {@code offset} of the frame, read out of its scatter list; -1 when the list is shorter. */
    private static int byteAt(final PacketEvent e, final int offset)
    {
        int at = offset;
        for (int i = 0; i < e.segCount; i++)
        {
            final int n = e.segLength[i];
            if (at < n)
            {
                return U.getByte(e.segAddress[i] + at) & 0xff;
            }
            at -= n;
        }
        return -1;
    }
}
