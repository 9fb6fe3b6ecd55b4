package dev.vswitch.pipeline;

import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.stages.ForwardStage;
import dev.vswitch.pipeline.stages.MacLearningStage;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.testing.FakePort;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;

import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The three things a stage may do, through the real handler and the built-in stages: modify (edit the head,
 * commit), redirect (choose outPort), drop. The destination receives the edited frame; the source's memory does
 * not change.
 */
class StageVerdictsTest
{
    static final long A = 0x5254_0000_000AL;
    static final long B = 0x5254_0000_000BL;
    static final long C = 0x0200_0000_00CCL;

    /** Rewrites the destination MAC of frames for B to C and sends them to port 2, whatever the FDB says. */
    static final class RewriteAndRedirect implements Stage
    {
        @Override
        public String name()
        {
            return "rewrite-and-redirect";
        }

        @Override
        public void process(final PacketEvent e)
        {
            if (e.dstMac == B)
            {
                e.head.putInt(0, (int)(C >>> 16), ByteOrder.BIG_ENDIAN);
                e.head.putShort(4, (short)C, ByteOrder.BIG_ENDIAN);
                if (!e.commitHead())
                {
                    e.drop(DropReason.FILTERED);
                    return;
                }
                e.dstMac = C;
                e.outPort = 2;
            }
        }
    }

    @Test
    void aStageModifiesAndRedirectsAndTheSourceStaysUntouched() throws Exception
    {
        final FakePort p0 = new FakePort(0, true);
        final FakePort p1 = new FakePort(1, true);
        final FakePort p2 = new FakePort(2, true);
        final SwitchPort[] ports = { p0, p1, p2 };
        try (MacTable table = MacTable.inMemory(64))
        {
            table.learn(0, B, 1);   // the FDB says B is on port 1
            final PipelineHandler h = new PipelineHandler(new Stage[] {
                new ClassifyStage(), new RewriteAndRedirect(), new MacLearningStage(table), new ForwardStage(table, ports)
            }, ports, new Delivery(ports, null));
            final byte[] original = ethernet(B, A).etherType(0x0800).ipv4(5, 17).udp().pad(300).bytes();
            final OffHeapFrame frame = OffHeapFrame.split(original, 6, 40, 100);   // the head spans 4 segments

            final PacketEvent e = frame.describe(new PacketEvent(), 0);
            h.onEvent(e, 0, true);
            h.deliver(e, 0);
            h.complete(e);

            assertEquals(0, p1.transmitCount, "redirected away from the learned port");
            assertEquals(1, p2.delivered.size());
            final byte[] expected = original.clone();
            for (int i = 0; i < 6; i++)
            {
                expected[i] = (byte)(C >>> (40 - 8 * i));
            }
            assertArrayEquals(expected, p2.delivered.get(0).bytes(), "the destination got the edited frame");
            assertArrayEquals(original, OffHeapFrame.gather(frame.describe(new PacketEvent(), 0)),
                "the source's buffers were not written");
            assertEquals(1, p0.completeCount);
            assertEquals(1, p0.counters().get(PortCounters.UNICAST));
        }
    }
}
