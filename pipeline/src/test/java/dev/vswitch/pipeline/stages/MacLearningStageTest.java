package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import dev.vswitch.testkit.frames.FrameBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static dev.vswitch.testkit.frames.FrameBuilder.BROADCAST;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class MacLearningStageTest
{
    static final long A = 0x5254_0000_000AL;
    static final long B = 0x5254_0000_000BL;

    private final MacTable table = MacTable.inMemory(64);
    private final MacLearningStage learning = new MacLearningStage(table);

    @AfterEach
    void close()
    {
        table.close();
    }

    private static PacketEvent event(final int inPort, final int vlan, final long src, final long dst)
    {
        final PacketEvent e = new PacketEvent();
        e.reset(inPort);
        e.vlanId = vlan;
        e.srcMac = src;
        e.dstMac = dst;
        return e;
    }

    @Test
    void name()
    {
        assertEquals("mac-learning", learning.name());
    }

    @Test
    void learnsUnicastSourceOnVlanAndIngressPort()
    {
        final PacketEvent e = event(3, 10, A, B);
        learning.process(e);

        assertEquals(3, table.lookup(10, A));
        assertEquals(MacTable.NO_PORT, table.lookup(0, A), "learned per VLAN");
        assertEquals(MacTable.NO_PORT, table.lookup(10, B), "destination is not learned");
        assertEquals(1, table.size());
        assertFalse(e.isDropped());
        assertEquals(PacketEvent.OUT_UNDECIDED, e.outPort, "learning does not decide the output");
    }

    @Test
    void followsAStationThatMoves()
    {
        learning.process(event(1, 0, A, B));
        learning.process(event(2, 0, A, B));
        assertEquals(2, table.lookup(0, A));
        assertEquals(1, table.size());
    }

    @Test
    void neverLearnsMulticastOrBroadcastSource()
    {
        learning.process(event(1, 0, 0x0100_5E00_0001L, B));   // 01:00:5e:00:00:01
        learning.process(event(1, 0, 0x3333_0000_0001L, B));   // 33:33:00:00:00:01
        learning.process(event(1, 0, BROADCAST, B));
        learning.process(event(1, 0, 0x0300_0000_0001L, B));   // locally administered multicast

        assertEquals(0, table.size());
        assertEquals(0, table.learnedTotal());
        assertEquals(MacTable.NO_PORT, table.lookup(0, BROADCAST));

        learning.process(event(1, 0, 0x0200_0000_0001L, B));   // locally administered unicast: learned
        assertEquals(1, table.lookup(0, 0x0200_0000_0001L));
    }

    @Test
    void learnsFromClassifiedTaggedFrame()
    {
        final PacketEvent e = FrameBuilder.ethernet(BROADCAST, A).tag(0x8100, 0xE000 | 42).etherType(0x0806)
            .arp(1, A, 0).as(OffHeapFrame::contiguous).describe(new PacketEvent(), 4);
        new ClassifyStage().process(e);
        learning.process(e);

        assertEquals(4, table.lookup(42, A));
        assertEquals(MacTable.NO_PORT, table.lookup(0, A));
    }
}
