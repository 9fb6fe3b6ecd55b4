package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.testkit.frames.FrameBuilder;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.vswitch.pipeline.PacketEvent.FLAG_ARP;
import static dev.vswitch.pipeline.PacketEvent.FLAG_BROADCAST;
import static dev.vswitch.pipeline.PacketEvent.FLAG_IPV4;
import static dev.vswitch.pipeline.PacketEvent.FLAG_IPV6;
import static dev.vswitch.pipeline.PacketEvent.FLAG_MULTICAST;
import static dev.vswitch.pipeline.PacketEvent.FLAG_TRUNCATED_L3;
import static dev.vswitch.pipeline.PacketEvent.FLAG_VLAN;
import static dev.vswitch.testkit.frames.FrameBuilder.BROADCAST;
import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClassifyStageTest
{
    static final long DST = 0x5254_0012_3456L;   // 52:54:00:12:34:56
    static final long SRC = 0x5254_00AB_CDEFL;   // 52:54:00:ab:cd:ef

    private final ClassifyStage classify = new ClassifyStage();

    private PacketEvent classify(final OffHeapFrame frame)
    {
        final PacketEvent e = frame.describe(new PacketEvent(), 3);
        classify.process(e);
        return e;
    }

    private PacketEvent classify(final FrameBuilder frame)
    {
        return classify(frame.as(OffHeapFrame::contiguous));
    }

    private static byte[] head(final PacketEvent e)
    {
        final byte[] head = new byte[e.headLength];
        e.head.getBytes(0, head);
        return head;
    }

    private static void assertNotDropped(final PacketEvent e)
    {
        assertFalse(e.isDropped(), "dropped: " + DropReason.name(e.dropReason));
        assertEquals(PacketEvent.OUT_UNDECIDED, e.outPort);
        assertEquals(DropReason.NONE, e.dropReason);
    }

    @Test
    void nameIsClassify()
    {
        assertEquals("classify", classify.name());
        assertEquals(ClassifyStage.NAME, classify.name());
    }

    @Test
    void untaggedIpv4Tcp()
    {
        final FrameBuilder frame = ethernet(DST, SRC).etherType(0x0800).ipv4(5, 6).tcp().pad(20);
        final PacketEvent e = classify(frame);

        assertNotDropped(e);
        assertAll(
            () -> assertEquals(0x5254_0012_3456L, e.dstMac),
            () -> assertEquals(0x5254_00AB_CDEFL, e.srcMac),
            () -> assertEquals(0x0800, e.etherType),
            () -> assertEquals(0, e.vlanId),
            () -> assertEquals(14, e.l3Offset),
            () -> assertEquals(6, e.l4Protocol),
            () -> assertEquals(34, e.l4Offset),
            () -> assertEquals(FLAG_IPV4, e.packetFlags),
            () -> assertEquals(frame.length(), e.headLength),
            () -> assertEquals(3, e.inPort));
        assertArrayEquals(frame.bytes(), head(e));
    }

    @Test
    void ipv4WithOptionsUsesIhlForL4Offset()
    {
        final PacketEvent e = classify(ethernet(DST, SRC).etherType(0x0800).ipv4(6, 17).udp().pad(4));

        assertNotDropped(e);
        assertEquals(FLAG_IPV4, e.packetFlags);
        assertEquals(14, e.l3Offset);
        assertEquals(17, e.l4Protocol);
        assertEquals(14 + 24, e.l4Offset);
    }

    @Test
    void ipv4WithBogusIhlHasNoL4Offset()
    {
        final PacketEvent e = classify(ethernet(DST, SRC).etherType(0x0800).ipv4(4, 6).pad(16));

        assertNotDropped(e);
        assertEquals(FLAG_IPV4 | PacketEvent.FLAG_TRUNCATED_L3, e.packetFlags);
        assertEquals(6, e.l4Protocol);
        assertEquals(0, e.l4Offset, "IHL < 5 words is invalid: no L4 offset");
    }

    /** An IHL pointing past the bytes we hold must not yield an L4 offset a later stage would read beyond. */
    @Test
    void ipv4WithIhlPastTheFrameHasNoL4Offset()
    {
        // A 20-byte IPv4 header whose IHL claims 60 bytes, then 4 bytes: the frame ends 36 bytes short of L4.
        final PacketEvent e = classify(ethernet(DST, SRC).etherType(0x0800)
            .u8(0x4f).u8(0).u16(24).u16(0x1234).u16(0x4000).u8(64).u8(6).u16(0).u32(0x0a00_0001).u32(0x0a00_0002)
            .pad(4));

        assertNotDropped(e);
        assertEquals(FLAG_IPV4 | PacketEvent.FLAG_TRUNCATED_L3, e.packetFlags);
        assertEquals(0, e.l4Offset, "IHL of 60 bytes in a " + e.headLength + "-byte frame");
    }

    @Test
    void ipv6Udp()
    {
        final PacketEvent e = classify(ethernet(DST, SRC).etherType(0x86dd).ipv6(17).udp().pad(8));

        assertNotDropped(e);
        assertEquals(0x86dd, e.etherType);
        assertEquals(FLAG_IPV6, e.packetFlags);
        assertEquals(14, e.l3Offset);
        assertEquals(17, e.l4Protocol);
        assertEquals(54, e.l4Offset);
    }

    @Test
    void arpReply()
    {
        final PacketEvent e = classify(ethernet(DST, SRC).etherType(0x0806).arp(2, SRC, DST).pad(18));

        assertNotDropped(e);
        assertEquals(0x0806, e.etherType);
        assertEquals(FLAG_ARP, e.packetFlags);
        assertEquals(14, e.l3Offset);
        assertEquals(0, e.l4Protocol);
        assertEquals(0, e.l4Offset);
    }

    @Test
    void dot1qTaggedUsesVidOnlyAndInnerEtherType()
    {
        // TCI 0xB123: PCP 5, DEI 1, VID 0x123 -> vlanId must drop PCP and DEI.
        final PacketEvent e = classify(ethernet(DST, SRC).tag(0x8100, 0xB123).etherType(0x0800).ipv4(5, 6).tcp());

        assertNotDropped(e);
        assertAll(
            () -> assertEquals(0x123, e.vlanId),
            () -> assertEquals(FLAG_VLAN | FLAG_IPV4, e.packetFlags),
            () -> assertEquals(0x0800, e.etherType),
            () -> assertEquals(18, e.l3Offset),
            () -> assertEquals(6, e.l4Protocol),
            () -> assertEquals(38, e.l4Offset),
            () -> assertEquals(DST, e.dstMac),
            () -> assertEquals(SRC, e.srcMac));
    }

    @Test
    void qinqKeepsOuterVlanAndSkipsBothTags()
    {
        final PacketEvent e = classify(ethernet(DST, SRC).tag(0x88a8, 0x0064).tag(0x8100, 0x20C8)
            .etherType(0x86dd).ipv6(6).tcp());

        assertNotDropped(e);
        assertAll(
            () -> assertEquals(100, e.vlanId, "outer (service) VLAN id"),
            () -> assertEquals(FLAG_VLAN | FLAG_IPV6, e.packetFlags),
            () -> assertEquals(0x86dd, e.etherType),
            () -> assertEquals(22, e.l3Offset),
            () -> assertEquals(6, e.l4Protocol),
            () -> assertEquals(62, e.l4Offset));
    }

    @Test
    void qinqIpv4()
    {
        final PacketEvent e = classify(ethernet(DST, SRC).tag(0x88a8, 0x0fff).tag(0x8100, 0x0001)
            .etherType(0x0800).ipv4(5, 17).udp());

        assertEquals(0xfff, e.vlanId);
        assertEquals(22, e.l3Offset);
        assertEquals(0x0800, e.etherType);
        assertEquals(42, e.l4Offset);
        assertEquals(FLAG_VLAN | FLAG_IPV4, e.packetFlags);
    }

    @Test
    void broadcastIsBroadcastAndMulticast()
    {
        final PacketEvent e = classify(ethernet(BROADCAST, SRC).etherType(0x0806).arp(1, SRC, 0).pad(18));

        assertNotDropped(e);
        assertEquals(0xFFFF_FFFF_FFFFL, e.dstMac);
        assertEquals(FLAG_BROADCAST | FLAG_MULTICAST | FLAG_ARP, e.packetFlags);
    }

    @Test
    void ipv4MulticastIsMulticastOnly()
    {
        final long mdns = 0x0100_5E00_00FBL;   // 01:00:5e:00:00:fb
        final PacketEvent e = classify(ethernet(mdns, SRC).etherType(0x0800).ipv4(5, 17).udp());

        assertNotDropped(e);
        assertEquals(mdns, e.dstMac);
        assertEquals(FLAG_MULTICAST | FLAG_IPV4, e.packetFlags);
        assertEquals(0, e.packetFlags & FLAG_BROADCAST);
    }

    @Test
    void ipv6MulticastAndLocallyAdministeredUnicast()
    {
        final PacketEvent mcast = classify(ethernet(0x3333_0000_0001L, SRC).etherType(0x86dd).ipv6(58).pad(8));
        assertEquals(FLAG_MULTICAST | FLAG_IPV6, mcast.packetFlags);

        // 02:... has the U/L bit set but not the I/G bit: unicast.
        final PacketEvent local = classify(ethernet(0x0200_0000_0001L, SRC).etherType(0x86dd).ipv6(58).pad(8));
        assertEquals(FLAG_IPV6, local.packetFlags);
        // Only the I/G bit of the first octet matters, not other bits in octets further in.
        final PacketEvent other = classify(ethernet(0x00FF_FFFF_FFFFL, SRC).etherType(0x86dd).ipv6(58).pad(8));
        assertEquals(FLAG_IPV6, other.packetFlags);
    }

    @Test
    void runtIsDropped()
    {
        final byte[] thirteen = Arrays.copyOf(ethernet(DST, SRC).etherType(0x0800).bytes(), 13);
        final PacketEvent e = classify(OffHeapFrame.contiguous(thirteen));

        assertTrue(e.isDropped());
        assertEquals(PacketEvent.OUT_DROP, e.outPort);
        assertEquals(DropReason.RUNT, e.dropReason);
        assertEquals(13, e.headLength);
        assertEquals(0, e.packetFlags);
    }

    @Test
    void runtSplitAcrossSegmentsIsDropped()
    {
        final byte[] thirteen = Arrays.copyOf(ethernet(DST, SRC).etherType(0x0800).bytes(), 13);
        final PacketEvent e = classify(OffHeapFrame.split(thirteen, 5, 8));

        assertEquals(2, e.segCount);
        assertEquals(DropReason.RUNT, e.dropReason);
        assertTrue(e.isDropped());
    }

    @Test
    void emptyScatterListIsRunt()
    {
        final PacketEvent e = new PacketEvent();
        e.reset(0);
        classify.process(e);

        assertEquals(0, e.headLength);
        assertEquals(DropReason.RUNT, e.dropReason);
    }

    @Test
    void fourteenByteFrameIsClassified()
    {
        final PacketEvent e = classify(ethernet(DST, SRC).etherType(0x88b5));

        assertNotDropped(e);
        assertEquals(14, e.headLength);
        assertEquals(0x88b5, e.etherType);
        assertEquals(14, e.l3Offset);
        assertEquals(0, e.packetFlags);
        assertEquals(DST, e.dstMac);
        assertEquals(SRC, e.srcMac);
    }

    @Test
    void fourteenByteIpv4IsTruncated()
    {
        final PacketEvent e = classify(ethernet(DST, SRC).etherType(0x0800));

        assertNotDropped(e);
        assertEquals(FLAG_IPV4 | FLAG_TRUNCATED_L3, e.packetFlags);
    }

    @Test
    void truncatedIpv4()
    {
        final byte[] full = ethernet(DST, SRC).etherType(0x0800).ipv4(5, 6).bytes();
        final PacketEvent e = classify(OffHeapFrame.contiguous(Arrays.copyOf(full, 14 + 19)));

        assertNotDropped(e);
        assertEquals(FLAG_IPV4 | FLAG_TRUNCATED_L3, e.packetFlags);
        assertEquals(0x0800, e.etherType);
        assertEquals(14, e.l3Offset);
        assertEquals(0, e.l4Protocol);
        assertEquals(0, e.l4Offset);

        // Boundary: exactly a 20-byte IPv4 header is not truncated.
        final PacketEvent exact = classify(OffHeapFrame.contiguous(full));
        assertEquals(FLAG_IPV4, exact.packetFlags);
        assertEquals(34, exact.l4Offset);
    }

    @Test
    void truncatedIpv6()
    {
        final byte[] full = ethernet(DST, SRC).etherType(0x86dd).ipv6(17).bytes();
        final PacketEvent e = classify(OffHeapFrame.contiguous(Arrays.copyOf(full, 14 + 39)));

        assertEquals(FLAG_IPV6 | FLAG_TRUNCATED_L3, e.packetFlags);
        assertEquals(0, e.l4Protocol);
        assertEquals(0, e.l4Offset);

        final PacketEvent exact = classify(OffHeapFrame.contiguous(full));
        assertEquals(FLAG_IPV6, exact.packetFlags);
        assertEquals(54, exact.l4Offset);
    }

    @Test
    void truncatedIpv4BehindVlanTag()
    {
        final byte[] full = ethernet(DST, SRC).tag(0x8100, 7).etherType(0x0800).ipv4(5, 6).bytes();
        final PacketEvent e = classify(OffHeapFrame.contiguous(Arrays.copyOf(full, full.length - 1)));

        assertEquals(7, e.vlanId);
        assertEquals(18, e.l3Offset);
        assertEquals(FLAG_VLAN | FLAG_IPV4 | FLAG_TRUNCATED_L3, e.packetFlags);
    }

    @Test
    void frameSplitAcrossSegmentsClassifiesLikeContiguous()
    {
        final byte[] frame = ethernet(DST, SRC).tag(0x8100, 0x0042).etherType(0x0800).ipv4(6, 6).tcp().pad(30)
            .bytes();
        final PacketEvent contiguous = classify(OffHeapFrame.contiguous(frame));

        final OffHeapFrame[] splits = {
            OffHeapFrame.split(frame, 5, 9),            // MACs split mid-address, etherType in its own segment
            OffHeapFrame.split(frame, 5, 0, 9, 1, 3),   // with an empty segment and a split VLAN tag
            OffHeapFrame.split(frame, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
        };
        for (final OffHeapFrame split : splits)
        {
            final PacketEvent e = classify(split);
            assertEquals(frame.length, e.frameLength);
            assertEquals(1, e.segCount, "the whole frame fits the head, which is now its one segment");
            assertEquals(e.head.addressOffset(), e.segAddress[0]);
            assertArrayEquals(frame, OffHeapFrame.gather(e));
            assertAll("split into " + split.segmentCount() + " segments",
                () -> assertArrayEquals(frame, head(e)),
                () -> assertEquals(contiguous.headLength, e.headLength),
                () -> assertEquals(contiguous.dstMac, e.dstMac),
                () -> assertEquals(contiguous.srcMac, e.srcMac),
                () -> assertEquals(contiguous.etherType, e.etherType),
                () -> assertEquals(contiguous.vlanId, e.vlanId),
                () -> assertEquals(contiguous.l3Offset, e.l3Offset),
                () -> assertEquals(contiguous.l4Protocol, e.l4Protocol),
                () -> assertEquals(contiguous.l4Offset, e.l4Offset),
                () -> assertEquals(contiguous.packetFlags, e.packetFlags),
                () -> assertEquals(contiguous.outPort, e.outPort));
        }
        assertEquals(0x42, contiguous.vlanId);
        assertEquals(FLAG_VLAN | FLAG_IPV4, contiguous.packetFlags);
        assertEquals(18 + 24, contiguous.l4Offset);
    }

    @Test
    void onlyHeaderBytesAreGatheredFromLongFrame()
    {
        final byte[] frame = ethernet(DST, SRC).etherType(0x0800).ipv4(5, 17).udp().pad(1458).bytes();
        assertEquals(1500, frame.length);
        final byte[] expectedHead = Arrays.copyOf(frame, PacketEvent.HEADER_BYTES);

        for (final OffHeapFrame f : new OffHeapFrame[] {
            OffHeapFrame.contiguous(frame),
            OffHeapFrame.split(frame, 5, 9),               // third segment carries the rest, far beyond 128
            OffHeapFrame.split(frame, 100, 100),           // segment boundary straddles HEADER_BYTES
            OffHeapFrame.split(frame, PacketEvent.HEADER_BYTES) })   // boundary exactly at HEADER_BYTES
        {
            final PacketEvent e = classify(f);
            assertEquals(1500, e.frameLength);
            assertEquals(128, e.headLength);
            assertEquals(PacketEvent.HEADER_BYTES, e.headLength);
            assertArrayEquals(expectedHead, head(e));
            assertEquals(FLAG_IPV4, e.packetFlags);
            assertEquals(34, e.l4Offset);
        }
    }

    @Test
    void aShortFrameIsGatheredWholeALongerOneItsHeaderBytes()
    {
        for (final int length : new int[] { PacketEvent.HEADER_BYTES + 1, 200, PacketEvent.WHOLE_FRAME_BYTES,
            PacketEvent.WHOLE_FRAME_BYTES + 1 })
        {
            final byte[] frame = ethernet(DST, SRC).etherType(0x0800).ipv4(5, 17).udp().pad(length - 42).bytes();
            assertEquals(length, frame.length);
            final int expected = length <= PacketEvent.WHOLE_FRAME_BYTES ? length : PacketEvent.HEADER_BYTES;
            for (final OffHeapFrame f : new OffHeapFrame[] {
                OffHeapFrame.contiguous(frame), OffHeapFrame.split(frame, 5, 9), OffHeapFrame.split(frame, 100, 20) })
            {
                final PacketEvent e = classify(f);
                assertEquals(expected, e.headLength, length + " bytes");
                assertArrayEquals(Arrays.copyOf(frame, expected), head(e), length + " bytes");
                assertEquals(34, e.l4Offset);
            }
        }
    }

    @Test
    void takeHeadStopsAtFrameLength()
    {
        final byte[] frame = ethernet(DST, SRC).etherType(0x0806).arp(1, SRC, 0).bytes();
        final PacketEvent e = OffHeapFrame.split(frame, 7, 7).describe(new PacketEvent(), 0);
        e.head.setMemory(0, PacketEvent.HEADER_BYTES, (byte)0x5A);

        assertEquals(frame.length, e.takeHead());
        assertEquals(frame.length, e.headLength);
        assertArrayEquals(frame, head(e));
        assertEquals((byte)0x5A, e.head.getByte(frame.length), "nothing written past the frame");
    }
}
