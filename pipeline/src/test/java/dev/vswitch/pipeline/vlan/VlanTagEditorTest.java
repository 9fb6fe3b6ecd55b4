package dev.vswitch.pipeline.vlan;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.offload.ChecksumCompletion;
import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VlanTagEditorTest
{
    private static final long DST = 0x0200_0000_0002L;
    private static final long SRC = 0x0200_0000_0001L;
    private static final int[][] SPLITS =
        { {}, { 6 }, { 14 }, { 12 }, { 13 }, { 16 }, { 17 }, { 6, 6, 1, 1, 1, 1, 1 }, { 1, 2, 3, 4, 5, 6, 7 }, { 40 } };

    private final VlanTagEditor editor = new VlanTagEditor();
    private final PacketEvent e = new PacketEvent();

    private static byte[] untagged()
    {
        return ethernet(DST, SRC).etherType(0x0800).ipv4(5, 17).udp().pad(23).bytes();
    }

    private static byte[] tagged(final int tci)
    {
        return ethernet(DST, SRC).tag(0x8100, tci).etherType(0x0800).ipv4(5, 17).udp().pad(23).bytes();
    }

    private PacketEvent describe(final byte[] frame, final int[] split)
    {
        OffHeapFrame.split(frame, split).describe(e, 0);
        new ClassifyStage().process(e);
        return e;
    }

    private static long[] copy(final long[] a, final int n)
    {
        return Arrays.copyOf(a, n);
    }

    @Test
    void pushInsertsATagAfterTheMacsWhereverTheSegmentsBreak()
    {
        for (final int[] split : SPLITS)
        {
            describe(untagged(), split);
            final long[] addresses = copy(e.segAddress, e.segCount);
            final int[] lengths = Arrays.copyOf(e.segLength, e.segCount);
            final int l3 = e.l3Offset;
            final int l4 = e.l4Offset;

            assertEquals(DropReason.NONE, editor.push(e, 10));
            final String what = "split " + Arrays.toString(split);
            assertArrayEquals(tagged(10), OffHeapFrame.gather(e), what);
            assertEquals(untagged().length + 4, e.frameLength, what);
            assertTrue((e.packetFlags & PacketEvent.FLAG_VLAN) != 0, what);
            assertEquals(l3 + 4, e.l3Offset, what);
            assertEquals(l4 + 4, e.l4Offset, what);
            assertTrue(e.segCount <= lengths.length + 1, what);

            editor.restore(e);
            assertArrayEquals(untagged(), OffHeapFrame.gather(e), what);
            assertArrayEquals(addresses, copy(e.segAddress, e.segCount), what);
            assertArrayEquals(lengths, Arrays.copyOf(e.segLength, e.segCount), what);
            assertEquals(0, e.packetFlags & PacketEvent.FLAG_VLAN, what);
            assertEquals(l3, e.l3Offset, what);
        }
    }

    @Test
    void pushWritesTheVlanIdIntoTheTciWithPriorityZero()
    {
        describe(untagged(), new int[0]);
        editor.push(e, 4094);
        assertArrayEquals(tagged(4094), OffHeapFrame.gather(e));
    }

    @Test
    void popRemovesTheOuterTagWhereverTheSegmentsBreak()
    {
        for (final int[] split : SPLITS)
        {
            describe(tagged(0xA000 | 20), split);
            final String what = "split " + Arrays.toString(split);
            final int length = e.frameLength;

            assertEquals(DropReason.NONE, editor.pop(e));
            assertArrayEquals(untagged(), OffHeapFrame.gather(e), what);
            assertEquals(length - 4, e.frameLength, what);
            assertEquals(0, e.packetFlags & PacketEvent.FLAG_VLAN, what);

            editor.restore(e);
            assertArrayEquals(tagged(0xA000 | 20), OffHeapFrame.gather(e), what);
            assertEquals(length, e.frameLength, what);
        }
    }

    @Test
    void popOfAnOuterTagKeepsTheTaggedFlagWhenAnInnerTagRemains()
    {
        final byte[] inner = ethernet(DST, SRC).tag(0x8100, 100).etherType(0x0800).ipv4(5, 17).udp().pad(23).bytes();
        final byte[] both = ethernet(DST, SRC).tag(0x8100, 10).tag(0x8100, 100).etherType(0x0800).ipv4(5, 17).udp()
            .pad(23).bytes();
        describe(both, new int[] { 14 });
        assertEquals(DropReason.NONE, editor.pop(e));
        assertArrayEquals(inner, OffHeapFrame.gather(e));
        assertTrue((e.packetFlags & PacketEvent.FLAG_VLAN) != 0, "the frame still carries a tag: 4 more bytes allowed");
        editor.restore(e);
    }

    @Test
    void partialChecksumStaysValidAcrossPushAndPop()
    {
        final byte[] plain = untagged();
        describe(plain, new int[] { 6, 8, 20 });
        e.vnetFlags = 1;   // NEEDS_CSUM: UDP checksum from the L4 header to the end
        e.csumStart = 34;
        e.csumOffset = 6;
        e.hdrLen = 42;
        final int expected = ChecksumCompletion.compute(e);
        assertTrue(expected >= 0);

        assertEquals(DropReason.NONE, editor.push(e, 10));
        assertEquals(38, e.csumStart);
        assertEquals(46, e.hdrLen);
        assertEquals(expected, ChecksumCompletion.compute(e), "the same bytes are summed after the tag");
        editor.restore(e);
        assertEquals(34, e.csumStart);
        assertEquals(42, e.hdrLen);

        describe(tagged(10), new int[] { 6, 8, 20 });
        e.vnetFlags = 1;
        e.csumStart = 38;
        e.csumOffset = 6;
        final int expectedTagged = ChecksumCompletion.compute(e);
        assertEquals(expected, expectedTagged);
        assertEquals(DropReason.NONE, editor.pop(e));
        assertEquals(34, e.csumStart);
        assertEquals(expected, ChecksumCompletion.compute(e));
    }

    @Test
    void popRefusesAChecksumThatStartsInsideTheTag()
    {
        describe(tagged(10), new int[0]);
        e.vnetFlags = 1;
        e.csumStart = 14;
        e.csumOffset = 0;
        assertEquals(DropReason.BAD_HEADER, editor.pop(e));
        assertEquals(tagged(10).length, e.frameLength, "unchanged");
    }

    @Test
    void refusesAnEditThatWouldNeedMoreThanMaxSegmentsAndLeavesTheEventAlone()
    {
        // Classify makes its 128-byte head copy the list's first segment; the tag goes inside it, so a push needs
        // one entry more than the list has.
        final byte[] frame = ethernet(DST, SRC).etherType(0x0800).pad(300).bytes();
        final int[] split = new int[PacketEvent.MAX_SEGMENTS - 1];
        split[0] = PacketEvent.HEADER_BYTES;
        Arrays.fill(split, 1, split.length, 2);
        describe(frame, split);
        assertEquals(PacketEvent.MAX_SEGMENTS, e.segCount);
        assertEquals(DropReason.TOO_BIG, editor.push(e, 10));
        assertArrayEquals(frame, OffHeapFrame.gather(e));

        final int[] roomy = Arrays.copyOf(split, split.length - 1);   // one segment fewer: the edit just fits
        describe(frame, roomy);
        assertEquals(PacketEvent.MAX_SEGMENTS - 1, e.segCount);
        assertEquals(DropReason.NONE, editor.push(e, 10));
        assertEquals(PacketEvent.MAX_SEGMENTS, e.segCount);
        editor.restore(e);
        assertArrayEquals(frame, OffHeapFrame.gather(e));
    }
}
