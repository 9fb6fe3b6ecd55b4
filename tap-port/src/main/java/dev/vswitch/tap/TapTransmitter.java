package dev.vswitch.tap;

import dev.vswitch.nativeio.Errno;
import dev.vswitch.nativeio.LibC;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.offload.ChecksumCompletion;
import dev.vswitch.pipeline.offload.EthernetLayout;
import dev.vswitch.pipeline.offload.OffloadPolicy;
import dev.vswitch.pipeline.offload.TcpSegmenter;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import org.agrona.BufferUtil;
import org.agrona.UnsafeAccess;
import sun.misc.Unsafe;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;

/**
 * A TAP port's transmit path (switch -&gt; host): injects each frame with one {@code writev(2)}, iovec[0] the
 * {@code virtio_net_hdr}, then the frame's segments in place (guest memory, for a frame from a vhost-user port), so
 * the only copy is the kernel's into its skb. What goes in the header, and whether the switch must finish the frame
 * first, is {@link OffloadPolicy}'s decision from the frame's request, the tap's offloads and its MTU:
 * <ul>
 * <li>PASS: a plain frame behind a zero header; a partial checksum or a TCP super-frame with its request in the
 * header ({@code hdr_len} recomputed from the frame's headers), for the kernel to finish
 * ({@link PortCounters#TX_GSO} for a super-frame). The MTU then applies to each segment the kernel will cut.</li>
 * <li>COMPLETE: the partial checksum computed here and spliced in as an iovec of its own, so the source's memory
 * is never written ({@link PortCounters#TX_CSUM_FILLED}).</li>
 * <li>SEGMENT: the super-frame cut into segments that fit the MTU, with complete checksums, each written on its own
 * ({@link PortCounters#TX_SEGMENTED}; TX_PACKETS counts segments). A write that fails stops the frame.</li>
 * </ul>
 * Super-frames longer than {@link #MAX_GSO_FRAME} (more than a read could return) are too big for a tap either way.
 * The DATA_VALID flag a source may carry is never passed on: it spoke for the source's kernel only.
 *
 * <p>PMD thread only (or the one writer thread of a mirror tap); allocates nothing after construction.
 */
final class TapTransmitter
{
    /** Largest GSO super-frame transmitted: whatever a receive can return, so tap-to-tap always fits. */
    static final int MAX_GSO_FRAME = TapReceiver.READ_CAPACITY - VirtioNetHdr.LENGTH;
    /** Where in the header buffer a checksum completed in software is held for its iovec. */
    private static final int PATCH_OFFSET = 16;
    private static final Unsafe U = UnsafeAccess.UNSAFE;

    private final int mtu;
    private final int accepts;
    private final PortCounters counters;
    private final TapErrors errors;
    private final OffloadPolicy policy = new OffloadPolicy();

    // iovec[0] is the virtio_net_hdr at txHeader (rewritten for every frame: all zero unless the kernel is to finish
    // it), iovec[1..] the frame's segments (+2 when a completed checksum is spliced in).
    private final ByteBuffer iovMemory;
    private final long iovAddress;
    private final ByteBuffer txHeaderMemory;
    /** The 12 header bytes at +0 (the last two, num_buffers, always zero); a checksum completed here at +16. */
    private final long txHeader;
    private final VirtioNetHdr header;
    /** Software segmentation for a tap without TSO (null with offloads: the kernel segments). */
    private final TcpSegmenter segmenter;
    private final SegmentWriter segmentWriter;

    TapTransmitter(final int mtu, final boolean offloads, final PortCounters counters, final TapErrors errors)
    {
        this.mtu = mtu;
        this.accepts = TapOffloads.accepts(offloads);
        this.counters = counters;
        this.errors = errors;
        txHeaderMemory = BufferUtil.allocateDirectAligned(64, 64);   // direct buffers start zeroed
        txHeader = BufferUtil.address(txHeaderMemory);
        header = new VirtioNetHdr().wrap(txHeader);
        iovMemory = BufferUtil.allocateDirectAligned((1 + PacketEvent.MAX_SEGMENTS + 2) * LibC.IOVEC_SIZE, 64);
        iovAddress = BufferUtil.address(iovMemory);
        U.putLong(iovAddress, txHeader);
        U.putLong(iovAddress + 8, VirtioNetHdr.LENGTH);
        // The longest segment cut is the MTU plus Ethernet and a VLAN tag; the segmenter needs room for its
        // longest header chain.
        segmenter = offloads ? null : new TcpSegmenter(Math.max(mtu + EthernetLayout.ETH_HLEN +
            EthernetLayout.VLAN_HLEN, TcpSegmenter.MAX_HEADER_BYTES + 1));
        segmentWriter = offloads ? null : new SegmentWriter();
    }

