package dev.vswitch.pipeline.vlan;

import dev.vswitch.pipeline.Delivery;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.stages.ForwardStage;
import dev.vswitch.pipeline.stages.MacLearningStage;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.testing.FakePort;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import dev.vswitch.testkit.AllocationProbe;
import org.junit.jupiter.api.Test;

import static dev.vswitch.testkit.frames.FrameBuilder.BROADCAST;
import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The VLAN path (ingress stage, per-VLAN flood, tag push and pop per destination) allocates nothing per frame. */
class VlanZeroAllocationTest
{
    private static final long A = 0x0200_0000_000AL;
    private static final long B = 0x0200_0000_000BL;
    private static final int FRAMES = 100_000;

    @Test
    void vlanPathDoesNotAllocatePerFrame()
    {
        assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");

        final FakePort[] ports = { new FakePort(0, false), new FakePort(1, false), new FakePort(2, false) };
        final VlanMembership m = new VlanMembership(3).access(0, 10).trunk(1, 10, 20).access(2, 10);
        try (MacTable table = MacTable.inMemory(64))
        {
            final Stage[] stages = { new ClassifyStage(), new VlanIngressStage(m), new MacLearningStage(table),
                new ForwardStage(table, (SwitchPort[])ports) };
            final Delivery delivery = new Delivery(ports, m);
            final OffHeapFrame[] frames = {
                OffHeapFrame.split(ethernet(BROADCAST, A).etherType(0x0806).pad(28).bytes(), 6),   // push to 1
                OffHeapFrame.split(ethernet(BROADCAST, B).tag(0x8100, 10).etherType(0x0806).pad(28).bytes(), 14),
                ethernet(B, A).etherType(0x0800).ipv4(5, 17).udp().pad(20).as(OffHeapFrame::contiguous),               // unicast push
                ethernet(BROADCAST, B).tag(0x8100, 20).etherType(0x0806).pad(28).as(OffHeapFrame::contiguous),          // no member
            };
            final int[] inPorts = { 0, 1, 0, 1 };
            final PacketEvent e = new PacketEvent();
            run(stages, delivery, frames, inPorts, e, 50_000);
            final int tx = ports[0].transmitCount + ports[1].transmitCount + ports[2].transmitCount;

            final AllocationProbe probe = AllocationProbe.start();
            run(stages, delivery, frames, inPorts, e, FRAMES);
            final long bytes = probe.bytes();

            // Per 4 frames: 2 (flood to 1 tagged, 2 untagged) + 2 (popped to 0 and 2) + 1 (unicast to 1) + 0.
            assertEquals(FRAMES / 4 * 5,
                ports[0].transmitCount + ports[1].transmitCount + ports[2].transmitCount - tx);
            assertTrue(bytes < 64 * 1024, "VLAN path allocated " + bytes + " bytes over " + FRAMES + " frames");
        }
    }

    private static void run(final Stage[] stages, final Delivery delivery, final OffHeapFrame[] frames,
        final int[] inPorts, final PacketEvent e, final int n)
    {
        for (int i = 0; i < n; i++)
        {
            final int f = i & 3;
            frames[f].describe(e, inPorts[f]);
            for (final Stage s : stages)
            {
                s.process(e);
                if (e.isDropped())
                {
                    break;
                }
            }
            delivery.deliver(e);
        }
    }
}
