package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Delivery;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.testing.FakePort;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import dev.vswitch.pipeline.vlan.VlanIngressStage;
import dev.vswitch.pipeline.vlan.VlanMembership;
import dev.vswitch.testkit.frames.FrameBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hostile guest rewrites its TX buffer from another vCPU while the switch holds the frame: after the stages judged
 * it and before a destination copies it. What the destination gets must be what the stages judged. Before the
 * head was delivered from classify's copy, a trunk guest reached a VLAN it is not a member of by flipping the tag,
 * and a frame the ACL allowed for port 80 arrived for port 22. The rewrite is done here between the stages and the
 * delivery, where the race would land it.
 * <p>
 * Ports: 0 trunk [10], 1 trunk [10, 20], 2 and 3 untagged. Stages: classify, vlan, acl (allow TCP to port 80, drop other
 * TCP), mac-learning, forward.
 */
class GuestRewriteAfterJudgementTest
{
    private static final long A = 0x0200_0000_000AL;
    private static final long B = 0x0200_0000_000BL;
    private static final long C = 0x0200_0000_000CL;
    /** Frame offsets: the TCI of an 802.1Q tag; the TCP destination port of an untagged IPv4 frame. */
    private static final int TCI_LOW_BYTE = 15;
    private static final int TCP_DST_PORT_LOW_BYTE = 14 + 20 + 3;

    private FakePort[] ports;
    private MacTable table;
    private Stage[] stages;
    private Delivery delivery;

    @BeforeEach
    void setUp()
    {
        ports = new FakePort[] { new FakePort(0), new FakePort(1), new FakePort(2), new FakePort(3) };
        final VlanMembership vlans = new VlanMembership(ports.length).trunk(0, 10).trunk(1, 10, 20);
        table = MacTable.inMemory(64);
        final AclStage acl = new AclStage(List.of(
            new AclRule(false, "allow tcp dst-port=80").ipProto(6).dstPort(80),
            new AclRule(true, "drop tcp").ipProto(6)), false);
        stages = new Stage[] { new ClassifyStage(), new VlanIngressStage(vlans), acl, new MacLearningStage(table),
            new ForwardStage(table, ports) };
        delivery = new Delivery(ports, vlans);
    }

    @AfterEach
    void tearDown()
    {
        table.close();
    }

    /** The PMD's order: the stages until one drops, then (after the guest's rewrite) the delivery. */
    private PacketEvent judgeRewriteDeliver(final int port, final OffHeapFrame frame, final Runnable rewrite)
    {
        final PacketEvent e = frame.describe(new PacketEvent(), port);
        for (final Stage s : stages)
        {
            s.process(e);
            if (e.isDropped())
            {
                return e;
            }
        }
        rewrite.run();
        delivery.deliver(e);
        return e;
    }

    private static FrameBuilder tcpTo80(final long dst, final long src, final int tag)
    {
        final FrameBuilder b = ethernet(dst, src);
        if (tag != 0)
        {
            b.tag(0x8100, tag);
        }
        return b.etherType(0x0800).ipv4(5, 6).tcp().pad(10);
    }

    private void learn(final int port, final long mac, final int tag)
    {
        judgeRewriteDeliver(port, OffHeapFrame.contiguous(tcpTo80(FrameBuilder.BROADCAST, mac, tag).bytes()), () -> { });
    }

    @Test
    void aTagFlippedAfterTheVlanWasChosenIsNotDelivered()
    {
        learn(1, B, 10);
        final byte[] judged = tcpTo80(B, A, 10).bytes();
        for (final int split : new int[] { 0, 6, 15 })   // one segment; the tag in the first; the tag split
        {
            final OffHeapFrame frame = split == 0 ? OffHeapFrame.contiguous(judged) : OffHeapFrame.split(judged, split);
            final int before = ports[1].delivered.size();
            final PacketEvent e = judgeRewriteDeliver(0, frame, () -> frame.rewrite(TCI_LOW_BYTE, (byte)20));
            assertEquals(10, e.vlanId);
            assertEquals(before + 1, ports[1].delivered.size(), "split " + split);
            assertArrayEquals(judged, ports[1].delivered.get(before).bytes(),
                "split " + split + ": port 1 gets the frame of VLAN 10 it was switched as, not VLAN 20");
        }
    }