    boolean transmit(final int fd, final PacketEvent e)
    {
        final OffloadPolicy policy = this.policy;
        final int decision = policy.decide(e, accepts, mtu);
        if (decision != OffloadPolicy.DROP && e.gsoType != VirtioNetHdr.GSO_NONE && e.frameLength > MAX_GSO_FRAME)
        {
            counters.drop(DropReason.TOO_BIG);
            return false;
        }
        switch (decision)
        {
            case OffloadPolicy.PASS:
                if (e.gsoType != VirtioNetHdr.GSO_NONE)
                {
                    header.set(VirtioNetHdr.F_NEEDS_CSUM, e.gsoType, policy.headerLength(), e.gsoSize, e.csumStart,
                        e.csumOffset);
                    if (written(writev(fd, e), e.frameLength))
                    {
                        counters.increment(PortCounters.TX_GSO);
                        return true;
                    }
                    return false;
                }
                if ((e.vnetFlags & VirtioNetHdr.F_NEEDS_CSUM) != 0)
                {
                    header.set(VirtioNetHdr.F_NEEDS_CSUM, VirtioNetHdr.GSO_NONE, policy.headerLength(), 0,
                        e.csumStart, e.csumOffset);
                }
                else
                {
                    header.set(0, VirtioNetHdr.GSO_NONE, 0, 0, 0, 0);
                }
                return written(writev(fd, e), e.frameLength);
            case OffloadPolicy.COMPLETE:
                return fillChecksum(fd, e);
            case OffloadPolicy.SEGMENT:
                return segment(fd, e, policy.segmentSize(), OffloadPolicy.maxFrame(e, mtu));
            default:
                counters.drop(policy.dropReason());
                return false;
        }
    }

    /**
     * The kernel was not given checksum offload: completes the partial checksum in software and writes the frame
     * with the result spliced in, as an iovec of its own between the bytes before and after the field, so the
     * source's memory (another port's buffer, guest memory) is never written.
     */
    private boolean fillChecksum(final int fd, final PacketEvent e)
    {
        int value = ChecksumCompletion.compute(e);
        if (value < 0)
        {
            counters.drop(DropReason.BAD_HEADER);
            return false;
        }
        if (value == 0)
        {
            // As the kernel does (CSUM_MANGLED_0): the same sum in one's complement for TCP, and for UDP the only
            // way to say "checksummed, result 0", since 0 there means "no checksum" (and is invalid over IPv6).
            value = 0xffff;
        }
        final long patch = txHeader + PATCH_OFFSET;
        U.putByte(patch, (byte)(value >>> 8));   // network byte order
        U.putByte(patch + 1, (byte)value);
        header.set(0, VirtioNetHdr.GSO_NONE, 0, 0, 0, 0);

        final int field = e.csumStart + e.csumOffset;   // checked: field + 2 <= frameLength
        final int fieldEnd = field + 2;
        long iov = iovAddress + LibC.IOVEC_SIZE;
        int count = 1;
        boolean patched = false;
        int at = 0;   // frame offset of segment i
        for (int i = 0; i < e.segCount; i++)
        {
            final long address = e.segAddress[i];
            final int end = at + e.segLength[i];
            // [at, end) minus [field, fieldEnd): at most the part before and the part after the field
            final int beforeEnd = Math.min(end, field);
            if (beforeEnd > at)
            {
                U.putLong(iov, address);
                U.putLong(iov + 8, beforeEnd - at);
                iov += LibC.IOVEC_SIZE;
                count++;
            }
            if (!patched && end > field)
            {
                U.putLong(iov, patch);
                U.putLong(iov + 8, 2);
                iov += LibC.IOVEC_SIZE;
                count++;
                patched = true;
            }
            final int afterStart = Math.max(at, fieldEnd);
            if (end > afterStart)
            {
                U.putLong(iov, address + (afterStart - at));
                U.putLong(iov + 8, end - afterStart);
                iov += LibC.IOVEC_SIZE;
                count++;
            }
            at = end;
        }
        if (written(writev(fd, count), e.frameLength))
        {
            counters.increment(PortCounters.TX_CSUM_FILLED);
            return true;
        }
        return false;
    }

