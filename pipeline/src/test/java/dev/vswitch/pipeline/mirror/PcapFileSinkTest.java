package dev.vswitch.pipeline.mirror;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.testing.FakePort;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The bytes of the file: what libpcap's reader expects, checked field by field. */
class PcapFileSinkTest
{
    private static final long T1 = 1_700_000_000_123_456_789L;
    private static final long T2 = 1_700_000_001_000_000_007L;

    @TempDir
    Path dir;

    @Test
    void globalHeaderThenOneRecordPerFrame() throws Exception
    {
        final Path file = dir.resolve("m.pcap");
        final RingBuffer ring = MirrorRing.allocate(1 << 16);
        final MirrorCounters counters = new MirrorCounters();
        final long[] now = { T1 };
        final MirroredPort port = new MirroredPort(new FakePort(0), ring, MirroredPort.BOTH, 96, () -> now[0], counters);
        final byte[] small = ethernet(0x0200_0000_0002L, 0x0200_0000_0001L).etherType(0x0800).pad(46).bytes();
        final byte[] big = ethernet(0x0200_0000_0001L, 0x0200_0000_0002L).etherType(0x86dd).pad(500).bytes();
        port.complete(OffHeapFrame.split(small, 3, 20).describe(new PacketEvent(), 0));
        now[0] = T2;
        port.transmit(OffHeapFrame.contiguous(big).describe(new PacketEvent(), 1));

        final MirrorAgent agent = new MirrorAgent("mirror-test", ring, PcapFileSink.create(file, 96), counters);
        assertEquals(24, Files.size(file), "the global header is written when the file is created");
        assertEquals(2, agent.doWork());
        assertEquals(2, counters.get(MirrorCounters.WRITTEN));
        final long afterPass = Files.size(file);
        assertEquals(24 + 16 + small.length + 16 + 96, afterPass, "a pass ends with the records in the file");
        agent.onClose();

        final ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(afterPass, b.remaining());
        // Global header: nanosecond magic, 2.4, zone 0, sigfigs 0, snaplen, LINKTYPE_ETHERNET.
        assertArrayEquals(new byte[] { 0x4d, 0x3c, (byte)0xb2, (byte)0xa1 }, Arrays.copyOf(b.array(), 4));
        assertEquals(0xa1b23c4d, b.getInt());
        assertEquals(2, b.getShort());
        assertEquals(4, b.getShort());
        assertEquals(0, b.getInt());
        assertEquals(0, b.getInt());
        assertEquals(96, b.getInt());
        assertEquals(1, b.getInt());
        // Record 1: whole frame.
        assertEquals(1_700_000_000, b.getInt());
        assertEquals(123_456_789, b.getInt());
        assertEquals(small.length, b.getInt());
        assertEquals(small.length, b.getInt());
        final byte[] got1 = new byte[small.length];
        b.get(got1);
        assertArrayEquals(small, got1);
        // Record 2: cut at the snaplen, wire length kept.
        assertEquals(1_700_000_001, b.getInt());
        assertEquals(7, b.getInt());
        assertEquals(96, b.getInt());
        assertEquals(big.length, b.getInt());
        final byte[] got2 = new byte[96];
        b.get(got2);
        assertArrayEquals(Arrays.copyOf(big, 96), got2);
        assertEquals(0, b.remaining());
    }

    @Test
    void recreatingTheFileReplacesIt() throws Exception
    {
        final Path file = dir.resolve("again.pcap");
        Files.write(file, new byte[1000]);
        PcapFileSink.create(file, 65535).close();
        final ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(24, b.remaining());
        assertEquals(0xa1b23c4d, b.getInt(0));
        assertEquals(65535, b.getInt(16));
    }
}
