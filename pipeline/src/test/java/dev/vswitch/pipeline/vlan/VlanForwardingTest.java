package dev.vswitch.pipeline.vlan;

import dev.vswitch.pipeline.Delivery;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.stages.ForwardStage;
import dev.vswitch.pipeline.stages.MacLearningStage;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.testing.FakePort;
import dev.vswitch.testkit.frames.FrameBuilder;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static dev.vswitch.testkit.frames.FrameBuilder.BROADCAST;
import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole VLAN path through the real stages (classify, vlan, mac-learning, forward) into recording ports:
 * port 0 access 10, 1 access 10, 2 access 20, 3 trunk [10, 20], 4 untagged, 5 untagged.
 */
class VlanForwardingTest
{
    private static final long A = 0x0200_0000_000AL;
    private static final long B = 0x0200_0000_000BL;
    private static final long C = 0x0200_0000_000CL;

    private FakePort[] ports;
    private MacTable table;
    private Stage[] stages;
    private Delivery delivery;

    @BeforeEach
    void setUp()
    {
        ports = new FakePort[6];
        for (int i = 0; i < ports.length; i++)
        {
            ports[i] = new FakePort(i);
        }
        final VlanMembership m = new VlanMembership(ports.length).access(0, 10).access(1, 10).access(2, 20)
            .trunk(3, 10, 20);
        table = MacTable.inMemory(64);
        stages = new Stage[] { new ClassifyStage(), new VlanIngressStage(m), new MacLearningStage(table),
            new ForwardStage(table, ports) };
        delivery = new Delivery(ports, m);
    }

    @AfterEach
    void tearDown()
    {
        table.close();
    }

    private static byte[] frame(final long dst, final long src, final int tag)
    {
        final FrameBuilder b = ethernet(dst, src);
        if (tag != 0)
        {
            b.tag(0x8100, tag);
        }
        return b.etherType(0x0800).ipv4(5, 17).udp().pad(18).bytes();
    }

    /** Runs the stages as the PMD does (stop at the first drop, count it at the source) on a 6-byte first segment. */
    private PacketEvent send(final int port, final byte[] bytes)
    {
        final PacketEvent e = OffHeapFrame.split(bytes, 6).describe(new PacketEvent(), port);
        final byte[] before = OffHeapFrame.gather(e);
        for (final Stage s : stages)
        {
            s.process(e);
            if (e.isDropped())
            {
                ports[port].counters().drop(e.dropReason);
                break;
            }
        }
        delivery.deliver(e);
        assertArrayEquals(before, OffHeapFrame.gather(e), "the event's own list is restored after the edits");
        return e;
    }

    private void assertTransmits(final int... expected)
    {
        final int[] counts = new int[ports.length];
        for (int p = 0; p < ports.length; p++)
        {
            counts[p] = ports[p].transmitCount;
        }
        assertArrayEquals(expected, counts, "transmit() calls per port");
    }

    private byte[] lastBytes(final int port)
    {
        return ports[port].delivered.get(ports[port].delivered.size() - 1).bytes();
    }

    @Test
    void broadcastFromAnAccessPortFloodsItsVlanOnlyTaggedOnTheTrunk()
    {
        send(0, frame(BROADCAST, A, 0));
        assertTransmits(0, 1, 0, 1, 0, 0);
        assertArrayEquals(frame(BROADCAST, A, 0), lastBytes(1));
        assertArrayEquals(frame(BROADCAST, A, 10), lastBytes(3), "tag pushed for the trunk");

        send(2, frame(BROADCAST, C, 0));
        assertTransmits(0, 1, 0, 2, 0, 0);
        assertArrayEquals(frame(BROADCAST, C, 20), lastBytes(3));
    }

    @Test
    void taggedBroadcastFromTheTrunkReachesThatVlansAccessPortsUntagged()
    {
        send(3, frame(BROADCAST, B, 10));
        assertTransmits(1, 1, 0, 0, 0, 0);
        assertArrayEquals(frame(BROADCAST, B, 0), lastBytes(0), "tag popped");
        assertArrayEquals(frame(BROADCAST, B, 0), lastBytes(1));

        send(3, frame(BROADCAST, B, 20));
        assertTransmits(1, 1, 1, 0, 0, 0);
        assertArrayEquals(frame(BROADCAST, B, 0), lastBytes(2));
    }

    @Test
    void untaggedPortsFormVlanZeroAndPassGuestTagsUnchanged()
    {
        send(4, frame(BROADCAST, A, 10));
        assertTransmits(0, 0, 0, 0, 0, 1);
        assertArrayEquals(frame(BROADCAST, A, 10), lastBytes(5), "a guest's tag is opaque on untagged ports");
    }

    @Test
    void ingressDropsAreCountedAsVlanAtTheSource()
    {
        send(0, frame(BROADCAST, A, 10));   // tagged on an access port
        send(3, frame(BROADCAST, A, 0));    // untagged on a trunk
        send(3, frame(BROADCAST, A, 30));   // not allowed on the trunk
        assertTransmits(0, 0, 0, 0, 0, 0);
        assertEquals(1, ports[0].counters().drops(DropReason.VLAN));
        assertEquals(2, ports[3].counters().drops(DropReason.VLAN));
        assertEquals(0, table.size(), "nothing learned from dropped frames");
    }

    @Test
    void sameMacInTwoVlansOnDifferentPortsIsTwoStations()
    {
        send(0, frame(BROADCAST, A, 0));    // A in VLAN 10 on port 0
        send(3, frame(BROADCAST, A, 20));   // A in VLAN 20 on the trunk
        assertEquals(0, table.lookup(10, A));
        assertEquals(3, table.lookup(20, A));

        send(2, frame(A, C, 0));            // VLAN 20 -> trunk, tagged
        assertEquals(1, ports[3].delivered.stream().filter(d -> d.srcMac() == C).count());
        assertArrayEquals(frame(A, C, 20), lastBytes(3));

        send(3, frame(A, B, 10));           // VLAN 10 -> port 0, untagged
        assertArrayEquals(frame(A, B, 0), lastBytes(0));
        assertEquals(0, ports[2].delivered.stream().filter(d -> d.srcMac() == B).count());
    }

    @Test
    void unicastVerdictForAPortOutsideTheVlanIsDroppedThere()
    {
        final PacketEvent e = OffHeapFrame.split(frame(B, A, 0), 6).describe(new PacketEvent(), 0);
        stages[0].process(e);
        stages[1].process(e);
        e.outPort = 2;   // e.g. a redirect by some stage, into VLAN 20
        stages[3].process(e);
        delivery.deliver(e);
        assertFalse(e.isDropped(), "the verdict stands; the frame just is not delivered");
        assertTransmits(0, 0, 0, 0, 0, 0);
        assertEquals(1, ports[2].counters().drops(DropReason.VLAN));
        assertTrue(ports[2].delivered.isEmpty());
    }

    @Test
    void pipelineWithoutVlansIsUnchanged()
    {
        final ForwardStage plain = new ForwardStage(table, ports);
        final PacketEvent e = OffHeapFrame.contiguous(frame(BROADCAST, A, 10)).describe(new PacketEvent(), 0);
        new ClassifyStage().process(e);
        plain.process(e);
        new Delivery(ports, null).deliver(e);
        assertTransmits(0, 1, 1, 1, 1, 1);
        assertArrayEquals(frame(BROADCAST, A, 10), lastBytes(3));
    }
}
