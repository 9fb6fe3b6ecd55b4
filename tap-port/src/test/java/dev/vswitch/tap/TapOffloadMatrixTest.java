package dev.vswitch.tap;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static dev.vswitch.testkit.frames.Checksums.fold;
import static dev.vswitch.testkit.frames.Checksums.sum;
import static dev.vswitch.testkit.frames.Checksums.tcpPseudoHeader;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The offload matrix through a real TAP device: the port under test (offloads on or off, MTU 1500 or 9000) is given
 * every request a source at MTU 1500 or 9000 can make (a full-MTU frame, a partial checksum, TCPv4 / TCPv6
 * super-frames with and without ECN), and what the kernel took from it is read back whole: the tap is bridged, in a
 * network namespace of its own, to a second tap (the observer, offloads on, so the kernel hands over exactly what it
 * got, super-frames and partial checksums included). Checked: the observer's frames and headers against the rule,
 * byte by byte, segment sizes against the MTU, checksums with an independent implementation, and the tap's own
 * receive counter in the namespace for how many writes reached the kernel.
 */
class TapOffloadMatrixTest
{
    private static final int BURST = 32;
    private static final int[] MTUS = { 1500, 9000 };
    private static final int TCP_HLEN = 32;   // with a timestamp option, as Linux sends it
    private static final byte[] SRC_MAC = { 2, 0, 0, 0, 0x77, 1 };
    private static final byte[] DST_MAC = { 2, 0, 0, 0, 0x77, 2 };   // nobody's: the bridge floods it

    enum Request
    {
        PLAIN(false, 0), CSUM(false, 0), TSO4(false, VirtioNetHdr.GSO_TCPV4), TSO6(true, VirtioNetHdr.GSO_TCPV6),
        TSO4_ECN(false, VirtioNetHdr.GSO_TCPV4 | VirtioNetHdr.GSO_ECN),
        TSO6_ECN(true, VirtioNetHdr.GSO_TCPV6 | VirtioNetHdr.GSO_ECN);

        final boolean ipv6;
        final int gsoType;

        Request(final boolean ipv6, final int gsoType)
        {
            this.ipv6 = ipv6;
            this.gsoType = gsoType;
        }
    }

    private final String suffix = Integer.toString(ThreadLocalRandom.current().nextInt(100_000, 1_000_000));
    private final String portIf = "vswmu" + suffix;
    private final String observerIf = "vswmo" + suffix;
    private final String bridge = "vswmb" + suffix;
    private TapPort port;
    private TapPort observer;
    private String netns;

    @AfterEach
    void cleanUp()
    {
        closeAll();
    }

    private void closeAll()
    {
        if (null != port)
        {
            port.close();
            port = null;
        }
        if (null != observer)
        {
            observer.close();
            observer = null;
        }
        if (null != netns)
        {
            Shell.quietly("ip", "netns", "del", netns);   // takes the bridge with it
            netns = null;
        }
    }

