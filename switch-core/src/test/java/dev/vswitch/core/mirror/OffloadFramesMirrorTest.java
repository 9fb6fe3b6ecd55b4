package dev.vswitch.core.mirror;

import dev.vswitch.core.Mirrors;
import dev.vswitch.core.it.Netns;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.mirror.MirrorAgent;
import dev.vswitch.pipeline.mirror.MirrorCounters;
import dev.vswitch.pipeline.mirror.MirrorRing;
import dev.vswitch.pipeline.mirror.MirroredPort;
import dev.vswitch.pipeline.mirror.PcapFileSink;
import dev.vswitch.pipeline.mirror.PortMirrorSink;
import dev.vswitch.tap.TapPort;
import org.agrona.BufferUtil;
import org.agrona.concurrent.OffsetEpochNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A TCP super-frame with a partial checksum (as a guest with TSO hands one over) is mirrored as it is: one pcap
 * record of the whole super-frame, read by tcpdump, and one frame into a mirror tap, which the kernel takes whole
 * with its virtio-net header (its rx counters grow by one frame of the super-frame's length, not by segments).
 */
class OffloadFramesMirrorTest
{
    private static final int PAYLOAD = 8000;
    private static final int FRAME = 14 + 20 + 20 + PAYLOAD;

    @TempDir
    Path dir;

    @Test
    void gsoSuperFrameIsOneRecordAndOneTapFrame() throws Exception
    {
        final ByteBuffer memory = BufferUtil.allocateDirectAligned(FRAME, 64);
        final UnsafeBuffer frame = new UnsafeBuffer(memory);
        writeTcpSuperFrame(frame);
        final PacketEvent e = new PacketEvent();
        e.reset(0);
        e.addSegment(frame.addressOffset(), 1000);   // scattered, as guest buffers are
        e.addSegment(frame.addressOffset() + 1000, FRAME - 1000);
        e.vnetFlags = 1;        // NEEDS_CSUM
        e.gsoType = 1;          // TCPV4
        e.hdrLen = 54;
        e.gsoSize = 1448;
        e.csumStart = 34;
        e.csumOffset = 16;

        // To a pcap file.
        final Path pcap = dir.resolve("gso.pcap");
        final RingBuffer fileRing = MirrorRing.allocate(1 << 22);
        final MirrorCounters fileCounters = new MirrorCounters();
        final MirroredPort toFile = new MirroredPort(new SourcePort(), fileRing, MirroredPort.IN, 262_144,
            new OffsetEpochNanoClock(), fileCounters);
        toFile.complete(e);
        final MirrorAgent fileWriter = new MirrorAgent("mirror-test", fileRing, PcapFileSink.create(pcap, 262_144),
            fileCounters);
        assertEquals(1, fileWriter.doWork());
        fileWriter.onClose();
        final String out = tcpdump(pcap);
        System.out.println("tcpdump -r: " + out.trim());
        assertEquals(1, out.lines().filter(l -> l.contains(" > ")).count(), out);
        assertTrue(out.contains("length " + FRAME + ":"), "one record of the whole super-frame: " + out);
        assertTrue(out.contains("length " + PAYLOAD), "the TCP segment as the guest sent it: " + out);

        // Into a mirror tap in a namespace.
        final String ifname = "vswg" + ThreadLocalRandom.current().nextInt(100_000, 1_000_000);
        try (Netns ns = Netns.create())
        {
            final PortMirrorSink<TapPort> tap = Mirrors.openTap("mirror-test", ifname);
            final RingBuffer tapRing = MirrorRing.allocate(1 << 20);
            final MirrorCounters tapCounters = new MirrorCounters();
            final MirroredPort toTap = new MirroredPort(new SourcePort(), tapRing, MirroredPort.IN, 65_536,
                new OffsetEpochNanoClock(), tapCounters);
            final MirrorAgent tapWriter = new MirrorAgent("mirror-test", tapRing, tap, tapCounters);
            try
            {
                ns.adopt(ifname);
                ns.exec(10, "ip", "link", "set", ifname, "up").check("up");
                final long packets = stat(ns, ifname, "rx_packets");
                final long bytes = stat(ns, ifname, "rx_bytes");
                toTap.complete(e);
                assertEquals(1, tapWriter.doWork());
                assertEquals(1, tapCounters.get(MirrorCounters.WRITTEN), tapCounters.summary() + "; tap " +
                    tap.port().counters().summary() + " errno " + tap.port().lastErrno());
                assertEquals(1, tap.port().counters().get(PortCounters.TX_GSO), "handed over as a super-frame");
                assertEquals(1, stat(ns, ifname, "rx_packets") - packets);
                assertEquals(FRAME, stat(ns, ifname, "rx_bytes") - bytes);
            }
            finally
            {
                tapWriter.onClose();
            }
        }
    }

    /** Ethernet / IPv4 / TCP with {@code PAYLOAD} bytes; the TCP checksum field holds the pseudo-header sum. */
    private static void writeTcpSuperFrame(final UnsafeBuffer b)
    {
        final byte[] dst = { 2, 0, 0, 0, 0, 0x21 };
        final byte[] src = { 2, 0, 0, 0, 0, 0x22 };
        b.putBytes(0, dst);
        b.putBytes(6, src);
        b.putShort(12, Short.reverseBytes((short)0x0800));
        final int ip = 14;
        b.putByte(ip, (byte)0x45);
        b.putShort(ip + 2, Short.reverseBytes((short)(FRAME - 14)));
        b.putByte(ip + 8, (byte)64);
        b.putByte(ip + 9, (byte)6);
        b.putBytes(ip + 12, new byte[] { 10, 0, 0, 1, 10, 0, 0, 2 });
        b.putShort(ip + 10, Short.reverseBytes((short)ipChecksum(b, ip)));
        final int tcp = ip + 20;
        b.putShort(tcp, Short.reverseBytes((short)40000));
        b.putShort(tcp + 2, Short.reverseBytes((short)5201));
        b.putInt(tcp + 4, Integer.reverseBytes(1));
        b.putByte(tcp + 12, (byte)0x50);
        b.putByte(tcp + 13, (byte)0x18);   // PSH ACK
        b.putShort(tcp + 14, Short.reverseBytes((short)65535));
        // Pseudo-header sum (not complemented), as a sender with checksum offload leaves it.
        long sum = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + (20 + PAYLOAD);
        sum = (sum & 0xffff) + (sum >>> 16);
        b.putShort(tcp + 16, Short.reverseBytes((short)sum));
        for (int i = 0; i < PAYLOAD; i++)
        {
            b.putByte(tcp + 20 + i, (byte)i);
        }
    }

    private static int ipChecksum(final UnsafeBuffer b, final int at)
    {
        long sum = 0;
        for (int i = 0; i < 20; i += 2)
        {
            sum += ((b.getByte(at + i) & 0xff) << 8) | (b.getByte(at + i + 1) & 0xff);
        }
        while ((sum >>> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int)(~sum & 0xffff);
    }

    private static String tcpdump(final Path pcap) throws Exception
    {
        final Path out = Files.createTempFile(pcap.getParent(), "tcpdump", ".txt");
        final Process p = new ProcessBuilder("tcpdump", "-r", pcap.toString(), "-nn", "-e")
            .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        final String text = Files.readString(out);
        assertEquals(0, p.exitValue(), text);
        return text;
    }

    private static long stat(final Netns ns, final String ifname, final String counter) throws Exception
    {
        return Long.parseLong(ns.exec(10, "cat", "/sys/class/net/" + ifname + "/statistics/" + counter)
            .check(counter).output().trim());
    }

    /** The mirrored port: only its complete() is called, which has nothing to give back here. */
    private static final class SourcePort implements SwitchPort
    {
        private final PortCounters counters = new PortCounters();

        @Override
        public int id()
        {
            return 0;
        }

        @Override
        public String name()
        {
            return "vm1";
        }

        @Override
        public int receive(final PacketPublisher publisher, final int budget)
        {
            return 0;
        }

        @Override
        public boolean transmit(final PacketEvent event)
        {
            return true;
        }

        @Override
        public void complete(final PacketEvent event)
        {
        }

        @Override
        public void flush()
        {
        }

        @Override
        public boolean isUp()
        {
            return true;
        }

        @Override
        public PortCounters counters()
        {
            return counters;
        }
    }
}
