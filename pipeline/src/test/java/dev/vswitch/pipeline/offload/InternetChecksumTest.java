package dev.vswitch.pipeline.offload;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static dev.vswitch.pipeline.offload.Frames.refSum;
import static org.junit.jupiter.api.Assertions.assertEquals;

class InternetChecksumTest
{
    private static final byte GUARD = (byte)0xEE;

    /** RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2, checksum 0x220d. */
    private static final byte[] RFC1071 = { 0x00, 0x01, (byte)0xf2, 0x03, (byte)0xf4, (byte)0xf5, (byte)0xf6,
        (byte)0xf7 };

    /** The usual IPv4 header example (checksum field zeroed); its checksum is 0xb861. */
    private static final byte[] IPV4_HEADER = {
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
        (byte)0xc0, (byte)0xa8, 0x00, 0x01, (byte)0xc0, (byte)0xa8, 0x00, (byte)0xc7 };

    /** Off-heap memory holding segments apart from each other, with guard bytes between them. */
    private static final class Scatter
    {
        final UnsafeBuffer memory;
        final long[] address;
        final int[] length;
        final int count;

        /** Places data[cuts[i-1], cuts[i]) as segment i, each after 1..9 guard bytes (odd alignments too). */
        Scatter(final byte[] data, final int[] cuts, final Random random)
        {
            memory = new UnsafeBuffer(BufferUtil.allocateDirectAligned(
                align(data.length + 16 * (cuts.length + 2) + 64), 64));
            memory.setMemory(0, memory.capacity(), GUARD);
            count = cuts.length + 1;
            address = new long[count];
            length = new int[count];
            int at = 0;
            int from = 0;
            for (int i = 0; i < count; i++)
            {
                final int to = i < cuts.length ? cuts[i] : data.length;
                at += 1 + random.nextInt(9);
                memory.putBytes(at, data, from, to - from);
                address[i] = memory.addressOffset() + at;
                length[i] = to - from;
                at += to - from;
                from = to;
            }
        }

        static int align(final int n)
        {
            return (n + 63) & ~63;
        }
    }

    private static int[] randomCuts(final Random random, final int length, final int maxCuts)
    {
        final int n = random.nextInt(maxCuts + 1);
        final int[] cuts = new int[n];
        for (int i = 0; i < n; i++)
        {
            cuts[i] = random.nextInt(length + 1);   // duplicates give zero-length segments
        }
        Arrays.sort(cuts);
        return cuts;
    }

    @Test
    void rfc1071Example()
    {
        final UnsafeBuffer b = new UnsafeBuffer(BufferUtil.allocateDirectAligned(64, 64));
        b.putBytes(0, RFC1071);
        final long sum = InternetChecksum.sum(b.addressOffset(), RFC1071.length);
        assertEquals(0xddf2, InternetChecksum.fold(sum));
        assertEquals(0x220d, InternetChecksum.finish(sum));
        assertEquals(0xddf2, refSum(RFC1071, 0, RFC1071.length), "reference agrees");

        // Every two-way and three-way split, odd ones included.
        final Random random = new Random(1071);
        for (int i = 0; i <= RFC1071.length; i++)
        {
            for (int j = i; j <= RFC1071.length; j++)
            {
                final Scatter s = new Scatter(RFC1071, new int[] { i, j }, random);
                final long scattered = InternetChecksum.sum(s.address, s.length, s.count, 0, RFC1071.length, 0);
                assertEquals(0x220d, InternetChecksum.finish(scattered), "cuts at " + i + ", " + j);
            }
        }
    }

    @Test
    void ipv4HeaderExample()
    {
        final Random random = new Random(791);
        for (int cut = 0; cut <= IPV4_HEADER.length; cut++)
        {
            final Scatter s = new Scatter(IPV4_HEADER, new int[] { cut }, random);
            assertEquals(0xb861, InternetChecksum.finish(
                InternetChecksum.sum(s.address, s.length, s.count, 0, IPV4_HEADER.length, 0)), "cut at " + cut);
        }
    }

    @Test
    void foldAndFinishEdgeCases()
    {
        assertEquals(0, InternetChecksum.fold(0));
        assertEquals(0xffff, InternetChecksum.finish(0));
        assertEquals(0xffff, InternetChecksum.fold(0xffff));
        assertEquals(0, InternetChecksum.finish(0xffff));
        assertEquals(1, InternetChecksum.fold(0x1_0000));
        assertEquals(0xffff, InternetChecksum.fold(0x1_fffe));
        assertEquals(0x0002, InternetChecksum.fold(0x1_0000_0001L));
        assertEquals(0xffff, InternetChecksum.fold(-1L), "2^64-1 == 0 mod 0xffff, and non-zero");
        assertEquals(0x1234, InternetChecksum.fold(0x1234L << 48));
    }