    /**
     * The kernel was not given TSO: cuts the super-frame into segments of at most {@code mss} payload bytes (as the
     * policy sized them to fit the MTU), each with complete IP and TCP checksums, and writes each behind a zero
     * header. A write that fails stops the frame; the segments before it are out.
     */
    private boolean segment(final int fd, final PacketEvent e, final int mss, final int limit)
    {
        header.set(0, VirtioNetHdr.GSO_NONE, 0, 0, 0, 0);
        final SegmentWriter writer = segmentWriter;
        writer.fd = fd;
        writer.limit = limit;
        final int sent = segmenter.segment(e, mss, writer);
        if (sent < 0)
        {
            counters.drop(DropReason.BAD_HEADER);   // headers the segmenter cannot parse (not TCP, truncated, ...)
            return false;
        }
        return sent == segmenter.plannedSegments();
    }

    /** Writes each segment the segmenter cuts: iovec[0] the zero header, iovec[1] the segment in its buffer. */
    private final class SegmentWriter implements TcpSegmenter.Sink
    {
        int fd;
        int limit;

        @Override
        public boolean accept(final long address, final int length)
        {
            if (length > limit)
            {
                counters.drop(DropReason.TOO_BIG);   // cannot happen while the segmenter agrees on the headers
                return false;
            }
            U.putLong(iovAddress + LibC.IOVEC_SIZE, address);
            U.putLong(iovAddress + LibC.IOVEC_SIZE + 8, length);
            if (written(writev(fd, 2), length))
            {
                counters.increment(PortCounters.TX_SEGMENTED);
                return true;
            }
            return false;
        }
    }

    /** Writes the header then the event's segments, as they are; 0 or the errno of the failed write. */
    private int writev(final int fd, final PacketEvent e)
    {
        final int segments = e.segCount;
        long iov = iovAddress + LibC.IOVEC_SIZE;   // iovec[0] is the header, set up once
        for (int i = 0; i < segments; i++)
        {
            U.putLong(iov, e.segAddress[i]);
            U.putLong(iov + 8, e.segLength[i]);
            iov += LibC.IOVEC_SIZE;
        }
        return writev(fd, segments + 1);
    }

    /** {@code writev(fd, iovec[0..count))}, retried on EINTR; 0 or the errno of the failed write. */
    private int writev(final int fd, final int count)
    {
        long written;
        int errno = 0;
        do
        {
            written = LibC.Raw.writev(fd, iovAddress, count);
        }
        while (written < 0 && Errno.EINTR == (errno = Errno.last()));
        Reference.reachabilityFence(iovMemory);
        Reference.reachabilityFence(txHeaderMemory);
        return written < 0 ? errno : 0;
    }

    /** Counts a write of {@code length} frame bytes that ended with {@code errno} (0: success). */
    private boolean written(final int errno, final int length)
    {
        if (errno != 0)
        {
            return writeFailed(errno);
        }
        counters.increment(PortCounters.TX_PACKETS);
        counters.add(PortCounters.TX_BYTES, length);
        return true;
    }

    private boolean writeFailed(final int errno)
    {
        switch (errno)
        {
            case Errno.EAGAIN:
            case Errno.ENOBUFS:
                counters.drop(DropReason.RING_FULL);   // the kernel's queue is full; nothing to retry into
                return false;
            case Errno.EIO:       // interface administratively down
            case Errno.EBADFD:    // interface deleted under the fd
            case Errno.ENODEV:
            case Errno.ENXIO:
                counters.drop(DropReason.PORT_DOWN);
                errors.writeFailed(errno, true);
                return false;
            default:
                errors.writeFailed(errno, false);
                return false;
        }
    }
}
