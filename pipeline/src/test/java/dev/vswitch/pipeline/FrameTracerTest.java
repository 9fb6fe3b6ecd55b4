package dev.vswitch.pipeline;

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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What the packet tracer records: stage verdicts, forwarding decisions, destination outcomes; and its limits. */
class FrameTracerTest
{
    private static final long A = 0x5254_0000_000AL;
    private static final long B = 0x5254_0000_000BL;
    private static final long C = 0x5254_0000_000CL;

    private static OffHeapFrame udp(final long dst, final long src)
    {
        return ethernet(dst, src).etherType(0x0800).ipv4(5, 17).udp().pad(20).as(OffHeapFrame::contiguous);
    }

    @Test
    void recordsVerdictsDecisionsAndDestinationsOfTheTracedPortOnly()
    {
        final FakePort p0 = new FakePort(0);
        final FakePort p1 = new FakePort(1);
        final FakePort p2 = new FakePort(2);
        final FakePort p3 = new FakePort(3).down();
        final SwitchPort[] ports = { p0, p1, p2, p3 };
        try (MacTable table = MacTable.inMemory(64))
        {
            table.learn(0, B, 1);
            final Stage[] stages = { new ClassifyStage(), new MacLearningStage(table), new ForwardStage(table, ports) };
            final FrameTracer tracer = new FrameTracer(stages, ports);
            final PipelineHandler h = new PipelineHandler(stages, ports, new Delivery(ports, null));
            assertFalse(tracer.isArmed());
            tracer.arm(0, 4);
            final PacketEvent e = new PacketEvent();
            long seq = 0;
            pass(h, tracer, udp(B, A).describe(e, 0), seq++, false);          // known unicast: fdb hit -> p1
            pass(h, tracer, udp(A, B).describe(e, 1), seq++, false);          // another port: not traced
            pass(h, tracer, udp(BROADCAST, A).describe(e, 0), seq++, false);  // broadcast: flood to p1, p2
            pass(h, tracer, udp(C, A).describe(e, 0), seq++, false);          // unknown unicast: miss, flood
            pass(h, tracer, udp(A, C).describe(e, 0), seq++, false);          // A is on p0: hairpin drop
            assertEquals(4, tracer.recorded());
            assertFalse(tracer.isArmed(), "disarmed itself after the count");
            pass(h, tracer, udp(B, A).describe(e, 0), seq, false);
            assertEquals(4, tracer.recorded(), "nothing recorded once disarmed");

            // Frame 0: unicast hit.
            assertEquals(3, tracer.stagesRun(0));
            assertEquals(A, tracer.srcMac(0));
            assertEquals(B, tracer.dstMac(0));
            assertEquals(0x0800, tracer.etherType(0));
            assertEquals(PacketEvent.OUT_UNDECIDED, tracer.outBefore(0, 2));
            assertEquals(1, tracer.stageOut(0, 2));
            assertEquals(FrameTracer.DELIVERED, tracer.destination(0, 1));
            assertEquals(FrameTracer.OFFLOAD_PASS, tracer.offload(0, 1));
            assertEquals(FrameTracer.NOT_SENT, tracer.destination(0, 2));
            // Frame 1 (the broadcast): flooded to the ports that are up, not to the source or the down port.
            assertEquals(PacketEvent.OUT_FLOOD, tracer.stageOut(1, 2));
            assertTrue((tracer.flags(1) & PacketEvent.FLAG_BROADCAST) != 0);
            assertEquals(FrameTracer.DELIVERED, tracer.destination(1, 1));
            assertEquals(FrameTracer.DELIVERED, tracer.destination(1, 2));
            assertEquals(FrameTracer.NOT_SENT, tracer.destination(1, 0));
            assertEquals(FrameTracer.NOT_SENT, tracer.destination(1, 3));
            // Frame 2: unknown unicast floods too.
            assertEquals(PacketEvent.OUT_FLOOD, tracer.stageOut(2, 2));
            assertEquals(FrameTracer.DELIVERED, tracer.destination(2, 2));
            // Frame 3: the forward stage's verdict is a hairpin drop; nobody got it.
            assertEquals(DropReason.NONE, tracer.stageDrop(3, 1));
            assertEquals(DropReason.HAIRPIN, tracer.stageDrop(3, 2));
            for (int p = 0; p < 4; p++)
            {
                assertEquals(FrameTracer.NOT_SENT, tracer.destination(3, p));
            }
            // The traced frames went through the pipeline exactly as untraced ones: completed once each.
            assertEquals(5, p0.completeCount);
            assertEquals(1, p1.completeCount);
            assertEquals(4, p1.transmitCount, "p1: the three traced frames that reach it and the untraced last one");
        }
    }

    @Test
    void tracingAllocatesNothingPerFrame()
    {
        assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");
        final FakePort p0 = new FakePort(0, false);
        final FakePort p1 = new FakePort(1, false);
        final SwitchPort[] ports = { p0, p1 };
        try (MacTable table = MacTable.inMemory(64))
        {
            final Stage[] stages = { new ClassifyStage(), new MacLearningStage(table), new ForwardStage(table, ports) };
            final FrameTracer tracer = new FrameTracer(stages, ports);
            final PipelineHandler h = new PipelineHandler(stages, ports, new Delivery(ports, null));
            final OffHeapFrame frame = udp(B, A);
            final OffHeapFrame back = udp(A, B);
            final PacketEvent e = new PacketEvent();
            run(h, tracer, frame, back, e, 20_000);   // warm-up
            final AllocationProbe probe = AllocationProbe.start();
            run(h, tracer, frame, back, e, 100_000);
            final long bytes = probe.bytes();
            assertTrue(bytes < 64 * 1024, "traced path allocated " + bytes + " bytes over 100000 frames");
        }
    }

    /** One frame through a round's steps 2-4, the tracer set as the PMD sets it per round. */
    private static void pass(final PipelineHandler h, final FrameTracer tracer, final PacketEvent e,
        final long sequence, final boolean endOfBatch)
    {
        h.trace(tracer);
        h.onEvent(e, sequence, endOfBatch);
        h.deliver(e, sequence);
        h.complete(e);
    }

    private static void run(final PipelineHandler h, final FrameTracer tracer, final OffHeapFrame frame,
        final OffHeapFrame back, final PacketEvent e, final int frames)
    {
        for (int i = 0; i < frames; i++)
        {
            if (!tracer.isArmed())
            {
                tracer.arm(0, FrameTracer.MAX_FRAMES);
            }
            pass(h, tracer, (i & 1) == 0 ? frame.describe(e, 0) : back.describe(e, 1), i, false);
        }
    }
}
