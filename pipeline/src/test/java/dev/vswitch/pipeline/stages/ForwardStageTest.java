package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Delivery;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.testing.FakePort;
import dev.vswitch.testkit.frames.FrameBuilder;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.vswitch.testkit.frames.FrameBuilder.BROADCAST;
import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Four fake ports: 0, 1 and 2 up, 3 down. Frames are classified for real before forwarding. */
class ForwardStageTest
{
    static final long A = 0x5254_0000_000AL;
    static final long B = 0x5254_0000_000BL;
    static final long UNKNOWN = 0x5254_0000_00FFL;

    private FakePort[] ports;
    private MacTable table;
    private ForwardStage forward;
    private Delivery delivery;
    private final ClassifyStage classify = new ClassifyStage();

    @BeforeEach
    void setUp()
    {
        ports = new FakePort[] { new FakePort(0), new FakePort(1), new FakePort(2), new FakePort(3).down() };
        table = MacTable.inMemory(64);
        forward = new ForwardStage(table, ports);
        delivery = new Delivery(ports, null);
    }

    @AfterEach
    void tearDown()
    {
        table.close();
    }

    private PacketEvent frame(final int inPort, final long dst, final long src, final int vlan)
    {
        final FrameBuilder b = ethernet(dst, src);
        if (vlan != 0)
        {
            b.tag(0x8100, vlan);
        }
        final OffHeapFrame frame = b.etherType(0x0800).ipv4(5, 17).udp().pad(10).as(OffHeapFrame::contiguous);
        final PacketEvent e = frame.describe(new PacketEvent(), inPort);
        classify.process(e);
        assertFalse(e.isDropped());
        return e;
    }

