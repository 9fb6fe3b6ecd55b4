package dev.vswitch.pipeline.vlan;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import dev.vswitch.testkit.frames.FrameBuilder;
import org.junit.jupiter.api.Test;

import static dev.vswitch.testkit.frames.FrameBuilder.BROADCAST;
import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Port 0 untagged, 1 access VLAN 10, 2 trunk [10, 20]. */
class VlanIngressStageTest
{
    private static final long A = 0x5254_0000_000AL;
    private final VlanMembership membership = new VlanMembership(3).access(1, 10).trunk(2, 10, 20);
    private final VlanIngressStage stage = new VlanIngressStage(membership);
    private final ClassifyStage classify = new ClassifyStage();

    private PacketEvent arrive(final int port, final int tpid, final int tci)
    {
        final FrameBuilder b = ethernet(BROADCAST, A);
        if (tpid != 0)
        {
            b.tag(tpid, tci);
        }
        final PacketEvent e = b.etherType(0x0806).pad(28).as(OffHeapFrame::contiguous).describe(new PacketEvent(), port);
        classify.process(e);
        stage.process(e);
        return e;
    }

    private static void assertVlan(final int vlan, final boolean wireTagged, final PacketEvent e)
    {
        assertFalse(e.isDropped(), "dropped: " + DropReason.name(e.dropReason));
        assertEquals(vlan, e.vlanId, "switching VLAN");
        assertEquals(wireTagged, (e.packetFlags & PacketEvent.FLAG_VLAN) != 0, "wire tag flag");
    }

    private static void assertDroppedVlan(final PacketEvent e)
    {
        assertTrue(e.isDropped());
        assertEquals(DropReason.VLAN, e.dropReason);
    }

    @Test
    void untaggedPortPutsEverythingInVlanZeroAndKeepsTheWireTagFlag()
    {
        assertVlan(0, false, arrive(0, 0, 0));
        assertVlan(0, true, arrive(0, 0x8100, 10));   // a guest's own tag is payload here
        assertVlan(0, true, arrive(0, 0x88a8, 20));
    }

    @Test
    void accessPortAssignsItsVlanAndDropsTaggedFrames()
    {
        assertVlan(10, false, arrive(1, 0, 0));
        assertDroppedVlan(arrive(1, 0x8100, 10));
        assertDroppedVlan(arrive(1, 0x8100, 20));
        assertDroppedVlan(arrive(1, 0x8100, 0));   // priority tag: tagged all the same
    }

    @Test
    void trunkTakesAllowedTagsOnly()
    {
        assertVlan(10, true, arrive(2, 0x8100, 10));
        assertVlan(20, true, arrive(2, 0x8100, 0xE000 | 20));   // priority bits do not matter
        assertDroppedVlan(arrive(2, 0x8100, 30));
        assertDroppedVlan(arrive(2, 0x8100, 0));
        assertDroppedVlan(arrive(2, 0, 0));             // no native VLAN on trunks
        assertDroppedVlan(arrive(2, 0x88a8, 10));       // 802.1ad outer tag is not 802.1Q
    }
}
