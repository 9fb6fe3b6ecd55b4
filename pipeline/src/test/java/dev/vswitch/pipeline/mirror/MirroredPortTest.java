package dev.vswitch.pipeline.mirror;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.testing.FakePort;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import dev.vswitch.testkit.AllocationProbe;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class MirroredPortTest
{
    private static final long A = 0x0200_0000_0001L;
    private static final long B = 0x0200_0000_0002L;
    private static final long NOW = 1_700_000_000_123_456_789L;

    /** A message taken out of the ring. */
    private record Copy(int type, long timestamp, int frameLength, int gsoType, int gsoSize, byte[] bytes) {}

    private static List<Copy> drain(final RingBuffer ring)
    {
        final List<Copy> copies = new ArrayList<>();
        ring.read((final int type, final MutableDirectBuffer buffer, final int index, final int length) ->
        {
            final byte[] bytes = new byte[MirrorRecord.captured(length)];
            buffer.getBytes(index + MirrorRecord.HEADER_LENGTH, bytes);
            copies.add(new Copy(type, MirrorRecord.timestampNanos(buffer, index), MirrorRecord.frameLength(buffer, index),
                MirrorRecord.gsoType(buffer, index), MirrorRecord.gsoSize(buffer, index), bytes));
        });
        return copies;
    }

    private static byte[] frame(final int payload)
    {
        return ethernet(B, A).etherType(0x0800).pad(payload).bytes();
    }

    @Test
    void passesEveryCallThroughAndCopiesBothDirections()
    {
        final FakePort inner = new FakePort(3);
        final RingBuffer ring = MirrorRing.allocate(1 << 20);
        final MirrorCounters counters = new MirrorCounters();
        final MirroredPort port = new MirroredPort(inner, ring, MirroredPort.BOTH, 65535, () -> NOW, counters);

        assertEquals(3, port.id());
        assertEquals("fake3", port.name());
        assertSame(inner.counters(), port.counters());
        assertSame(inner, port.port());
        assertTrue(port.isUp());
        inner.setUp(false);
        assertFalse(port.isUp());
        port.flush();
        assertEquals(1, inner.flushCount);

        // Received from the port: copied when the pipeline completes it, scatter list gathered in order.
        final byte[] in = frame(100);
        final PacketEvent e = OffHeapFrame.split(in, 10, 7, 30).describe(new PacketEvent(), 3);
        e.completionToken = 42;
        e.gsoType = 1;
        e.gsoSize = 1448;
        port.complete(e);
        assertEquals(List.of(42), inner.completedTokens);

        // Delivered to the port: passed through, then copied.
        final byte[] out = frame(60);
        final PacketEvent d = OffHeapFrame.contiguous(out).describe(new PacketEvent(), 0);
        assertTrue(port.transmit(d));
        assertEquals(1, inner.delivered.size());
        assertArrayEquals(out, inner.delivered.get(0).bytes());

        final List<Copy> copies = drain(ring);
        assertEquals(2, copies.size());
        assertEquals(MirrorRecord.IN, copies.get(0).type());
        assertEquals(NOW, copies.get(0).timestamp());
        assertEquals(in.length, copies.get(0).frameLength());
        assertEquals(1, copies.get(0).gsoType());
        assertEquals(1448, copies.get(0).gsoSize());
        assertArrayEquals(in, copies.get(0).bytes());
        assertEquals(MirrorRecord.OUT, copies.get(1).type());
        assertArrayEquals(out, copies.get(1).bytes());
        assertEquals(2, counters.get(MirrorCounters.MIRRORED));
        assertEquals(0, counters.get(MirrorCounters.DROPPED));
    }

    @Test
    void receivePassesThroughUntouched()
    {
        final FakePort inner = new FakePort(0).enqueue(OffHeapFrame.contiguous(frame(10)));
        final MirroredPort port = new MirroredPort(inner, MirrorRing.allocate(4096), MirroredPort.BOTH, 64,
            () -> NOW, new MirrorCounters());
        final com.lmax.disruptor.RingBuffer<PacketEvent> pipeline =
            com.lmax.disruptor.RingBuffer.createSingleProducer(PacketEvent::new, 8);
        assertEquals(1, port.receive(new PacketPublisher(pipeline), 8));
        assertEquals(1, inner.receiveCalls);
        assertEquals(List.of(8), inner.budgets);
    }

    @Test
    void sourceDropsAndUndeliveredFramesAreNotMirrored()
    {
        final FakePort inner = new FakePort(0);
        final RingBuffer ring = MirrorRing.allocate(4096);
        final MirrorCounters counters = new MirrorCounters();
        final RefusingPort refusing = new RefusingPort(inner);
        final MirroredPort port = new MirroredPort(refusing, ring, MirroredPort.BOTH, 200, () -> NOW, counters);

        final PacketEvent bad = OffHeapFrame.contiguous(frame(10)).describe(new PacketEvent(), 0);
        bad.sourceDropReason = DropReason.BAD_CHAIN;
        port.complete(bad);
        assertEquals(1, inner.completeCount, "a source drop is still completed");

        final PacketEvent refused = OffHeapFrame.contiguous(frame(10)).describe(new PacketEvent(), 1);
        assertFalse(port.transmit(refused), "the port's verdict is returned as it is");

        // A frame dropped later by a stage was still received from the port: it is mirrored.
        final PacketEvent filtered = OffHeapFrame.contiguous(frame(10)).describe(new PacketEvent(), 0);
        filtered.drop(DropReason.ACL);
        port.complete(filtered);

        assertEquals(1, drain(ring).size());
        assertEquals(1, counters.get(MirrorCounters.MIRRORED));
    }

    @Test
    void directionSelectsWhatIsCopied()
    {
        final RingBuffer inRing = MirrorRing.allocate(4096);
        final RingBuffer outRing = MirrorRing.allocate(4096);
        final MirroredPort in = new MirroredPort(new FakePort(0), inRing, MirroredPort.IN, 64, () -> NOW,
            new MirrorCounters());
        final MirroredPort out = new MirroredPort(new FakePort(0), outRing, MirroredPort.OUT, 64, () -> NOW,
            new MirrorCounters());
        final PacketEvent e = OffHeapFrame.contiguous(frame(10)).describe(new PacketEvent(), 0);
        for (final MirroredPort p : new MirroredPort[] { in, out })
        {
            p.transmit(e);
            p.complete(e);
        }
        final List<Copy> ins = drain(inRing);
        final List<Copy> outs = drain(outRing);
        assertEquals(1, ins.size());
        assertEquals(MirrorRecord.IN, ins.get(0).type());
        assertEquals(1, outs.size());
        assertEquals(MirrorRecord.OUT, outs.get(0).type());
    }

    @Test
    void snaplenTruncatesTheCopyButKeepsTheWireLength()
    {
        final RingBuffer ring = MirrorRing.allocate(4096);
        final MirroredPort port = new MirroredPort(new FakePort(0), ring, MirroredPort.IN, 20, () -> NOW,
            new MirrorCounters());
        final byte[] bytes = frame(200);
        port.complete(OffHeapFrame.split(bytes, 5, 5).describe(new PacketEvent(), 0));
        final Copy copy = drain(ring).get(0);
        assertEquals(bytes.length, copy.frameLength());
        assertArrayEquals(Arrays.copyOf(bytes, 20), copy.bytes());
    }

    @Test
    void fullRingDropsTheCopyNeverTheFrame()
    {
        final FakePort inner = new FakePort(0, false);
        final RingBuffer ring = MirrorRing.allocate(1024);   // 1024 bytes: a handful of 100-byte records
        final MirrorCounters counters = new MirrorCounters();
        final MirroredPort port = new MirroredPort(inner, ring, MirroredPort.BOTH, 64, () -> NOW, counters);
        final PacketEvent e = OffHeapFrame.contiguous(frame(50)).describe(new PacketEvent(), 1);
        for (int i = 0; i < 100; i++)
        {
            assertTrue(port.transmit(e));
        }
        assertEquals(100, inner.transmitCount, "every frame delivered");
        assertEquals(100, inner.counters().get(PortCounters.TX_PACKETS));
        final long mirrored = counters.get(MirrorCounters.MIRRORED);
        final long dropped = counters.get(MirrorCounters.DROPPED);
        assertTrue(mirrored > 0 && mirrored < 20, "mirrored " + mirrored);
        assertEquals(100, mirrored + dropped);
        assertEquals(mirrored, drain(ring).size());
        // Drained: there is room again.
        assertTrue(port.transmit(e));
        assertEquals(mirrored + 1, counters.get(MirrorCounters.MIRRORED));
    }

    @Test
    void snaplenMustFitTheRing()
    {
        final RingBuffer ring = MirrorRing.allocate(1024);   // largest message: 1024 / 8 bytes
        assertThrows(IllegalArgumentException.class, () -> new MirroredPort(new FakePort(0), ring, MirroredPort.IN,
            1024, () -> NOW, new MirrorCounters()));
    }

    @Test
    void copyingDoesNotAllocate()
    {
        assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");

        final FakePort inner = new FakePort(0, false);
        final RingBuffer ring = MirrorRing.allocate(1 << 16);
        final MirrorCounters counters = new MirrorCounters();
        final MirroredPort port = new MirroredPort(inner, ring, MirroredPort.BOTH, 1514,
            new org.agrona.concurrent.OffsetEpochNanoClock(), counters);
        final PacketEvent e = OffHeapFrame.split(frame(1000), 100, 400).describe(new PacketEvent(), 0);
        final org.agrona.concurrent.MessageHandler discard = (t, b, i, l) -> { };
        for (int i = 0; i < 20_000; i++)   // warm up (JIT), full ring included
        {
            port.transmit(e);
            port.complete(e);
            if ((i & 15) == 0)
            {
                ring.read(discard);
            }
        }
        final AllocationProbe probe = AllocationProbe.start();
        for (int i = 0; i < 100_000; i++)
        {
            port.transmit(e);
            port.complete(e);
            if ((i & 15) == 0)
            {
                ring.read(discard);
            }
        }
        final long allocated = probe.bytes();
        assertTrue(allocated < 64 * 1024, "allocated " + allocated + " bytes over 200k copies");
        assertTrue(counters.get(MirrorCounters.MIRRORED) > 100_000);
        assertTrue(counters.get(MirrorCounters.DROPPED) > 0, "the full-ring path was measured too");
    }

    /** Passes everything to a FakePort except that it refuses every transmit. */
    private static final class RefusingPort implements dev.vswitch.pipeline.SwitchPort
    {
        private final FakePort inner;

        RefusingPort(final FakePort inner)
        {
            this.inner = inner;
        }

        @Override
        public int id()
        {
            return inner.id();
        }

        @Override
        public String name()
        {
            return inner.name();
        }

        @Override
        public int receive(final PacketPublisher publisher, final int budget)
        {
            return inner.receive(publisher, budget);
        }

        @Override
        public boolean transmit(final PacketEvent event)
        {
            inner.counters().drop(DropReason.RING_FULL);
            return false;
        }

        @Override
        public void complete(final PacketEvent event)
        {
            inner.complete(event);
        }

        @Override
        public void flush()
        {
            inner.flush();
        }

        @Override
        public boolean isUp()
        {
            return inner.isUp();
        }

        @Override
        public PortCounters counters()
        {
            return inner.counters();
        }
    }
}