    /** The decision, then the PMD's delivery step, as a round runs them. */
    private void forward(final PacketEvent e)
    {
        forward.process(e);
        delivery.deliver(e);
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

    @Test
    void name()
    {
        assertEquals("forward", forward.name());
    }

    @Test
    void unknownUnicastFloodsToOtherUpPorts()
    {
        final PacketEvent e = frame(1, UNKNOWN, A, 0);
        forward(e);

        assertTransmits(1, 0, 1, 0);   // not the ingress (1), not the down port (3)
        assertEquals(PacketEvent.OUT_FLOOD, e.outPort);
        assertFalse(e.isDropped());
        assertEquals(1, ports[1].counters().get(PortCounters.FLOODED));
        assertEquals(0, ports[1].counters().get(PortCounters.UNICAST));
        assertEquals(0, ports[0].counters().get(PortCounters.FLOODED), "counted at the ingress port only");
        final FakePort.Delivery d = ports[0].delivered.get(0);
        assertEquals(1, d.inPort());
        assertEquals(UNKNOWN, d.dstMac());
        assertEquals(A, d.srcMac());
    }

    @Test
    void floodSkipsPortThatWentDownAndIncludesOneThatCameUp()
    {
        ports[2].setUp(false);
        ports[3].setUp(true);
        forward(frame(0, UNKNOWN, A, 0));
        assertTransmits(0, 1, 0, 1);
    }

    @Test
    void knownUnicastGoesToExactlyThatPort()
    {
        table.learn(0, B, 2);
        final PacketEvent e = frame(0, B, A, 0);
        forward(e);

        assertTransmits(0, 0, 1, 0);
        assertEquals(2, e.outPort);
        assertFalse(e.isDropped());
        assertEquals(1, ports[0].counters().get(PortCounters.UNICAST));
        assertEquals(0, ports[0].counters().get(PortCounters.FLOODED));
        assertEquals(0, ports[0].counters().totalDrops());
        assertEquals(B, ports[2].delivered.get(0).dstMac());
    }

    @Test
    void unicastLookupIsPerVlan()
    {
        table.learn(10, B, 2);

        final PacketEvent untagged = frame(0, B, A, 0);
        forward(untagged);
        assertEquals(PacketEvent.OUT_FLOOD, untagged.outPort, "B is known on VLAN 10 only");
        assertTransmits(0, 1, 1, 0);

        final PacketEvent tagged = frame(0, B, A, 10);
        forward(tagged);
        assertEquals(2, tagged.outPort);
        assertTransmits(0, 1, 2, 0);
        assertEquals(10, ports[2].delivered.get(1).vlanId());
    }

    @Test
    void broadcastFloodsEvenWithATableEntryForBroadcast()
    {
        table.learn(0, BROADCAST, 2);   // poisoned entry: must be ignored for a broadcast destination
        final PacketEvent e = frame(0, BROADCAST, A, 0);
        assertTrue((e.packetFlags & PacketEvent.FLAG_BROADCAST) != 0);
        forward(e);

        assertTransmits(0, 1, 1, 0);
        assertEquals(PacketEvent.OUT_FLOOD, e.outPort);
        assertEquals(1, ports[0].counters().get(PortCounters.FLOODED));
        assertEquals(0, ports[0].counters().get(PortCounters.UNICAST));
    }

    @Test
    void multicastFloodsEvenWithATableEntry()
    {
        final long mcast = 0x0100_5E00_0001L;
        table.learn(0, mcast, 2);
        final PacketEvent e = frame(1, mcast, A, 0);
        forward(e);

        assertTransmits(1, 0, 1, 0);
        assertEquals(PacketEvent.OUT_FLOOD, e.outPort);
    }

    @Test
    void destinationOnIngressPortIsHairpinDropped()
    {
        table.learn(0, B, 1);
        final PacketEvent e = frame(1, B, A, 0);
        forward(e);

        assertTransmits(0, 0, 0, 0);
        assertEquals(DropReason.HAIRPIN, e.dropReason);
        assertEquals(1, ports[1].counters().drops(DropReason.HAIRPIN));
        assertEquals(1, ports[1].counters().totalDrops());
        assertEquals(0, ports[1].counters().get(PortCounters.UNICAST));
        assertEquals(0, ports[1].counters().get(PortCounters.FLOODED));
    }

    /**
     * Regression: in the original ForwardStage.process the unconditional {@code e.outPort = out;} at the end ran
     * after {@code e.drop(DropReason.HAIRPIN)} and overwrote OUT_DROP with the ingress port, so the event no longer
     * reported {@link PacketEvent#isDropped()} and its verdict named the ingress port as the destination.
     */
    @Test
    void hairpinDropStaysADrop()
    {
        table.learn(0, B, 1);
        final PacketEvent e = frame(1, B, A, 0);
        forward(e);

        assertEquals(DropReason.HAIRPIN, e.dropReason);
        assertTrue(e.isDropped(), "HAIRPIN BUG: ForwardStage overwrote OUT_DROP with the ingress port after a hairpin " +
            "drop; outPort=" + e.outPort);
        assertEquals(PacketEvent.OUT_DROP, e.outPort);
    }

    @Test
    void earlierStageChoiceOfOutPortIsHonoured()
    {
        table.learn(0, B, 2);   // the table says port 2 ...
        final PacketEvent e = frame(1, B, A, 0);
        e.outPort = 0;          // ... but an earlier stage chose port 0
        forward(e);

        assertTransmits(1, 0, 0, 0);
        assertEquals(0, e.outPort);
        assertEquals(1, ports[1].counters().get(PortCounters.UNICAST));
    }

    @Test
    void earlierStageMayForceAFloodOfKnownUnicast()
    {
        table.learn(0, B, 2);
        final PacketEvent e = frame(1, B, A, 0);
        e.outPort = PacketEvent.OUT_FLOOD;
        forward(e);

        assertTransmits(1, 0, 1, 0);
        assertEquals(1, ports[1].counters().get(PortCounters.FLOODED));
    }

    @Test
    void earlierStageChoosingTheIngressPortIsAHairpin()
    {
        final PacketEvent e = frame(2, B, A, 0);
        e.outPort = 2;
        forward(e);

        assertTransmits(0, 0, 0, 0);
        assertEquals(DropReason.HAIRPIN, e.dropReason);
        assertEquals(1, ports[2].counters().drops(DropReason.HAIRPIN));
    }

    @Test
    void floodWithTwoPortsOnlyGoesToThePeer()
    {
        final SwitchPort[] two = { new FakePort(0), new FakePort(1) };
        final ForwardStage small = new ForwardStage(table, two);
        final PacketEvent e = frame(1, BROADCAST, A, 0);
        small.process(e);
        new Delivery(two, null).deliver(e);
        assertEquals(1, ((FakePort)two[0]).transmitCount);
        assertEquals(0, ((FakePort)two[1]).transmitCount);
        final List<FakePort.Delivery> got = ((FakePort)two[0]).delivered;
        assertEquals(BROADCAST, got.get(0).dstMac());
    }
}
