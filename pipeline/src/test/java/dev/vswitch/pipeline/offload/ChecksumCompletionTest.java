package dev.vswitch.pipeline.offload;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static dev.vswitch.pipeline.offload.Frames.TCP;
import static dev.vswitch.pipeline.offload.Frames.UDP;
import static dev.vswitch.pipeline.offload.Frames.l4ChecksumOk;
import static dev.vswitch.pipeline.offload.Frames.payload;
import static dev.vswitch.pipeline.offload.Frames.pseudoHeader;
import static dev.vswitch.pipeline.offload.Frames.put16;
import static dev.vswitch.pipeline.offload.Frames.refSum;
import static dev.vswitch.pipeline.offload.Frames.u16;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChecksumCompletionTest
{
    private final PacketEvent e = new PacketEvent();

    /** Seeds the L4 checksum field with the folded pseudo-header sum, as the Linux stack does for NEEDS_CSUM. */
    private static byte[] seeded(final Frames.Layout l, final int protocol, final int csumOffset)
    {
        final byte[] f = l.bytes.clone();
        final int l4Length = f.length - l.l4;
        put16(f, l.l4 + csumOffset, pseudoHeader(f, l.l3, l.ipv6, protocol, l4Length));
        return f;
    }

    /** The checksum computed from scratch (field zeroed), independently of ChecksumCompletion. */
    private static int fromScratch(final byte[] f, final Frames.Layout l, final int protocol, final int csumOffset)
    {
        final byte[] copy = f.clone();
        put16(copy, l.l4 + csumOffset, 0);
        final int l4Length = f.length - l.l4;
        return ~refSum(copy, l.l4, l4Length, pseudoHeader(copy, l.l3, l.ipv6, protocol, l4Length)) & 0xffff;
    }

    private void completeAndVerify(final Frames.Layout l, final int protocol, final int csumOffset,
        final int[]... splits)
    {
        final byte[] f = seeded(l, protocol, csumOffset);
        final int field = l.l4 + csumOffset;
        final int expected = fromScratch(f, l, protocol, csumOffset);
        for (final int[] split : splits)
        {
            final OffHeapFrame frame = OffHeapFrame.split(f, split);
            frame.describe(e, 0);
            e.vnetFlags = 1;   // NEEDS_CSUM
            e.csumStart = l.l4;
            e.csumOffset = csumOffset;

            final int value = ChecksumCompletion.compute(e);
            assertEquals(expected, value, "split " + Arrays.toString(split));
            assertTrue(ChecksumCompletion.store(e.segAddress, e.segLength, e.segCount, field, value));

            final byte[] completed = OffHeapFrame.gather(e);
            assertEquals(value, u16(completed, field));
            assertTrue(l4ChecksumOk(completed, l.l3, l.ipv6, protocol, l.l4, completed.length - l.l4),
                "full L4 verification, split " + Arrays.toString(split));
            final byte[] rest = completed.clone();
            put16(rest, field, u16(f, field));
            assertArrayEquals(f, rest, "nothing but the checksum field changed");
        }
    }

    @Test
    void tcpOverIpv4()
    {
        final Frames.Layout l = Frames.tcpIpv4(new int[0], 5, 3, payload(1400, 11), 1000, Frames.ACK | Frames.PSH,
            77, 0);
        final int field = l.l4 + 16;   // 50
        completeAndVerify(l, TCP, 16,
            new int[] { l.bytes.length },
            new int[] { 7, 13, 1, 30, 5 },
            new int[] { field + 1 },                        // the field straddles two segments
            new int[] { l.l4 + 1, 1, 3, 999 },              // csum_start at an odd position of its segment
            new int[] { field, 2, 1 },
            new int[] { 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 101, 1 });
    }

    @Test
    void udpOverIpv6()
    {
        final Frames.Layout l = Frames.udpIpv6(payload(777, 12));   // odd L4 length: padded last word
        final int field = l.l4 + 6;
        completeAndVerify(l, UDP, 6,
            new int[] { l.bytes.length },
            new int[] { 1, 1, 1, 1, 1, 9, 33, 17 },
            new int[] { field + 1 },
            new int[] { l.l4 + 3, 5, 7, 11, 13, 17, 19, 23 },
            new int[] { l.bytes.length - 1 });
    }

    @Test
    void anyCsumStartAndSeedCompletesToAValidSum()
    {
        final Random random = new Random(2024);
        for (int iteration = 0; iteration < 1000; iteration++)
        {
            final byte[] f = payload(20 + random.nextInt(3000), random.nextLong());
            final int start = random.nextInt(f.length - 2);
            // csum_start anywhere (odd too); csum_offset even, as for every real L4 checksum field, so the field
            // is word-aligned relative to csum_start.
            final int offset = 2 * random.nextInt(Math.min(f.length - start - 1, 64) / 2);
            final int seed = random.nextInt(0x10000);
            put16(f, start + offset, seed);

            final int[] cuts = new int[random.nextInt(10)];
            for (int i = 0; i < cuts.length; i++)
            {
                cuts[i] = 1 + random.nextInt(Math.max(1, f.length / 10));
            }
            final OffHeapFrame frame = OffHeapFrame.split(f, cuts);
            frame.describe(e, 0);
            e.csumStart = start;
            e.csumOffset = offset;
            final int value = ChecksumCompletion.compute(e);
            assertTrue(value >= 0 && value <= 0xffff);
            assertTrue(ChecksumCompletion.store(e.segAddress, e.segLength, e.segCount, start + offset, value));

            // The seed stands for the pseudo-header: seed + data (with the stored value) must fold to 0xffff.
            final byte[] completed = OffHeapFrame.gather(e);
            assertEquals(0xffff, refSum(completed, start, f.length - start, seed),
                "iteration " + iteration + " start " + start + " offset " + offset);
        }
    }

    @Test
    void validEdgeCases()
    {
        assertTrue(ChecksumCompletion.valid(66, 34, 16));
        assertTrue(ChecksumCompletion.valid(52, 34, 16), "field ends exactly at the frame end");
        assertFalse(ChecksumCompletion.valid(51, 34, 16), "field's second byte past the end");
        assertFalse(ChecksumCompletion.valid(50, 34, 16));
        assertTrue(ChecksumCompletion.valid(2, 0, 0));
        assertFalse(ChecksumCompletion.valid(1, 0, 0));
        assertFalse(ChecksumCompletion.valid(0, 0, 0));
        assertFalse(ChecksumCompletion.valid(100, -1, 16));
        assertFalse(ChecksumCompletion.valid(100, 34, -1));
        assertFalse(ChecksumCompletion.valid(-1, 0, 0));
        assertFalse(ChecksumCompletion.valid(100, Integer.MAX_VALUE, Integer.MAX_VALUE), "no int overflow");
        assertFalse(ChecksumCompletion.valid(100, Integer.MAX_VALUE, 2));
        assertFalse(ChecksumCompletion.valid(Integer.MAX_VALUE, Integer.MAX_VALUE - 1, 0));
        assertTrue(ChecksumCompletion.valid(Integer.MAX_VALUE, Integer.MAX_VALUE - 2, 0));
        assertFalse(ChecksumCompletion.valid(65535, 65535, 65535), "16-bit header fields past a 64 KB frame");
    }

    @Test
    void computeRefusesAnInvalidFieldPosition()
    {
        final byte[] f = payload(60, 5);
        OffHeapFrame.contiguous(f).describe(e, 0);
        e.csumStart = 50;
        e.csumOffset = 9;
        assertEquals(-1, ChecksumCompletion.compute(e));
        e.csumOffset = 8;
        assertTrue(ChecksumCompletion.compute(e) >= 0);
    }

    @Test
    void storeOutsideTheScatterListWritesNothing()
    {
        final byte[] f = payload(40, 6);
        final OffHeapFrame frame = OffHeapFrame.split(f, 11, 0, 9);
        frame.describe(e, 0);
        assertFalse(ChecksumCompletion.store(e.segAddress, e.segLength, e.segCount, 39, 0xabcd));
        assertFalse(ChecksumCompletion.store(e.segAddress, e.segLength, e.segCount, -1, 0xabcd));
        assertFalse(ChecksumCompletion.store(e.segAddress, e.segLength, e.segCount, 1000, 0xabcd));
        assertArrayEquals(f, OffHeapFrame.gather(e));
        assertTrue(ChecksumCompletion.store(e.segAddress, e.segLength, e.segCount, 10, 0xabcd));
        final byte[] after = OffHeapFrame.gather(e);
        assertEquals(0xabcd, u16(after, 10));
    }
}
