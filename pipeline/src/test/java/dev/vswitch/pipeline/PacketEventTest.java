package dev.vswitch.pipeline;

import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.Sequence;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PacketEventTest
{
    private static void dirty(final PacketEvent e)
    {
        e.inPort = 9;
        e.completionToken = 1;
        e.completionQueue = 2;
        e.addSegment(0x1000, 10);
        e.sourceDropReason = DropReason.BAD_CHAIN;
        e.vnetFlags = 1;
        e.gsoType = 2;
        e.hdrLen = 3;
        e.gsoSize = 4;
        e.csumStart = 5;
        e.csumOffset = 6;
        e.headLength = 60;
        e.dstMac = 1;
        e.srcMac = 2;
        e.etherType = 0x0800;
        e.vlanId = 3;
        e.l3Offset = 14;
        e.l4Protocol = 6;
        e.l4Offset = 34;
        e.packetFlags = PacketEvent.FLAG_IPV4;
        e.drop(DropReason.FILTERED);
    }

    private static void assertClean(final PacketEvent e, final int inPort)
    {
        assertEquals(inPort, e.inPort);
        assertEquals(0, e.completionToken);
        assertEquals(0, e.completionQueue);
        assertEquals(0, e.segCount);
        assertEquals(0, e.frameLength);
        assertEquals(0, e.sourceDropReason);
        assertEquals(0, e.vnetFlags + e.gsoType + e.hdrLen + e.gsoSize + e.csumStart + e.csumOffset);
        assertEquals(0, e.headLength);
        assertEquals(0, e.dstMac);
        assertEquals(0, e.srcMac);
        assertEquals(0, e.etherType);
        assertEquals(0, e.vlanId);
        assertEquals(0, e.l3Offset + e.l4Protocol + e.l4Offset);
        assertEquals(0, e.packetFlags);
        assertEquals(PacketEvent.OUT_UNDECIDED, e.outPort);
        assertEquals(DropReason.NONE, e.dropReason);
        assertFalse(e.isDropped());
    }

    @Test
    void resetClearsEveryPerFrameField()
    {
        final PacketEvent e = new PacketEvent();
        dirty(e);
        assertTrue(e.isDropped());
        e.reset(4);
        assertClean(e, 4);
    }

    @Test
    void addSegmentAccumulatesUpToMaxSegments()
    {
        final PacketEvent e = new PacketEvent();
        e.reset(0);
        for (int i = 0; i < PacketEvent.MAX_SEGMENTS; i++)
        {
            assertTrue(e.addSegment(0x10_000L + i * 0x100L, i + 1));
        }
        assertEquals(64, e.segCount);
        assertEquals(64 * 65 / 2, e.frameLength);
        assertFalse(e.addSegment(0xdead, 100), "65th segment refused");
        assertEquals(64, e.segCount);
        assertEquals(64 * 65 / 2, e.frameLength, "refused segment not counted");
        assertEquals(0x10_000L + 63 * 0x100L, e.segAddress[63]);
        assertEquals(64, e.segLength[63]);
    }

    @Test
    void dropMarksTheVerdict()
    {
        final PacketEvent e = new PacketEvent();
        e.reset(1);
        e.drop(DropReason.TOO_BIG);
        assertTrue(e.isDropped());
        assertEquals(PacketEvent.OUT_DROP, e.outPort);
        assertEquals(DropReason.TOO_BIG, e.dropReason);
    }

    @Test
    void headIsOffHeapAlignedAndHoldsAWholeShortFrame()
    {
        final PacketEvent e = new PacketEvent();
        assertEquals(PacketEvent.WHOLE_FRAME_BYTES, e.head.capacity());
        assertEquals(0, e.head.addressOffset() % 64);
        assertTrue(e.head.byteBuffer() != null && e.head.byteBuffer().isDirect());
        assertEquals(null, e.head.byteArray());
    }

    @Test
    void verdictConstantsAreDistinctAndNegative()
    {
        assertTrue(PacketEvent.OUT_UNDECIDED < 0 && PacketEvent.OUT_FLOOD < 0 && PacketEvent.OUT_DROP < 0);
        assertEquals(3, java.util.Set.of(PacketEvent.OUT_UNDECIDED, PacketEvent.OUT_FLOOD, PacketEvent.OUT_DROP)
            .size());
        final int[] flags = { PacketEvent.FLAG_MULTICAST, PacketEvent.FLAG_BROADCAST, PacketEvent.FLAG_VLAN,
            PacketEvent.FLAG_ARP, PacketEvent.FLAG_IPV4, PacketEvent.FLAG_IPV6, PacketEvent.FLAG_TRUNCATED_L3 };
        int all = 0;
        for (final int f : flags)
        {
            assertEquals(1, Integer.bitCount(f));
            assertEquals(0, all & f, "flags overlap");
            all |= f;
        }
    }

    @Test
    void publisherClaimResetsTheSlotAndPublishMakesItVisible()
    {
        final RingBuffer<PacketEvent> ring = RingBuffer.createSingleProducer(PacketEvent::new, 4);
        final Sequence consumer = new Sequence(-1);
        ring.addGatingSequences(consumer);
        final PacketPublisher publisher = new PacketPublisher(ring);
        assertEquals(4, publisher.remaining());

        dirty(ring.get(0));
        final PacketEvent e = publisher.claim(2);
        assertSame(ring.get(0), e);
        assertClean(e, 2);
        assertEquals(-1, ring.getCursor(), "not visible before publish");
        publisher.publish();
        assertEquals(0, ring.getCursor());
        assertEquals(3, publisher.remaining());

        for (int i = 0; i < 3; i++)
        {
            publisher.claim(1);
            publisher.publish();
        }
        assertEquals(0, publisher.remaining());
        consumer.set(1);
        assertEquals(2, publisher.remaining());
    }
}
