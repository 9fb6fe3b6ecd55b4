package dev.vswitch.pipeline.offload;

import org.agrona.UnsafeAccess;

import java.nio.ByteOrder;

/**
 * The Internet checksum (RFC 1071): the 16-bit one's-complement sum of big-endian 16-bit words, over raw host
 * memory, either one contiguous range or a range of a frame described as a scatter list.
 *
 * <p>{@code sum} methods return an <em>unfolded</em> accumulator (a non-negative long congruent to the one's-complement
 * sum modulo 0xffff), which can be passed as {@code initial} to a further {@code sum} to chain ranges (e.g. a
 * pseudo-header, then the L4 header, then payload). {@link #fold} reduces it to 16 bits, {@link #finish} gives the
 * value stored in a header's checksum field. Any {@code long} is accepted as {@code initial}; it is read as an
 * unsigned 64-bit accumulator.
 *
 * <p>Word alignment is relative to the start of the range: the first byte of the range is the high byte of the
 * first word, whatever its address or its position in its segment. Segments may have any length (odd included);
 * a range of odd length is padded with one zero byte at the end, as RFC 1071 says.
 *
 * <p>No allocation; reads only inside the given ranges (a scatter-list range that runs past the scatter list is
 * clipped to it, never read beyond).
 */
public final class InternetChecksum
{
    private static final sun.misc.Unsafe U = UnsafeAccess.UNSAFE;
    private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private InternetChecksum()
    {
    }

    /** One's-complement accumulation over {@code length} bytes at {@code address}, starting at 0. */
    public static long sum(final long address, final int length)
    {
        return sum(address, length, 0);
    }

    /**
     * One's-complement accumulation over {@code length} bytes at {@code address}, added to {@code initial}. The
     * byte at {@code address} is the high byte of the first word. Nothing is read when {@code length <= 0}.
     */
    public static long sum(final long address, final int length, final long initial)
    {
        final long acc = reduce(initial);
        return length <= 0 ? acc : acc + block(address, length);
    }

    /**
     * One's-complement accumulation over bytes {@code [offset, offset + length)} of the frame formed by
     * concatenating {@code segCount} segments ({@code segAddress[i]}, {@code segLength[i]}), added to
     * {@code initial}. The byte at frame offset {@code offset} is the high byte of the first word, even when it
     * sits at an odd position of its segment, and words may straddle segments. Bytes of the range beyond the end
     * of the scatter list are treated as absent (not read, not summed); segments of length {@code <= 0} are
     * skipped.
     */
    public static long sum(
        final long[] segAddress, final int[] segLength, final int segCount, final int offset, final int length,
        final long initial)
    {
        long acc = reduce(initial);
        if (offset < 0 || length <= 0)
        {
            return acc;
        }
        final int segments = Math.min(segCount, Math.min(segAddress.length, segLength.length));
        int skip = offset;
        int remaining = length;
        boolean odd = false;   // does the next chunk start at an odd position relative to the range start?
        for (int i = 0; i < segments && remaining > 0; i++)
        {
            final int segLen = segLength[i];
            if (segLen <= 0)
            {
                continue;
            }
            if (skip >= segLen)
            {
                skip -= segLen;
                continue;
            }
            final int n = Math.min(segLen - skip, remaining);
            final long chunk = block(segAddress[i] + skip, n);
            skip = 0;
            // A chunk starting at an odd position has its bytes in the other halves of the words: its
            // contribution is the byte-swapped (folded) sum of the chunk taken on its own (RFC 1071, 2.(B)).
            acc += odd ? swap16(fold(chunk)) : chunk;
            if ((n & 1) != 0)
            {
                odd = !odd;
            }
            remaining -= n;
        }
        return acc;
    }

    /** Folds an accumulator to the 16-bit one's-complement sum (0 only when everything summed was zero). */
    public static int fold(final long sum)
    {
        long s = (sum >>> 32) + (sum & 0xFFFF_FFFFL);
        while ((s >>> 16) != 0)
        {
            s = (s >>> 16) + (s & 0xFFFFL);
        }
        return (int)s;
    }

    /** The value for a checksum field: the one's complement of the folded sum, 0..0xffff. */
    public static int finish(final long sum)
    {
        return ~fold(sum) & 0xFFFF;
    }

    /** Swaps the two bytes of a 16-bit value. */
    static int swap16(final int value)
    {
        return ((value & 0xFF) << 8) | ((value >>> 8) & 0xFF);
    }

    /** Reduces any 64-bit accumulator to a congruent one below 2^33, so chained sums cannot overflow. */
    private static long reduce(final long sum)
    {
        return (sum >>> 32) + (sum & 0xFFFF_FFFFL);
    }

    /**
     * Sum of big-endian 32-bit words (congruent to the sum of 16-bit words, since 2^16 == 1 mod 0xffff) over a
     * contiguous range starting at an even position; an odd trailing byte is the high byte of a padded word. At
     * most 2^33 per 8 bytes, so no overflow for any int length.
     */
    private static long block(final long address, final int length)
    {
        long acc = 0;
        int i = 0;
        if (LITTLE_ENDIAN)
        {
            for (; i + 8 <= length; i += 8)
            {
                final long v = Long.reverseBytes(U.getLong(address + i));
                acc += (v >>> 32) + (v & 0xFFFF_FFFFL);
            }
            if (i + 4 <= length)
            {
                acc += Integer.reverseBytes(U.getInt(address + i)) & 0xFFFF_FFFFL;
                i += 4;
            }
            if (i + 2 <= length)
            {
                acc += Short.reverseBytes(U.getShort(address + i)) & 0xFFFFL;
                i += 2;
            }
        }
        else
        {
            for (; i + 8 <= length; i += 8)
            {
                final long v = U.getLong(address + i);
                acc += (v >>> 32) + (v & 0xFFFF_FFFFL);
            }
            if (i + 4 <= length)
            {
                acc += U.getInt(address + i) & 0xFFFF_FFFFL;
                i += 4;
            }
            if (i + 2 <= length)
            {
                acc += U.getShort(address + i) & 0xFFFFL;
                i += 2;
            }
        }
        if (i < length)
        {
            acc += (U.getByte(address + i) & 0xFFL) << 8;
        }
        return acc;
    }
}