    @Test
    void aPortRewrittenAfterTheAclAllowedItIsNotDelivered()
    {
        learn(2, C, 0);
        final byte[] judged = tcpTo80(C, A, 0).bytes();
        final OffHeapFrame frame = OffHeapFrame.contiguous(judged);
        final PacketEvent e = judgeRewriteDeliver(3, frame, () -> frame.rewrite(TCP_DST_PORT_LOW_BYTE, (byte)22));
        assertEquals(2, e.outPort);
        assertArrayEquals(judged, ports[2].delivered.get(ports[2].delivered.size() - 1).bytes(),
            "the destination gets port 80, which the ACL allowed, not 22");
    }

    @Test
    void beyondTheHeadTheBytesComeStraightFromTheSource()
    {
        learn(2, C, 0);
        final byte[] judged = tcpTo80(C, A, 0).fillTo(300, 0x5a).bytes();
        final OffHeapFrame frame = OffHeapFrame.split(judged, 100);
        judgeRewriteDeliver(3, frame, () ->
        {
            frame.rewrite(TCP_DST_PORT_LOW_BYTE, (byte)22);
            frame.rewrite(PacketEvent.HEADER_BYTES + 10, (byte)0x77);
        });
        final byte[] expected = judged.clone();
        expected[PacketEvent.HEADER_BYTES + 10] = 0x77;   // payload no stage reads: copied once, from the source
        assertArrayEquals(expected, ports[2].delivered.get(ports[2].delivered.size() - 1).bytes());
    }

    @Test
    void aShortFrameIsDeliveredWholeAsJudged()
    {
        // Up to WHOLE_FRAME_BYTES the head is the whole frame: not a byte of it comes from the source after the
        // stages ran, split over descriptors or not.
        learn(2, C, 0);
        final byte[] judged = tcpTo80(C, A, 0).fillTo(PacketEvent.WHOLE_FRAME_BYTES, 0x5a).bytes();
        for (final int split : new int[] { 0, 100, PacketEvent.HEADER_BYTES + 1 })
        {
            final OffHeapFrame frame = split == 0 ? OffHeapFrame.contiguous(judged) : OffHeapFrame.split(judged, split);
            final int before = ports[2].delivered.size();
            judgeRewriteDeliver(3, frame, () ->
            {
                frame.rewrite(PacketEvent.HEADER_BYTES + 10, (byte)0x77);
                frame.rewrite(PacketEvent.WHOLE_FRAME_BYTES - 1, (byte)0x77);
            });
            assertEquals(before + 1, ports[2].delivered.size());
            assertArrayEquals(judged, ports[2].delivered.get(before).bytes(), "split " + split);
        }
    }

    @Test
    void aFrameWhoseHeadCannotLeadItsListIsDroppedNotDeliveredFromTheSource()
    {
        learn(2, C, 0);
        final int[] lengths = new int[PacketEvent.MAX_SEGMENTS - 1];
        Arrays.fill(lengths, 1);
        lengths[0] = PacketEvent.HEADER_BYTES + 2;   // the head ends inside the first of 64 segments
        // Longer than WHOLE_FRAME_BYTES, so the head is HEADER_BYTES and does not cover the list.
        final byte[] bytes = tcpTo80(C, A, 0).fillTo(PacketEvent.WHOLE_FRAME_BYTES + 100, 1).bytes();
        final OffHeapFrame frame = OffHeapFrame.split(bytes, lengths);
        assertEquals(PacketEvent.MAX_SEGMENTS, frame.segmentCount());
        final int before = ports[2].delivered.size();
        final PacketEvent e = judgeRewriteDeliver(3, frame, () -> { });
        assertTrue(e.isDropped());
        assertEquals(DropReason.BAD_CHAIN, e.dropReason);
        assertEquals(before, ports[2].delivered.size());
    }
}
