package dev.vswitch.tap;

import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.NetDevices;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import dev.vswitch.testkit.AllocationProbe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Against the real kernel: taps are created through /dev/net/tun, traffic flows through a network namespace the test
 * creates (addresses 10.99.0.0/24 exist only in there), and everything is deleted in {@link #cleanUp} even when a
 * test fails.
 */
class TapPortTest
{
    private static final String TAP_MAC = "02:00:00:00:99:01";
    private static final byte[] PEER_MAC = NetDevices.parseMac("02:00:00:00:99:02");
    private static final int TAP_IP = Frames.ipv4(10, 99, 0, 1);
    private static final int PEER_IP = Frames.ipv4(10, 99, 0, 2);
    private static final int BURST = 32;

    private final String ifname = "vswt" + ThreadLocalRandom.current().nextInt(100_000, 1_000_000);
    private TapPort port;
    private String netns;
    private final List<String> persistentLinks = new ArrayList<>();

    /**
     * Fd counts are compared across calls, so everything that opens an fd once per JVM must have done so first: JNA's
     * native setup, and NIO's (its first channel keeps a socket for closing fds safely).
     */
    @BeforeAll
    static void loadLazilyOpenedFds() throws IOException
    {
        NetDevices.mtu("lo");
        sysAttribute("lo", "mtu");
    }

    /** The open fd count reaches {@code expected} (other threads may open and close fds for a moment). */
    private static void assertFdCount(final int expected, final String message) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        int count;
        while ((count = Fds.openCount()) != expected && System.nanoTime() < deadline)
        {
            Thread.sleep(10);
        }
        assertEquals(expected, count, message);
    }

    @AfterEach
    void cleanUp()
    {
        if (null != port)
        {
            port.close();
        }
        if (null != netns)
        {
            Shell.quietly("ip", "netns", "del", netns);
        }
        for (final String link : persistentLinks)
        {
            Shell.quietly("ip", "link", "del", link);
        }
    }

    private static Path sys(final String ifname)
    {
        return Path.of("/sys/class/net", ifname);
    }

    private static String sysAttribute(final String ifname, final String attribute) throws IOException
    {
        return Files.readString(sys(ifname).resolve(attribute)).trim();
    }

    private static boolean awaitGone(final String ifname) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (Files.exists(sys(ifname)) && System.nanoTime() < deadline)
        {
            Thread.sleep(10);
        }
        return !Files.exists(sys(ifname));
    }

    /**
     * Opens the port (down, in this namespace), moves its tap into a fresh namespace, gives it 10.99.0.1/24 there,
     * brings it up, and adds a permanent neighbour 10.99.0.2 = {@link #PEER_MAC} that exists only as frames we read
     * and write. IPv6 is switched off on the interface first so no router solicitations mix into what we read.
     */
    private void openInNamespace(final int mtu, final int burst) throws IOException
    {
        openInNamespace(mtu, burst, false);
    }

    private void openInNamespace(final int mtu, final int burst, final boolean offloads) throws IOException
    {
        port = TapPort.open(0, "uplink", ifname, mtu, TAP_MAC, false, burst, offloads);
        assertEquals(offloads, port.offloads());
        final String ns = "vswt-" + ThreadLocalRandom.current().nextInt(100_000, 1_000_000);
        Shell.run("ip", "netns", "add", ns);
        netns = ns;
        Shell.run("ip", "link", "set", ifname, "netns", ns);
        try
        {
            Shell.run("ip", "netns", "exec", ns, "sh", "-c",
                "echo 1 > /proc/sys/net/ipv6/conf/" + ifname + "/disable_ipv6");
        }
        catch (final IOException ex)
        {
            // a kernel without IPv6: nothing to silence
        }
        Shell.run("ip", "-n", ns, "addr", "add", "10.99.0.1/24", "dev", ifname);
        Shell.run("ip", "-n", ns, "link", "set", ifname, "up");
        Shell.run("ip", "-n", ns, "neigh", "add", "10.99.0.2", "lladdr", NetDevices.formatMac(PEER_MAC), "nud",
            "permanent", "dev", ifname);
    }

    /** Frames the namespace's interface received from us (the tap fd), read inside the namespace. */
    private long namespaceRxPackets() throws IOException
    {
        return Long.parseLong(Shell.run("ip", "netns", "exec", netns, "cat",
            "/sys/class/net/" + ifname + "/statistics/rx_packets").trim());
    }

    private static boolean isIcmp(final byte[] f, final int type)
    {
        return f.length >= 42 && Frames.get16(f, 12) == Frames.ETHERTYPE_IPV4 && (f[23] & 0xff) == Frames.IPPROTO_ICMP
            && (f[14 + (f[14] & 0xf) * 4] & 0xff) == type;
    }

    // ------------------------------------------------------------------ lifecycle

    @Test
    void opensConfiguredTapAndTheKernelDeletesItOnClose() throws Exception
    {
        final int fdsBefore = Fds.openCount();
        port = TapPort.open(3, "uplink", ifname, 1400, TAP_MAC, true, BURST);

        assertEquals(3, port.id());
        assertEquals("uplink", port.name());
        assertEquals(ifname, port.ifname());
        assertEquals(TAP_MAC, port.mac());
        assertTrue(port.isUp());
        assertTrue(Files.isDirectory(sys(ifname)), ifname + " should exist");
        assertTrue(Files.exists(sys(ifname).resolve("tun_flags")), ifname + " should be a tun/tap device");
        assertEquals("1400", sysAttribute(ifname, "mtu"));
        assertEquals(TAP_MAC, sysAttribute(ifname, "address"));
        assertEquals(1, Integer.decode(sysAttribute(ifname, "flags")) & 1, "IFF_UP");
        final int tunFlags = Integer.decode(sysAttribute(ifname, "tun_flags"));
        assertEquals(0x2 | 0x1000 | 0x4000, tunFlags & (0x2 | 0x1000 | 0x4000), "IFF_TAP|IFF_NO_PI|IFF_VNET_HDR");
        assertFdCount(fdsBefore + 1, "the port holds exactly one fd");

        port.close();
        assertFalse(port.isUp());
        assertTrue(awaitGone(ifname), ifname + " should be deleted with its last fd");
        assertFdCount(fdsBefore, "close() closes the fd");
        port.close(); // idempotent

        // A closed port drops instead of touching a stale fd number.
        final Frames.OffHeap frame = new Frames.OffHeap(
            Frames.experimental(NetDevices.parseMac(TAP_MAC), PEER_MAC, 60, false));
        assertFalse(port.transmit(frame.describe(new PacketEvent())));
        assertEquals(1, port.counters().drops(DropReason.PORT_DOWN));
        assertEquals(0, port.receive(new TestRing().publisher, BURST));
    }

    @Test
    void keepsTheKernelsMacAndStateWhenNotAskedToChangeThem() throws Exception
    {
        port = TapPort.open(0, "uplink", ifname, 1500, null, false, 1);
        assertEquals(sysAttribute(ifname, "address"), port.mac());
        assertEquals(0, Integer.decode(sysAttribute(ifname, "flags")) & 1, "left down");
        assertEquals("1500", sysAttribute(ifname, "mtu"));
    }

    @Test
    void badSettingsFailNamingPortAndInterfaceAndLeakNothing() throws Exception
    {
        TapPort.open(0, "warmup", ifname, 1500, null, false, 1).close();   // load classes (and their fds) first
        assertTrue(awaitGone(ifname));
        final int fdsBefore = Fds.openCount();

        IOException ex = assertThrows(IOException.class,
            () -> TapPort.open(0, "uplink", "bad/name", 1500, null, true, BURST));
        assertEquals("port uplink: cannot create tap 'bad/name': Invalid argument (EINVAL)", ex.getMessage());

        ex = assertThrows(IOException.class,
            () -> TapPort.open(0, "uplink", "vswt-sixteen-chr", 1500, null, true, BURST));
        assertTrue(ex.getMessage().startsWith("port uplink: cannot create tap 'vswt-sixteen-chr'"), ex.getMessage());
        assertTrue(ex.getMessage().endsWith("(EINVAL)"), ex.getMessage());

        // An existing interface that is not a tap is refused, and left alone.
        final String loMtu = sysAttribute("lo", "mtu");
        ex = assertThrows(IOException.class, () -> TapPort.open(0, "uplink", "lo", 1280, null, true, BURST));
        assertTrue(ex.getMessage().startsWith("port uplink: cannot create tap 'lo' (an interface of that name " +
            "exists and is not a single-queue tap): Invalid argument (EINVAL)"), ex.getMessage());
        assertEquals(loMtu, sysAttribute("lo", "mtu"));

        // Failures after the tap was created: the fd is closed, so the half-configured tap is gone too.
        ex = assertThrows(IOException.class, () -> TapPort.open(0, "uplink", ifname, 20, null, true, BURST));
        assertEquals("port uplink: cannot set mtu 20 on tap '" + ifname + "': Invalid argument (EINVAL)",
            ex.getMessage());
        assertTrue(awaitGone(ifname));

        ex = assertThrows(IOException.class,
            () -> TapPort.open(0, "uplink", ifname, 1500, "01:00:5e:00:00:01", true, BURST));
        assertEquals("port uplink: cannot set mac 01:00:5e:00:00:01 on tap '" + ifname + "': " +
            "Cannot assign requested address (EADDRNOTAVAIL)", ex.getMessage());
        assertTrue(awaitGone(ifname));

        ex = assertThrows(IOException.class, () -> TapPort.open(0, "uplink", ifname, 1500, "02:00:00", true, BURST));
        assertTrue(ex.getMessage().startsWith("port uplink: tap '" + ifname + "': invalid mac"), ex.getMessage());
        assertFalse(Files.exists(sys(ifname)));

        assertFdCount(fdsBefore, "no fd may be left open by a failed open");
        assertThrows(IllegalArgumentException.class, () -> TapPort.open(0, "uplink", ifname, 1500, null, true, 0));
    }

    @Test
    void attachesToAnExistingPersistentTapAndLeavesItOnClose() throws Exception
    {
        Shell.run("ip", "tuntap", "add", "dev", ifname, "mode", "tap");
        persistentLinks.add(ifname);
        port = TapPort.open(0, "uplink", ifname, 1280, TAP_MAC, false, BURST);
        assertEquals("1280", sysAttribute(ifname, "mtu"));
        assertEquals(TAP_MAC, sysAttribute(ifname, "address"));
        assertEquals(0x4000, Integer.decode(sysAttribute(ifname, "tun_flags")) & 0x4000, "IFF_VNET_HDR set");

        // A second opener of the same single-queue tap is refused while we hold it.
        final IOException busy = assertThrows(IOException.class,
            () -> TapPort.open(1, "second", ifname, 1280, null, false, BURST));
        assertTrue(busy.getMessage().startsWith("port second: cannot create tap '" + ifname + "'"),
            busy.getMessage());
        assertTrue(busy.getMessage().endsWith("(EBUSY)"), busy.getMessage());

        port.close();
        Thread.sleep(100);
        assertTrue(Files.exists(sys(ifname)), "a persistent tap outlives our fd");
    }

    // ------------------------------------------------------------------ traffic through a namespace

    @Test
    void receivesTheFramesTheNamespaceSends() throws Exception
    {
        openInNamespace(1500, BURST);
        final List<String> ping = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        ping.addAll(Shell.ping());
        ping.addAll(List.of("-c", "3", "-i", "0.2", "-W", "1", "10.99.0.2"));
        final Process pinger = Shell.start(ping);
        final TestRing ring = new TestRing();
        final List<byte[]> requests = new ArrayList<>();
        final List<String> others = new ArrayList<>();
        try
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (requests.size() < 3 && System.nanoTime() < deadline)
            {
                if (ring.round(port, BURST, e -> {
                    assertEquals(0, e.inPort);
                    assertEquals(1, e.segCount, "one segment: the frame after the virtio-net header");
                    assertEquals(e.frameLength, e.segLength[0]);
                    assertEquals(0, e.gsoType);
                    assertEquals(0, e.vnetFlags & 1, "no NEEDS_CSUM with offloads off");
                    assertEquals(DropReason.NONE, e.sourceDropReason);
                    final byte[] f = Frames.bytesOf(e);
                    if (isIcmp(f, Frames.ICMP_ECHO_REQUEST))
                    {
                        requests.add(f);
                    }
                    else
                    {
                        others.add(Integer.toHexString(Frames.get16(f, 12)));
                    }
                }) == 0)
                {
                    Thread.sleep(1);
                }
            }
        }
        finally
        {
            pinger.destroy();
            pinger.waitFor(5, TimeUnit.SECONDS);
        }
        assertEquals(3, requests.size(), "echo requests read from the tap; other frames: " + others);
        for (final byte[] f : requests)
        {
            assertArrayEquals(PEER_MAC, Arrays.copyOfRange(f, 0, 6), "dst MAC is the static neighbour");
            assertArrayEquals(NetDevices.parseMac(TAP_MAC), Arrays.copyOfRange(f, 6, 12));
            assertEquals(TAP_IP, Frames.get32(f, 26));
            assertEquals(PEER_IP, Frames.get32(f, 30));
        }
        final PortCounters c = port.counters();
        assertTrue(c.get(PortCounters.RX_PACKETS) >= 3);
        assertTrue(c.get(PortCounters.RX_BYTES) >= 3 * 98L, "3 x (14 + 20 + 8 + 56)");
        assertEquals(0, c.totalDrops(), c.summary());
    }

    @Test
    void transmittedEchoRequestIsAnsweredByTheNamespace() throws Exception
    {
        openInNamespace(1500, BURST);
        final byte[] payload = new byte[56];
        for (int i = 0; i < payload.length; i++)
        {
            payload[i] = (byte)(0xa0 + i);
        }
        final Frames.OffHeap request = new Frames.OffHeap(Frames.icmpEcho(NetDevices.parseMac(port.mac()), PEER_MAC,
            PEER_IP, TAP_IP, Frames.ICMP_ECHO_REQUEST, 0x5757, 1, payload));
        final long rxBefore = namespaceRxPackets();

        // Three segments (Ethernet header | IP header | ICMP): one writev gathers them behind the zero header.
        final PacketEvent event = request.describe(new PacketEvent(), 14, 34);
        assertEquals(3, event.segCount);
        assertTrue(port.transmit(event));
        assertEquals(1, port.counters().get(PortCounters.TX_PACKETS));
        assertEquals(98, port.counters().get(PortCounters.TX_BYTES));
        assertEquals(rxBefore + 1, namespaceRxPackets(), "the namespace's interface received our frame");

        final TestRing ring = new TestRing();
        final List<byte[]> replies = new ArrayList<>();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (replies.isEmpty() && System.nanoTime() < deadline)
        {
            if (ring.round(port, BURST, e -> {
                final byte[] f = Frames.bytesOf(e);
                if (isIcmp(f, Frames.ICMP_ECHO_REPLY))
                {
                    replies.add(f);
                }
            }) == 0)
            {
                Thread.sleep(1);
            }
        }
        assertEquals(1, replies.size(), "the kernel's echo reply came back out of the tap");
        final byte[] reply = replies.get(0);
        assertArrayEquals(PEER_MAC, Arrays.copyOfRange(reply, 0, 6));
        assertArrayEquals(NetDevices.parseMac(port.mac()), Arrays.copyOfRange(reply, 6, 12));
        assertEquals(TAP_IP, Frames.get32(reply, 26));
        assertEquals(PEER_IP, Frames.get32(reply, 30));
        assertEquals(0x5757, Frames.get16(reply, 38), "echo identifier");
        assertEquals(1, Frames.get16(reply, 40), "echo sequence");
        assertArrayEquals(payload, Arrays.copyOfRange(reply, 42, 42 + payload.length));
        assertEquals(0, Frames.checksum(reply, 14, 20), "IPv4 header checksum (the kernel computed it)");
        assertEquals(0, Frames.checksum(reply, 34, reply.length - 34), "ICMP checksum");
    }

    @Test
    void framesBeyondTheMtuAreDroppedNotTruncated() throws Exception
    {
        openInNamespace(1500, BURST);
        final byte[] tapMac = NetDevices.parseMac(port.mac());
        final PacketEvent event = new PacketEvent();
        final long rxBefore = namespaceRxPackets();

        assertFalse(port.transmit(new Frames.OffHeap(Frames.experimental(tapMac, PEER_MAC, 1515, false))
            .describe(event, 600)));
        assertEquals(1, port.counters().drops(DropReason.TOO_BIG));
        assertEquals(rxBefore, namespaceRxPackets(), "nothing written");
        assertEquals(0, port.counters().get(PortCounters.TX_PACKETS));

        // A VLAN tag earns 4 more bytes, no more.
        final PacketEvent tagged = new Frames.OffHeap(Frames.experimental(tapMac, PEER_MAC, 1519, true))
            .describe(event);
        tagged.packetFlags = PacketEvent.FLAG_VLAN;
        assertFalse(port.transmit(tagged));
        assertEquals(2, port.counters().drops(DropReason.TOO_BIG));
        assertEquals(rxBefore, namespaceRxPackets(), "nothing written");

        // The largest frames that fit do go out.
        assertTrue(port.transmit(new Frames.OffHeap(Frames.experimental(tapMac, PEER_MAC, 1514, false))
            .describe(event)));
        final PacketEvent tagged1518 = new Frames.OffHeap(Frames.experimental(tapMac, PEER_MAC, 1518, true))
            .describe(event);
        tagged1518.packetFlags = PacketEvent.FLAG_VLAN;
        assertTrue(port.transmit(tagged1518));
        assertEquals(2, port.counters().get(PortCounters.TX_PACKETS));
        assertEquals(rxBefore + 2, namespaceRxPackets());

        // And a runt never reaches the kernel.
        assertFalse(port.transmit(new Frames.OffHeap(new byte[13]).describe(event)));
        assertEquals(1, port.counters().drops(DropReason.RUNT));
        assertEquals(rxBefore + 2, namespaceRxPackets());
    }

    @Test
    void writesToAnInterfaceThatIsDownDropAsPortDown() throws Exception
    {
        // Never brought up, and in this namespace: the kernel refuses the write, so nothing reaches the host.
        port = TapPort.open(0, "uplink", ifname, 1500, TAP_MAC, false, BURST);
        final PacketEvent event = new Frames.OffHeap(Frames.experimental(NetDevices.parseMac(TAP_MAC), PEER_MAC, 60,
            false)).describe(new PacketEvent());
        assertFalse(port.transmit(event));
        assertEquals(1, port.counters().drops(DropReason.PORT_DOWN), port.counters().summary());
        assertEquals(0, port.counters().get(PortCounters.TX_PACKETS));
        assertEquals(0, port.txErrors());
        assertEquals(5, port.lastErrno(), "EIO");
    }

    /**
     * The pool holds {@code burst} buffers; a frame's buffer is its until complete(). With frames left in flight the
     * port reads no more than the free buffers, and what it published earlier stays intact.
     */
    @Test
    void neverReusesTheBufferOfAFrameStillInFlight() throws Exception
    {
        openInNamespace(1500, 4);
        final byte[] tapMac = NetDevices.parseMac(port.mac());
        final PacketEvent event = new PacketEvent();
        for (int id = 1; id <= 6; id++)
        {
            assertTrue(port.transmit(new Frames.OffHeap(Frames.icmpEcho(tapMac, PEER_MAC, PEER_IP, TAP_IP,
                Frames.ICMP_ECHO_REQUEST, id, 1, new byte[16])).describe(event)));
        }
        final TestRing ring = new TestRing();
        final List<PacketEvent> held = new ArrayList<>();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (held.size() < 4 && System.nanoTime() < deadline)
        {
            // receive without completing: the test keeps the frames "in the pipeline"
            final int n = port.receive(ring.publisher, BURST);
            for (int i = 0; i < n; i++)
            {
                held.add(ring.ring.get(held.size()));   // sequences 0, 1, ...: nothing consumed yet
            }
            if (n == 0)
            {
                Thread.sleep(1);
            }
        }
        assertEquals(4, held.size(), "four buffers, four frames");
        Thread.sleep(200);   // the other replies are queued in the tap by now
        assertEquals(0, port.receive(ring.publisher, BURST), "no free buffer: nothing read");
        for (int i = 0; i < 4; i++)
        {
            final byte[] f = Frames.bytesOf(held.get(i));
            assertTrue(isIcmp(f, Frames.ICMP_ECHO_REPLY));
            assertEquals(i + 1, Frames.get16(f, 38), "reply " + (i + 1) + " intact in its buffer");
        }
        for (final PacketEvent e : held)
        {
            port.complete(e);
        }
        ring.consumed.set(ring.ring.getCursor());
        final List<Integer> rest = new ArrayList<>();
        ring.round(port, BURST, e -> rest.add(Frames.get16(Frames.bytesOf(e), 38)));
        assertEquals(List.of(5, 6), rest);
    }

    @Test
    void transmitAndIdleReceiveAllocateNothing() throws Exception
    {
        openInNamespace(1500, BURST);
        final PacketEvent event = new Frames.OffHeap(Frames.experimental(NetDevices.parseMac(port.mac()), PEER_MAC,
            60, false)).describe(new PacketEvent(), 14);
        final TestRing ring = new TestRing();
        for (int i = 0; i < 20_000; i++)   // warm up: class init, JIT
        {
            port.transmit(event);
            port.receive(ring.publisher, BURST);
        }
        ring.round(port, BURST, null);
        final long sentBefore = port.counters().get(PortCounters.TX_PACKETS);

        final AllocationProbe probe = AllocationProbe.start();
        int sent = 0;
        for (int i = 0; i < 10_000; i++)
        {
            if (port.transmit(event))
            {
                sent++;
            }
        }
        final long allocated = probe.bytes();
        assertEquals(10_000, sent, port.counters().summary());
        assertEquals(sentBefore + 10_000, port.counters().get(PortCounters.TX_PACKETS));
        System.out.println("10,000 transmits allocated " + allocated + " bytes");
        assertTrue(allocated < 64 * 1024, "10,000 transmits allocated " + allocated + " bytes");

        // Nothing is sent to the tap (IPv6 is off, the frames above have no handler): every read is EAGAIN.
        final AllocationProbe idle = AllocationProbe.start();
        int received = 0;
        for (int i = 0; i < 10_000; i++)
        {
            received += port.receive(ring.publisher, BURST);
        }
        final long idleAllocated = idle.bytes();
        assertEquals(0, received);
        System.out.println("10,000 empty receives allocated " + idleAllocated + " bytes");
        assertTrue(idleAllocated < 64 * 1024, "10,000 empty receives allocated " + idleAllocated + " bytes");
    }

    // ------------------------------------------------------------------ offloads

    private static boolean isTcp(final byte[] f, final int flags)
    {
        return f.length >= 54 && Frames.get16(f, 12) == Frames.ETHERTYPE_IPV4 && (f[23] & 0xff) == Frames.IPPROTO_TCP
            && (f[47] & flags) == flags;
    }

    /** Reads frames from the port for up to {@code seconds}, until {@code wanted} resets from port 9 arrived. */
    private int awaitResets(final int wanted, final int seconds) throws InterruptedException
    {
        final TestRing ring = new TestRing();
        final int[] resets = {0};
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (resets[0] < wanted && System.nanoTime() < deadline)
        {
            if (ring.round(port, BURST, e -> {
                final byte[] f = Frames.bytesOf(e);
                if (isTcp(f, Frames.TCP_RST) && Frames.get16(f, 34) == 9 && Frames.get32(f, 30) == PEER_IP)
                {
                    resets[0]++;
                }
            }) == 0)
            {
                Thread.sleep(1);
            }
        }
        return resets[0];
    }

    /**
     * A SYN to a closed port whose checksum is left partial (NEEDS_CSUM): only if the checksum is completed right
     * does the namespace's kernel answer with a reset. The checksum field straddles two segments.
     */
    private void partialChecksumIsCompleted(final boolean offloads) throws Exception
    {
        openInNamespace(1500, BURST, offloads);
        final Frames.OffHeap syn = new Frames.OffHeap(Frames.tcp(NetDevices.parseMac(port.mac()), PEER_MAC, PEER_IP,
            TAP_IP, 40_000, 9, 0x01020304, Frames.TCP_SYN, new byte[0], true));
        final PacketEvent event = syn.describe(new PacketEvent(), 14, 34, Frames.TCP_CSUM_AT + 1);
        event.vnetFlags = VirtioNetHdr.F_NEEDS_CSUM;
        event.csumStart = 34;
        event.csumOffset = 16;
        final byte[] before = Frames.bytesOf(event);
        assertTrue(port.transmit(event), port.counters().summary());
        assertArrayEquals(before, Frames.bytesOf(event), "the source's memory is never written");
        assertEquals(offloads ? 0 : 1, port.counters().get(PortCounters.TX_CSUM_FILLED));
        assertEquals(1, awaitResets(1, 5), "the namespace answered the SYN: its checksum was completed right");
        assertEquals(0, port.counters().totalDrops(), port.counters().summary());
    }

    @Test
    void partialChecksumIsCompletedByTheKernelWithOffloads() throws Exception
    {
        partialChecksumIsCompleted(true);
    }

    @Test
    void partialChecksumIsCompletedInSoftwareWithoutOffloads() throws Exception
    {
        partialChecksumIsCompleted(false);
    }

    /** A TCP super-frame of 3 x 1000 payload bytes (ACK|PSH to the closed port 9, partial checksum). */
    private static PacketEvent superFrame(final Frames.OffHeap frame, final PacketEvent event)
    {
        frame.describe(event, 14, 54, 1000, 2500);
        event.vnetFlags = VirtioNetHdr.F_NEEDS_CSUM;
        event.gsoType = VirtioNetHdr.GSO_TCPV4;
        event.gsoSize = 1000;
        event.hdrLen = 54;
        event.csumStart = 34;
        event.csumOffset = 16;
        return event;
    }

    private Frames.OffHeap superFrameBytes()
    {
        final byte[] payload = new byte[3000];
        for (int i = 0; i < payload.length; i++)
        {
            payload[i] = (byte)(i * 7);
        }
        return new Frames.OffHeap(Frames.tcp(NetDevices.parseMac(port.mac()), PEER_MAC, PEER_IP, TAP_IP, 40_001, 9,
            0x10203040, Frames.TCP_ACK | Frames.TCP_PSH, payload, true));
    }

    @Test
    void superFrameGoesToTheKernelWholeWithOffloads() throws Exception
    {
        openInNamespace(1500, BURST, true);
        final long rxBefore = namespaceRxPackets();
        assertTrue(port.transmit(superFrame(superFrameBytes(), new PacketEvent())), port.counters().summary());
        final PortCounters c = port.counters();
        assertEquals(1, c.get(PortCounters.TX_GSO));
        assertEquals(1, c.get(PortCounters.TX_PACKETS));
        assertEquals(3054, c.get(PortCounters.TX_BYTES));
        assertEquals(rxBefore + 1, namespaceRxPackets(), "one write, one skb: the kernel took it unsegmented");
        assertEquals(1, awaitResets(1, 5), "the kernel took it as TCP");
        assertEquals(0, c.get(PortCounters.TX_SEGMENTED));
        assertEquals(0, c.totalDrops(), c.summary());
    }

    @Test
    void superFrameIsSegmentedInSoftwareWithoutOffloads() throws Exception
    {
        openInNamespace(1500, BURST, false);
        final long rxBefore = namespaceRxPackets();
        final Frames.OffHeap frame = superFrameBytes();
        final PacketEvent event = superFrame(frame, new PacketEvent());
        final byte[] before = Frames.bytesOf(event);
        assertTrue(port.transmit(event), port.counters().summary());
        assertArrayEquals(before, Frames.bytesOf(event), "the source's memory is never written");
        final PortCounters c = port.counters();
        assertEquals(3, c.get(PortCounters.TX_SEGMENTED));
        assertEquals(3, c.get(PortCounters.TX_PACKETS));
        assertEquals(3 * 1054, c.get(PortCounters.TX_BYTES));
        assertEquals(0, c.get(PortCounters.TX_GSO));
        assertEquals(rxBefore + 3, namespaceRxPackets(), "three segments written");
        assertEquals(3, awaitResets(3, 5), "each segment's checksums were right: the kernel answered each");
        assertEquals(0, c.totalDrops(), c.summary());

        // A super-frame whose gso_size breaks this MTU is cut smaller, not dropped.
        final PacketEvent big = superFrame(frame, new PacketEvent());
        big.gsoSize = 2000;
        final long rxBeforeBig = namespaceRxPackets();
        assertTrue(port.transmit(big), c.summary());
        // 3000 payload bytes at most 1500 - 40 = 1460 per segment: 1460 + 1460 + 80
        assertEquals(6, c.get(PortCounters.TX_SEGMENTED));
        assertEquals(3 * 1054 + 2 * 1514 + 134, c.get(PortCounters.TX_BYTES));
        assertEquals(rxBeforeBig + 3, namespaceRxPackets());
        assertEquals(3, awaitResets(3, 5));
        assertEquals(0, c.totalDrops(), c.summary());
    }

    /** Offload requests are checked before anything is written (the tap is down: a write would fail as EIO). */
    @Test
    void offloadHeadersAreCheckedBeforeWriting() throws Exception
    {
        port = TapPort.open(0, "uplink", ifname, 1500, TAP_MAC, false, BURST, true);
        final PortCounters c = port.counters();
        final Frames.OffHeap frame = superFrameBytes();

        PacketEvent e = superFrame(frame, new PacketEvent());
        e.gsoSize = 1500 - 40 + 1;   // 54 + 1461 > 1514: a segment the kernel cut would break the MTU
        assertFalse(port.transmit(e));
        assertEquals(1, c.drops(DropReason.TOO_BIG));

        e = superFrame(frame, new PacketEvent());
        e.gsoType = 3;   // UDP (UFO): not for this port
        assertFalse(port.transmit(e));
        e.gsoType = 5;   // UDP_L4
        assertFalse(port.transmit(e));
        e.gsoType = VirtioNetHdr.GSO_TCPV6 | VirtioNetHdr.GSO_ECN;
        e.gsoSize = 0;
        assertFalse(port.transmit(e));
        assertEquals(3, c.drops(DropReason.BAD_HEADER));

        e = superFrame(frame, new PacketEvent());
        e.vnetFlags = 0;   // GSO without NEEDS_CSUM (virtio requires both)
        assertFalse(port.transmit(e));
        e = superFrame(frame, new PacketEvent());
        e.csumOffset = 3054 - 34 - 1;   // the checksum field would end past the frame
        assertFalse(port.transmit(e));
        e = superFrame(frame, new PacketEvent());
        e.csumStart = 3054 - 19;   // a TCP header cannot fit there
        e.csumOffset = 0;
        assertFalse(port.transmit(e));
        assertEquals(6, c.drops(DropReason.BAD_HEADER));

        // Not GSO: the partial checksum must lie inside the frame, and the MTU applies to the whole frame.
        final Frames.OffHeap syn = new Frames.OffHeap(Frames.tcp(NetDevices.parseMac(TAP_MAC), PEER_MAC, PEER_IP,
            TAP_IP, 40_000, 9, 1, Frames.TCP_SYN, new byte[0], true));
        e = syn.describe(new PacketEvent());
        e.vnetFlags = VirtioNetHdr.F_NEEDS_CSUM;
        e.csumStart = 34;
        e.csumOffset = 19;   // 34 + 19 + 2 = 55 > 54
        assertFalse(port.transmit(e));
        assertEquals(7, c.drops(DropReason.BAD_HEADER));
        e = superFrame(frame, new PacketEvent());
        e.gsoType = 0;
        assertFalse(port.transmit(e));
        assertEquals(2, c.drops(DropReason.TOO_BIG));

        // Well-formed: reaches the write, which fails because the interface is down.
        assertFalse(port.transmit(superFrame(frame, new PacketEvent())));
        assertEquals(1, c.drops(DropReason.PORT_DOWN));
        assertEquals(0, c.get(PortCounters.TX_PACKETS));
        assertEquals(0, c.get(PortCounters.TX_GSO));
    }

    @Test
    void receivedHeaderValidation()
    {
        final int needs = VirtioNetHdr.F_NEEDS_CSUM;
        final int v4 = VirtioNetHdr.GSO_TCPV4;
        final int v6 = VirtioNetHdr.GSO_TCPV6;
        final int ecn = VirtioNetHdr.GSO_ECN;
        final int ok = DropReason.NONE;
        final int bad = DropReason.BAD_HEADER;

        // Offloads off: anything asking for work is malformed; DATA_VALID and garbage in unused fields pass.
        assertEquals(ok, TapPort.checkReceivedHeader(false, 0, 0, 0, 0, 0, 0, 60));
        assertEquals(ok, TapPort.checkReceivedHeader(false, VirtioNetHdr.F_DATA_VALID, 0, 9999, 0, 0, 0, 60));
        assertEquals(bad, TapPort.checkReceivedHeader(false, needs, 0, 0, 0, 34, 16, 60));
        assertEquals(bad, TapPort.checkReceivedHeader(false, needs, v4, 54, 1448, 34, 16, 3000));

        // Offloads on: a partial checksum inside the frame, and TCP super-frames.
        assertEquals(ok, TapPort.checkReceivedHeader(true, 0, 0, 0, 0, 0, 0, 60));
        assertEquals(ok, TapPort.checkReceivedHeader(true, needs, 0, 0, 0, 34, 16, 54));
        assertEquals(ok, TapPort.checkReceivedHeader(true, needs, 0, 0, 0, 34, 16, 52),
            "34 + 16 + 2 = 52: the field's last byte is the frame's last");
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, 0, 0, 0, 34, 16, 51));
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, 0, 0, 0, 0xffff, 0xffff, 60000),
            "a bogus csum_start past the end");
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, 0, 0, 0, 60, 0, 60));
        assertEquals(ok, TapPort.checkReceivedHeader(true, needs, v4, 66, 1448, 34, 16, 65_000));
        assertEquals(ok, TapPort.checkReceivedHeader(true, needs, v6, 86, 1428, 54, 16, 65_000));
        assertEquals(ok, TapPort.checkReceivedHeader(true, needs, v4 | ecn, 66, 1448, 34, 16, 65_000));
        assertEquals(ok, TapPort.checkReceivedHeader(true, needs, v6 | ecn, 86, 1428, 54, 16, 65_000));
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, v4, 66, 0, 34, 16, 65_000), "gso_size 0");
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, v4, 66, 87, 34, 16, 65_000),
            "gso_size below 88, as on a vhost-user port");
        assertEquals(ok, TapPort.checkReceivedHeader(true, needs, v4, 66, 88, 34, 16, 65_000));
        assertEquals(bad, TapPort.checkReceivedHeader(true, 0, v4, 66, 1448, 34, 16, 65_000), "GSO, no checksum");
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, v4, 65_001, 1448, 34, 16, 65_000),
            "hdr_len past the end");
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, 0, 61, 0, 34, 16, 60), "hdr_len past the end");
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, v4, 66, 1448, 64_990, 16, 65_000),
            "GSO with the checksum past the end");
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, 3, 42, 1472, 34, 6, 65_000), "UDP (UFO)");
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, 5, 42, 1472, 34, 6, 65_000), "UDP_L4");
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, ecn, 0, 0, 34, 16, 60), "ECN alone");
        assertEquals(bad, TapPort.checkReceivedHeader(true, needs, 0x41, 66, 1448, 34, 16, 65_000), "unknown bits");
    }

    /** Super-frames and partial checksums, passed on or finished in software: no allocation per frame either way. */
    private void offloadTransmitsAllocateNothing(final boolean offloads) throws Exception
    {
        openInNamespace(1500, BURST, offloads);
        final PacketEvent gso = superFrame(superFrameBytes(), new PacketEvent());
        final PacketEvent csum = new Frames.OffHeap(Frames.tcp(NetDevices.parseMac(port.mac()), PEER_MAC, PEER_IP,
            TAP_IP, 40_000, 9, 7, Frames.TCP_SYN, new byte[0], true))
            .describe(new PacketEvent(), 14, 34, Frames.TCP_CSUM_AT + 1);
        csum.vnetFlags = VirtioNetHdr.F_NEEDS_CSUM;
        csum.csumStart = 34;
        csum.csumOffset = 16;
        for (int i = 0; i < 20_000; i++)   // warm up: class init, JIT
        {
            port.transmit(gso);
            port.transmit(csum);
        }
        final AllocationProbe probe = AllocationProbe.start();
        int sent = 0;
        for (int i = 0; i < 5_000; i++)
        {
            sent += port.transmit(gso) ? 1 : 0;
            sent += port.transmit(csum) ? 1 : 0;
        }
        final long allocated = probe.bytes();
        assertEquals(10_000, sent, port.counters().summary());
        System.out.println("10,000 offload transmits (offloads " + (offloads ? "on" : "off") + ") allocated " +
            allocated + " bytes; " + port.counters().summary());
        assertTrue(allocated < 64 * 1024, "10,000 offload transmits allocated " + allocated + " bytes");
        assertEquals(offloads ? 25_000 : 0, port.counters().get(PortCounters.TX_GSO));
        assertEquals(offloads ? 0 : 75_000, port.counters().get(PortCounters.TX_SEGMENTED));
        assertEquals(offloads ? 0 : 25_000, port.counters().get(PortCounters.TX_CSUM_FILLED));
    }

    @Test
    void passingOffloadsOnAllocatesNothing() throws Exception
    {
        offloadTransmitsAllocateNothing(true);
    }

    @Test
    void finishingOffloadsInSoftwareAllocatesNothing() throws Exception
    {
        offloadTransmitsAllocateNothing(false);
    }
}