    /** The port under test and the observer, bridged in a fresh namespace with IPv6 off (nothing else talks). */
    private void open(final boolean offloads, final int mtu) throws Exception
    {
        port = TapPort.open(0, "uplink", portIf, mtu, null, false, BURST, offloads);
        observer = TapPort.open(1, "observer", observerIf, mtu, null, false, BURST, true);
        final String ns = "vswm-" + suffix;
        Shell.run("ip", "netns", "add", ns);
        netns = ns;
        quietlyInNamespace("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
        quietlyInNamespace("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
        Shell.run("ip", "link", "set", portIf, "netns", ns);
        Shell.run("ip", "link", "set", observerIf, "netns", ns);
        Shell.run("ip", "-n", ns, "link", "add", bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0");
        for (final String link : List.of(portIf, observerIf))
        {
            quietlyInNamespace("sysctl", "-qw", "net.ipv6.conf." + link + ".disable_ipv6=1");
            Shell.run("ip", "-n", ns, "link", "set", link, "master", bridge);
            Shell.run("ip", "-n", ns, "link", "set", link, "up");
        }
        Shell.run("ip", "-n", ns, "link", "set", bridge, "mtu", Integer.toString(mtu), "up");
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!("3".equals(inNamespace("cat", "/sys/class/net/" + portIf + "/brport/state").trim()) &&
            "3".equals(inNamespace("cat", "/sys/class/net/" + observerIf + "/brport/state").trim())))
        {
            assertTrue(System.nanoTime() < deadline, "bridge ports forwarding");
            Thread.sleep(10);
        }
    }

    private String inNamespace(final String... command) throws IOException
    {
        final String[] full = new String[command.length + 4];
        full[0] = "ip";
        full[1] = "netns";
        full[2] = "exec";
        full[3] = netns;
        System.arraycopy(command, 0, full, 4, command.length);
        return Shell.run(full);
    }

    private void quietlyInNamespace(final String... command)
    {
        try
        {
            inNamespace(command);
        }
        catch (final IOException ex)
        {
            // a kernel without IPv6: nothing to silence
        }
    }

    /** Writes the kernel took from the port under test (the tap's receive counter, seen from the namespace). */
    private long kernelReceived() throws IOException
    {
        return Long.parseLong(inNamespace("cat", "/sys/class/net/" + portIf + "/statistics/rx_packets").trim());
    }

    // ------------------------------------------------------------------ frames

    /** A frame as a Linux source at {@code srcMtu} hands it over, and its request. */
    private static final class Source
    {
        final Request request;
        final byte[] bytes;
        final int l3 = 14;
        final int l4;
        final int headers;
        final int gsoSize;
        final Frames.OffHeap memory;

        Source(final Request request, final int srcMtu)
        {
            this.request = request;
            final int ipHeader = request.ipv6 ? 40 : 20;
            final int mss = srcMtu - ipHeader - TCP_HLEN;
            final boolean gso = request.gsoType != 0;
            gsoSize = gso ? mss : 0;
            final int payload = gso ? 3 * mss + 100 : mss;
            l4 = l3 + ipHeader;
            headers = l4 + TCP_HLEN;
            final int tcpLength = TCP_HLEN + payload;
            final ByteBuffer b = ByteBuffer.allocate(headers + payload);
            b.put(DST_MAC).put(SRC_MAC).putShort((short)(request.ipv6 ? 0x86dd : 0x0800));
            if (request.ipv6)
            {
                b.putInt(0x6000_0000).putShort((short)tcpLength).put((byte)6).put((byte)64);
                b.putLong(0xfd00_0000_0000_0000L).putLong(1).putLong(0xfd00_0000_0000_0000L).putLong(2);
            }
            else
            {
                b.put((byte)0x45).put((byte)0).putShort((short)(20 + tcpLength)).putShort((short)0x1000)
                    .putShort((short)0x4000).put((byte)64).put((byte)6).putShort((short)0)
                    .putInt(Frames.ipv4(10, 97, 0, 1)).putInt(Frames.ipv4(10, 97, 0, 2));
                b.putShort(l3 + 10, (short)~fold(sum(b.array(), l3, 20, 0)));
            }
            final int flags = 0x18 | ((request.gsoType & VirtioNetHdr.GSO_ECN) != 0 ? 0x80 : 0);
            b.putShort((short)40000).putShort((short)5201).putInt(1000).putInt(0).put((byte)(8 << 4))
                .put((byte)flags).putShort((short)65535).putShort((short)0).putShort((short)0);
            b.put((byte)1).put((byte)1).put((byte)8).put((byte)10).putInt(12345).putInt(0);
            final byte[] p = new byte[payload];
            new Random(srcMtu * 31L + request.ordinal()).nextBytes(p);
            b.put(p);
            bytes = b.array();
            final int seed = fold(tcpPseudoHeader(bytes, l3, request.ipv6, tcpLength));
            Frames.put16(bytes, l4 + 16, request == Request.PLAIN ?
                ~fold(sum(bytes, l4, tcpLength, seed)) & 0xffff : seed);
            memory = new Frames.OffHeap(bytes);
        }

        PacketEvent event()
        {
            final PacketEvent e = memory.describe(new PacketEvent(), 7, l4 + 5);   // the TCP header split
            if (request != Request.PLAIN)
            {
                e.vnetFlags = VirtioNetHdr.F_NEEDS_CSUM;
                e.csumStart = l4;
                e.csumOffset = 16;
            }
            e.gsoType = request.gsoType;
            e.gsoSize = gsoSize;
            e.hdrLen = 14;   // a wrong hint: the port recomputes it
            return e;
        }
    }

    private static void assertChecksumsValid(final byte[] f, final Source s, final String what)
    {
        final int tcpLength = f.length - s.l4;
        if (!s.request.ipv6)
        {
            assertEquals(0xffff, fold(sum(f, s.l3, 20, 0)), what + ": IPv4 header checksum");
            assertEquals(20 + tcpLength, Frames.get16(f, s.l3 + 2), what + ": IPv4 total length");
        }
        else
        {
            assertEquals(tcpLength, Frames.get16(f, s.l3 + 4), what + ": IPv6 payload length");
        }
        assertEquals(0xffff, fold(sum(f, s.l4, tcpLength, tcpPseudoHeader(f, s.l3, s.request.ipv6, tcpLength))),
            what + ": TCP checksum");
    }

    /** A frame the observer read: its bytes and the header the kernel gave it. */
    private record Seen(byte[] bytes, int flags, int gsoType, int gsoSize, int csumStart, int csumOffset)
    {
    }

    /** Reads our frames (by source MAC) from the observer until {@code wanted} arrived or 5 s passed. */
    private List<Seen> observe(final int wanted) throws InterruptedException
    {
        final TestRing ring = new TestRing();
        final List<Seen> seen = new ArrayList<>();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (seen.size() < wanted && System.nanoTime() < deadline)
        {
            if (ring.round(observer, BURST, e ->
            {
                final byte[] f = Frames.bytesOf(e);
                if (f.length >= 12 && Arrays.equals(SRC_MAC, Arrays.copyOfRange(f, 6, 12)))
                {
                    seen.add(new Seen(f, e.vnetFlags, e.gsoType, e.gsoSize, e.csumStart, e.csumOffset));
                }
            }) == 0)
            {
                Thread.sleep(1);
            }
        }
        return seen;
    }

    // ------------------------------------------------------------------ the matrix

    @Test
    void theWholeMatrixThroughARealTap() throws Exception
    {
        final int[] outcomes = new int[4];
        for (final boolean offloads : new boolean[] { true, false })
        {
            for (final int dstMtu : MTUS)
            {
                open(offloads, dstMtu);
                for (final Request request : Request.values())
                {
                    for (final int srcMtu : MTUS)
                    {
                        outcomes[deliver(new Source(request, srcMtu), srcMtu, offloads, dstMtu)]++;
                    }
                }
                closeAll();
            }
        }
        for (int i = 0; i < 4; i++)
        {
            assertTrue(outcomes[i] > 0, "every outcome is reached: " + Arrays.toString(outcomes));
        }
    }

    /** The 9000 -> 1500 case of issue 14, through a tap without TSO: segments cut to its MTU. */
    @Test
    void aSuperFrameFromA9000MtuSourceReachesA1500MtuTapWithoutTsoAsSegmentsThatFit() throws Exception
    {
        open(false, 1500);
        assertEquals(2, deliver(new Source(Request.TSO4, 9000), 9000, false, 1500));
        assertEquals(2, deliver(new Source(Request.TSO6_ECN, 9000), 9000, false, 1500));
    }

    /** Transmits one frame and checks what the kernel got; returns 0 pass, 1 complete, 2 segment, 3 drop. */
    private int deliver(final Source s, final int srcMtu, final boolean offloads, final int dstMtu)
        throws Exception
    {
        final String what = s.request + " from MTU " + srcMtu + " to a tap at MTU " + dstMtu + " with offloads " +
            (offloads ? "on" : "off");
        final PortCounters c = port.counters();
        final long dropsBefore = c.totalDrops();
        final long tooBigBefore = c.drops(DropReason.TOO_BIG);
        final long segmentedBefore = c.get(PortCounters.TX_SEGMENTED);
        final long filledBefore = c.get(PortCounters.TX_CSUM_FILLED);
        final long gsoBefore = c.get(PortCounters.TX_GSO);
        final long kernelBefore = kernelReceived();
        final PacketEvent e = s.event();
        final byte[] source = Frames.bytesOf(e);
        final boolean delivered = port.transmit(e);
        assertArrayEquals(source, Frames.bytesOf(e), what + ": the source's memory is never written");

        final int maxFrame = dstMtu + 14;
        final boolean gso = s.request.gsoType != 0;
        if ((!gso && s.bytes.length > maxFrame) || (gso && offloads && s.headers + s.gsoSize > maxFrame))
        {
            assertFalse(delivered, what);
            assertEquals(tooBigBefore + 1, c.drops(DropReason.TOO_BIG), what);
            assertEquals(kernelBefore, kernelReceived(), what + ": nothing written");
            return 3;
        }
        assertTrue(delivered, what + ": " + c.summary());
        assertEquals(dropsBefore, c.totalDrops(), what + ": " + c.summary());
        if (gso && !offloads)
        {
            final int size = Math.min(s.gsoSize, maxFrame - s.headers);
            final int payload = s.bytes.length - s.headers;
            final int count = (payload + size - 1) / size;
            assertEquals(kernelBefore + count, kernelReceived(), what + ": one write per segment");
            assertEquals(segmentedBefore + count, c.get(PortCounters.TX_SEGMENTED), what);
            final List<Seen> seen = observe(count);
            assertEquals(count, seen.size(), what + ": segments through the bridge");
            final ByteArrayOutputStream joined = new ByteArrayOutputStream();
            for (int i = 0; i < count; i++)
            {
                final Seen seg = seen.get(i);
                final String which = what + " #" + i;
                assertEquals(0, seg.flags & VirtioNetHdr.F_NEEDS_CSUM, which + ": complete");
                assertEquals(VirtioNetHdr.GSO_NONE, seg.gsoType, which);
                assertEquals(s.headers + Math.min(size, payload - i * size), seg.bytes.length, which);
                assertTrue(seg.bytes.length <= maxFrame, which + ": fits the MTU");
                assertChecksumsValid(seg.bytes, s, which);
                assertEquals(1000 + i * size, Frames.get32(seg.bytes, s.l4 + 4), which + ": sequence number");
                assertArrayEquals(Arrays.copyOfRange(s.bytes, 0, s.l3), Arrays.copyOfRange(seg.bytes, 0, s.l3),
                    which + ": Ethernet header");
                assertArrayEquals(Arrays.copyOfRange(s.bytes, s.l4, s.l4 + 4),
                    Arrays.copyOfRange(seg.bytes, s.l4, s.l4 + 4), which + ": ports");
                assertArrayEquals(Arrays.copyOfRange(s.bytes, s.l4 + 20, s.headers),
                    Arrays.copyOfRange(seg.bytes, s.l4 + 20, s.headers), which + ": TCP options");
                final int tcpFlags = seg.bytes[s.l4 + 13] & 0xff;
                assertEquals(i == 0 && (s.request.gsoType & VirtioNetHdr.GSO_ECN) != 0, (tcpFlags & 0x80) != 0,
                    which + ": CWR on the first segment only");
                assertEquals(i == count - 1, (tcpFlags & 0x08) != 0, which + ": PSH on the last only");
                joined.write(seg.bytes, s.headers, seg.bytes.length - s.headers);
            }
            assertArrayEquals(Arrays.copyOfRange(s.bytes, s.headers, s.bytes.length), joined.toByteArray(),
                what + ": payload");
            return 2;
        }
        assertEquals(kernelBefore + 1, kernelReceived(), what + ": one write");
        final List<Seen> seen = observe(1);
        assertEquals(1, seen.size(), what + ": through the bridge");
        final Seen got = seen.get(0);
        if (s.request == Request.CSUM && !offloads)
        {
            assertEquals(0, got.flags & VirtioNetHdr.F_NEEDS_CSUM, what + ": completed by the switch");
            assertChecksumsValid(got.bytes, s, what);
            final byte[] expected = s.bytes.clone();
            expected[s.l4 + 16] = got.bytes[s.l4 + 16];
            expected[s.l4 + 17] = got.bytes[s.l4 + 17];
            assertArrayEquals(expected, got.bytes, what + ": only the checksum field differs");
            assertEquals(filledBefore + 1, c.get(PortCounters.TX_CSUM_FILLED), what);
            return 1;
        }
        assertArrayEquals(s.bytes, got.bytes, what + ": the frame as sent");
        if (s.request == Request.PLAIN)
        {
            assertEquals(0, got.flags & VirtioNetHdr.F_NEEDS_CSUM, what);
            assertEquals(VirtioNetHdr.GSO_NONE, got.gsoType, what);
            assertChecksumsValid(got.bytes, s, what);
        }
        else
        {
            assertEquals(VirtioNetHdr.F_NEEDS_CSUM, got.flags & VirtioNetHdr.F_NEEDS_CSUM, what + ": still partial");
            assertEquals(s.l4, got.csumStart, what + ": csum_start");
            assertEquals(16, got.csumOffset, what + ": csum_offset");
            assertEquals(s.request.gsoType, got.gsoType, what + ": gso_type as the kernel took it");
            assertEquals(s.gsoSize, got.gsoSize, what + ": gso_size");
        }
        assertEquals(gsoBefore + (gso ? 1 : 0), c.get(PortCounters.TX_GSO), what);
        return 0;
    }
}
