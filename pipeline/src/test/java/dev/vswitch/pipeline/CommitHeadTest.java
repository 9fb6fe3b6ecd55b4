package dev.vswitch.pipeline;

import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.testkit.frames.FrameBuilder;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A stage edits the event's head copy and commits it: the frame a destination gathers has the edit, the source's
 * buffers (guest TX memory) are untouched, and segment boundaries anywhere relative to the head are handled.
 */
class CommitHeadTest
{
    static final long A = 0x5254_0000_000AL;
    static final long B = 0x5254_0000_000BL;
    static final long C = 0x0200_0000_00CCL;

    private static byte[] frameBytes(final int payload)
    {
        return FrameBuilder.ethernet(B, A).etherType(0x0800).ipv4(5, 17).udp().pad(payload).bytes();
    }

    /** Classifies, rewrites the destination MAC in the head, commits; returns the gathered frame. */
    private static byte[] rewriteDst(final OffHeapFrame frame, final PacketEvent e)
    {
        frame.describe(e, 0);
        new ClassifyStage().process(e);
        e.head.putInt(0, (int)(C >>> 16), ByteOrder.BIG_ENDIAN);
        e.head.putShort(4, (short)C, ByteOrder.BIG_ENDIAN);
        assertTrue(e.commitHead());
        return OffHeapFrame.gather(e);
    }

    private static byte[] expected(final byte[] original)
    {
        final byte[] want = original.clone();
        for (int i = 0; i < 6; i++)
        {
            want[i] = (byte)(C >>> (40 - 8 * i));
        }
        return want;
    }

    @Test
    void headSplitAcrossSegmentsIsReplacedAndTheRestTrimmed()
    {
        final byte[] bytes = frameBytes(300);   // 342 bytes: head 128 spans segments of 5, 9, 100 and 14 of 228
        final OffHeapFrame frame = OffHeapFrame.split(bytes, 5, 9, 100);
        final PacketEvent e = new PacketEvent();
        final byte[] out = rewriteDst(frame, e);

        assertArrayEquals(expected(bytes), out);
        assertEquals(bytes.length, e.frameLength);
        assertEquals(2, e.segCount, "head + the trimmed last segment");
        assertEquals(e.head.addressOffset(), e.segAddress[0]);
        assertEquals(PacketEvent.HEADER_BYTES, e.segLength[0]);
        assertEquals(bytes.length - PacketEvent.HEADER_BYTES, e.segLength[1]);
        // The source's memory still holds the original frame.
        frame.describe(new PacketEvent(), 0);
        assertArrayEquals(bytes, OffHeapFrame.gather(frame.describe(new PacketEvent(), 0)));
    }

    @Test
    void headInsideTheFirstSegmentInsertsASegment()
    {
        final byte[] bytes = frameBytes(400);
        final OffHeapFrame frame = OffHeapFrame.split(bytes, 200, 100);
        final PacketEvent e = new PacketEvent();
        assertArrayEquals(expected(bytes), rewriteDst(frame, e));
        assertEquals(4, e.segCount);
        assertEquals(200 - PacketEvent.HEADER_BYTES, e.segLength[1]);
        assertArrayEquals(bytes, OffHeapFrame.gather(frame.describe(new PacketEvent(), 0)));
    }

    @Test
    void headEndingOnASegmentBoundaryAndShortFramesWhollyInTheHead()
    {
        final byte[] bytes = frameBytes(300);   // longer than WHOLE_FRAME_BYTES: the head is its first 128
        final PacketEvent e = new PacketEvent();
        assertArrayEquals(expected(bytes), rewriteDst(OffHeapFrame.split(bytes, 64, 64), e));
        assertEquals(2, e.segCount);
        assertEquals(bytes.length - 128, e.segLength[1]);

        final byte[] whole = frameBytes(150);   // up to WHOLE_FRAME_BYTES: all of it in the head, one segment
        assertArrayEquals(expected(whole), rewriteDst(OffHeapFrame.split(whole, 64, 64), e));
        assertEquals(1, e.segCount);
        assertEquals(whole.length, e.segLength[0]);

        final byte[] small = frameBytes(10);   // 52 bytes, all in the head
        assertArrayEquals(expected(small), rewriteDst(OffHeapFrame.split(small, 20, 20), e));
        assertEquals(1, e.segCount);
        assertEquals(small.length, e.frameLength);
    }

    @Test
    void committingTwiceAndReclassifyingAreStable()
    {
        final byte[] bytes = frameBytes(300);
        final PacketEvent e = new PacketEvent();
        rewriteDst(OffHeapFrame.split(bytes, 7, 50), e);
        final int segs = e.segCount;
        assertTrue(e.commitHead());
        assertEquals(segs, e.segCount);
        new ClassifyStage().process(e);   // gathers the head from the committed list: its own buffer
        assertEquals(C, e.dstMac);
        assertArrayEquals(expected(bytes), OffHeapFrame.gather(e));
    }

    @Test
    void fullScatterListWithHeadInsideTheFirstSegmentIsRefusedUnchanged()
    {
        final UnsafeBuffer memory = new UnsafeBuffer(BufferUtil.allocateDirectAligned(256 * PacketEvent.MAX_SEGMENTS, 64));
        final PacketEvent e = new PacketEvent();
        e.reset(0);
        for (int i = 0; i < PacketEvent.MAX_SEGMENTS; i++)
        {
            assertTrue(e.addSegment(memory.addressOffset() + 256L * i, 200));
        }
        e.headLength = PacketEvent.HEADER_BYTES;
        final long firstAddress = e.segAddress[0];
        assertFalse(e.commitHead());
        assertEquals(PacketEvent.MAX_SEGMENTS, e.segCount);
        assertEquals(firstAddress, e.segAddress[0]);
        assertEquals(200, e.segLength[0]);

        // With the head covering two whole segments there is room: 64 - 2 + 1 segments.
        e.reset(0);
        for (int i = 0; i < PacketEvent.MAX_SEGMENTS; i++)
        {
            e.addSegment(memory.addressOffset() + 256L * i, 64);
        }
        e.headLength = PacketEvent.HEADER_BYTES;
        assertTrue(e.commitHead());
        assertEquals(PacketEvent.MAX_SEGMENTS - 1, e.segCount);
        assertEquals(memory.addressOffset() + 256L * 2, e.segAddress[1]);
    }
}
