package dev.vswitch.pipeline.offload;

import dev.vswitch.pipeline.PacketEvent;
import org.agrona.UnsafeAccess;

/**
 * Software completion of a partial checksum ({@code VIRTIO_NET_HDR_F_NEEDS_CSUM}) for a destination that did not
 * negotiate checksum offload.
 *
 * <p>virtio semantics: the driver has stored, at {@code csum_start + csum_offset}, the folded pseudo-header sum
 * (not complemented); the device must compute the Internet checksum from {@code csum_start} to the end of the
 * frame, <em>including</em> that seeded field, and store the result at the same place. {@link #compute} returns
 * that value; the caller stores it (big-endian) in its copy of the frame, e.g. with {@link #store}, and then
 * clears NEEDS_CSUM (or sets DATA_VALID) in the header it hands on.
 *
 * <p>Frame offsets here are relative to the start of the Ethernet frame (the virtio-net header is not part of the
 * scatter list). No allocation.
 */
public final class ChecksumCompletion
{
    private ChecksumCompletion()
    {
    }

    /**
     * Whether {@code csumStart} and {@code csumOffset} describe a 2-byte field inside a frame of
     * {@code frameLength} bytes: all non-negative and {@code csumStart + csumOffset + 2 <= frameLength}, computed
     * without int overflow.
     */
    public static boolean valid(final int frameLength, final int csumStart, final int csumOffset)
    {
        return frameLength >= 0 && csumStart >= 0 && csumOffset >= 0 &&
            (long)csumStart + (long)csumOffset + 2L <= (long)frameLength;
    }

    /**
     * The 16-bit value (network byte order, as an int 0..0xffff) the device must store at
     * {@code csumStart + csumOffset}: the one's complement of the one's-complement sum of the frame from
     * {@code csumStart} to its end, with the field's current (seeded) content included. The raw value is returned:
     * no 0 to 0xffff substitution for UDP is done.
     *
     * @return the value, or -1 when {@link #valid} rejects the event's {@code frameLength}, {@code csumStart} and
     * {@code csumOffset}.
     */
    public static int compute(final PacketEvent e)
    {
        final int frameLength = e.frameLength;
        final int csumStart = e.csumStart;
        if (!valid(frameLength, csumStart, e.csumOffset))
        {
            return -1;
        }
        final long sum = InternetChecksum.sum(
            e.segAddress, e.segLength, e.segCount, csumStart, frameLength - csumStart, 0);
        return InternetChecksum.finish(sum);
    }

    /**
     * Stores a 16-bit value big-endian at frame offset {@code offset} of a scatter list; the two bytes may lie in
     * different segments. Writes nothing and returns false when either byte is outside the scatter list.
     */
    public static boolean store(
        final long[] segAddress, final int[] segLength, final int segCount, final int offset, final int value)
    {
        if (offset < 0)
        {
            return false;
        }
        final long hi = addressOf(segAddress, segLength, segCount, offset);
        final long lo = addressOf(segAddress, segLength, segCount, offset + 1L);
        if (hi == 0 || lo == 0)
        {
            return false;
        }
        UnsafeAccess.UNSAFE.putByte(hi, (byte)(value >>> 8));
        UnsafeAccess.UNSAFE.putByte(lo, (byte)value);
        return true;
    }

    /** Host address of frame byte {@code offset}, or 0 when the scatter list is shorter. */
    private static long addressOf(final long[] segAddress, final int[] segLength, final int segCount, final long offset)
    {
        final int segments = Math.min(segCount, Math.min(segAddress.length, segLength.length));
        long skip = offset;
        for (int i = 0; i < segments; i++)
        {
            final int len = segLength[i];
            if (len <= 0)
            {
                continue;
            }
            if (skip < len)
            {
                return segAddress[i] + skip;
            }
            skip -= len;
        }
        return 0;
    }
}