    @Test
    void emptyRangeReturnsInitial()
    {
        final UnsafeBuffer b = new UnsafeBuffer(BufferUtil.allocateDirectAligned(64, 64));
        assertEquals(0x1234, InternetChecksum.fold(InternetChecksum.sum(b.addressOffset(), 0, 0x1234)));
        assertEquals(0x1234, InternetChecksum.fold(InternetChecksum.sum(0L, -5, 0x1234)), "nothing read");
        final long[] a = { b.addressOffset() };
        final int[] l = { 64 };
        assertEquals(0x4321, InternetChecksum.fold(InternetChecksum.sum(a, l, 1, 10, 0, 0x4321)));
        assertEquals(0x4321, InternetChecksum.fold(InternetChecksum.sum(a, l, 1, -1, 10, 0x4321)));
    }

    @Test
    void allOnesOver64KiB()
    {
        final byte[] data = new byte[65536];
        Arrays.fill(data, (byte)0xff);
        final UnsafeBuffer b = new UnsafeBuffer(BufferUtil.allocateDirectAligned(data.length, 64));
        b.putBytes(0, data);
        assertEquals(0xffff, InternetChecksum.fold(InternetChecksum.sum(b.addressOffset(), data.length)));
        assertEquals(0, InternetChecksum.finish(InternetChecksum.sum(b.addressOffset(), data.length)));
    }

    @Test
    void contiguousMatchesReferenceAtAnyAlignment()
    {
        final Random random = new Random(0xC0FFEE);
        final UnsafeBuffer b = new UnsafeBuffer(BufferUtil.allocateDirectAligned(8192, 64));
        for (int iteration = 0; iteration < 2000; iteration++)
        {
            final byte[] data = new byte[random.nextInt(iteration < 200 ? 24 : 4000)];
            random.nextBytes(data);
            final int at = random.nextInt(16);
            b.setMemory(0, b.capacity(), GUARD);
            b.putBytes(at, data);
            final int initial = random.nextInt(0x10000);
            final long sum = InternetChecksum.sum(b.addressOffset() + at, data.length, initial);
            assertEquals(refSum(data, 0, data.length, initial), InternetChecksum.fold(sum),
                "iteration " + iteration + " length " + data.length + " at " + at);
        }
    }

    @Test
    void scatterListMatchesReferenceForRandomSegmentationsAndRanges()
    {
        for (final long seed : new long[] { 1, 2, 3, 42, 4242 })
        {
            final Random random = new Random(seed);
            for (int iteration = 0; iteration < 1500; iteration++)
            {
                final int size = random.nextInt(iteration % 3 == 0 ? 40 : 5000);
                final byte[] data = new byte[size];
                random.nextBytes(data);
                final Scatter s = new Scatter(data, randomCuts(random, size, 16), random);
                final int offset = random.nextInt(size + 1);
                final int length = random.nextInt(size - offset + 1);
                final int initial = random.nextInt(4) == 0 ? 0 : random.nextInt(0x10000);

                final long sum = InternetChecksum.sum(s.address, s.length, s.count, offset, length, initial);
                assertEquals(refSum(data, offset, length, initial), InternetChecksum.fold(sum),
                    () -> "seed " + seed + " size " + size + " range [" + offset + ", " + (offset + length) +
                        ") segments " + Arrays.toString(s.length));
            }
        }
    }

    @Test
    void rangePastTheScatterListIsClippedNotRead()
    {
        final Random random = new Random(77);
        for (int iteration = 0; iteration < 500; iteration++)
        {
            final int size = 1 + random.nextInt(3000);
            final byte[] data = new byte[size];
            random.nextBytes(data);
            final Scatter s = new Scatter(data, randomCuts(random, size, 8), random);
            final int offset = random.nextInt(size + 1);
            final int length = size - offset + 1 + random.nextInt(100);   // runs past the end
            final long sum = InternetChecksum.sum(s.address, s.length, s.count, offset, length, 0);
            assertEquals(refSum(data, offset, size - offset), InternetChecksum.fold(sum),
                "guard bytes after the last segment must not be summed");
        }
    }

    @Test
    void sumsChainAcrossRanges()
    {
        final Random random = new Random(99);
        for (int iteration = 0; iteration < 500; iteration++)
        {
            final byte[] data = new byte[2 + random.nextInt(3000)];
            random.nextBytes(data);
            final Scatter s = new Scatter(data, randomCuts(random, data.length, 6), random);
            final int split = random.nextInt(data.length / 2 + 1) * 2;   // even: words stay aligned
            final long first = InternetChecksum.sum(s.address, s.length, s.count, 0, split, 0);
            final long both = InternetChecksum.sum(s.address, s.length, s.count, split, data.length - split, first);
            assertEquals(refSum(data, 0, data.length), InternetChecksum.fold(both));
        }
        // An unfolded accumulator of any size is accepted as initial.
        final UnsafeBuffer b = new UnsafeBuffer(BufferUtil.allocateDirectAligned(64, 64));
        b.putBytes(0, RFC1071);
        assertEquals(0xddf2, InternetChecksum.fold(InternetChecksum.sum(b.addressOffset(), RFC1071.length, -1L)),
            "2^64-1 (== 0 mod 0xffff) contributes nothing");
        assertEquals(0xddf2, InternetChecksum.fold(
            InternetChecksum.sum(b.addressOffset(), RFC1071.length, 0xffffL << 40)));
    }
}
