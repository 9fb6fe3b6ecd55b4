package dev.vswitch.core.it;

import dev.vswitch.core.VSwitch;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.testkit.config.SwitchYaml;
import dev.vswitch.testkit.frames.FrameBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A TAP uplink as an 802.1Q trunk, checked in the namespace the TAP was moved into. Front ends (the vhost-user
 * test driver, over the real socket) sit on an access port of VLAN 10 ("acc10"), one of VLAN 20 ("acc20") and a
 * vhost-user trunk ("trk", [10, 20]); the TAP ("uplink") is a trunk [10, 20].
 * <ul>
 *   <li>acc10 sends untagged frames: tcpdump on the TAP sees every one with an 802.1Q tag of VLAN 10 and none
 *   untagged; the vhost-user trunk receives them tagged 10; acc20 receives none.</li>
 *   <li>trk sends frames tagged 20 (and some tagged 30 or untagged, which it does not carry): acc20 receives the
 *   VLAN 20 ones untagged, the TAP sees them tagged 20, nothing of VLAN 30 appears anywhere.</li>
 *   <li>a raw packet socket in the namespace writes frames tagged 10 (and 30) on the TAP: acc10 receives the VLAN
 *   10 ones untagged, trk tagged, and the VLAN 30 ones are dropped at the TAP.</li>
 * </ul>
 * The host kernel here has no 8021q module, so the check in the namespace is a capture. Where
 * {@code ip link add ... type vlan} works the test also counts the frames on a VLAN 10 sub-interface of the TAP.
 */
class VlanTrunkToTapTest
{
    private static final String TAP_MAC = "02:00:00:00:99:01";
    private static final long MAC_A = 0x0200_0000_990AL;   // behind acc10
    private static final long MAC_C = 0x0200_0000_990CL;   // behind trk, in VLAN 20
    private static final long MAC_D = 0x0200_0000_990DL;   // in the namespace, VLAN 10 over the tap
    private static final int ETHERTYPE_TEST = 0x88b5;    // IEEE local experimental: no stack answers it
    private static final int FRAMES = 20;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void trunkTapCarriesTagsAndAccessPortsSeeThemUntagged() throws Exception
    {
        final String ifname = "vswv" + ThreadLocalRandom.current().nextInt(100_000, 1_000_000);
        final String yaml = SwitchYaml.create()
            .vhostUser("acc10", dir.resolve("acc10.sock"), "vlan", 10)
            .vhostUser("acc20", dir.resolve("acc20.sock"), "vlan", 20)
            .vhostUser("trk", dir.resolve("trk.sock"), "trunk", List.of(10, 20))
            .tap("uplink", ifname, "mac", TAP_MAC, "trunk", List.of(10, 20))
            .pmdCpu(1)
            .stats(0)
            .toString();
        final Path capture = dir.resolve("tcpdump.txt");
        try (Netns ns = Netns.create(); VSwitch sw = SwitchHarness.start(yaml))
        {
            ns.adopt(ifname);
            ns.exec(10, "ip", "link", "set", ifname, "up").check("link up");
            final String sub = ifname.substring(0, Math.min(ifname.length(), 12)) + ".10";
            final Netns.Result probe = ns.exec(10, "ip", "link", "add", "link", ifname, "name", sub, "type", "vlan",
                "id", "10");
            final boolean subInterface = probe.exitCode() == 0;
            if (subInterface)
            {
                ns.exec(10, "ip", "link", "set", sub, "up").check("vlan sub-interface up");
            }
            System.out.println("VLAN sub-interface in the namespace: " + (subInterface ? "created " + sub +
                " (8021q available): capture + sub-interface counters" : "not available (" + probe.output().trim() +
                "): capture only"));

            final Process tcpdump = new ProcessBuilder("ip", "netns", "exec", ns.name(), "tcpdump", "-i", ifname,
                "-e", "-nn", "-l", "-U").redirectErrorStream(true).redirectOutput(capture.toFile()).start();
            try (VhostPeer acc10 = new VhostPeer(dir.resolve("acc10.sock"));
                 VhostPeer acc20 = new VhostPeer(dir.resolve("acc20.sock"));
                 VhostPeer trk = new VhostPeer(dir.resolve("trk.sock")))
            {
                awaitFile(capture, "listening on", tcpdump);
                SwitchHarness.await("ports up", Duration.ofSeconds(20),
                    () -> sw.port("acc10").isUp() && sw.port("acc20").isUp() && sw.port("trk").isUp());
                final long subBefore = subInterface ? rxPackets(ns, sub) : 0;

                final List<byte[]> fromA = new ArrayList<>();
                for (int i = 0; i < FRAMES; i++)
                {
                    fromA.add(frame(MAC_A, 0, i));
                    acc10.send(fromA.get(i));
                }
                acc10.send(frame(MAC_A, 10, 999));   // a tag on an access port: dropped at ingress
                final List<byte[]> fromC = new ArrayList<>();
                for (int i = 0; i < FRAMES; i++)
                {
                    fromC.add(frame(MAC_C, 20, 100 + i));
                    trk.send(fromC.get(i));
                    trk.send(frame(MAC_C, 30, 500 + i));   // not carried by the trunk
                    if (i < 5)
                    {
                        trk.send(frame(MAC_C, 0, 700 + i));   // untagged on a trunk: no native VLAN
                    }
                }

                final List<byte[]> atTrunk = trk.receive(FRAMES, Duration.ofSeconds(10));
                final List<byte[]> atAcc20 = acc20.receive(FRAMES, Duration.ofSeconds(10));
                for (int i = 0; i < FRAMES; i++)
                {
                    assertArrayEquals(frame(MAC_A, 10, i), atTrunk.get(i), "acc10 frame " + i + " tagged 10 on trk");
                    assertArrayEquals(frame(MAC_C, 0, 100 + i), atAcc20.get(i), "trk frame " + i + " untagged");
                }
                Testpmd.sleep(500);   // anything that should not arrive has had time to
                assertEquals(0, acc10.pending(), "nothing of VLAN 20 on acc10");
                assertEquals(0, acc20.pending(), "nothing beyond VLAN 20's frames on acc20");
                assertEquals(0, trk.pending(), "nothing beyond VLAN 10's frames on trk");

                // Into the trunk from the namespace: tagged frames written on the TAP by a raw packet socket there.
                final List<byte[]> fromD = new ArrayList<>();
                final List<byte[]> injected = new ArrayList<>();
                for (int i = 0; i < FRAMES / 2; i++)
                {
                    fromD.add(frame(MAC_D, 10, 300 + i));
                    injected.add(fromD.get(i));
                    injected.add(frame(MAC_D, 30, 800 + i));   // not carried by the tap trunk
                }
                final int ifindex = Integer.parseInt(ns.exec(10, "cat", "/sys/class/net/" + ifname + "/ifindex")
                    .check("ifindex").output().trim());
                NamespacePacketSocket.send(ns.name(), ifindex, injected);
                final List<byte[]> atAcc10 = acc10.receive(FRAMES / 2, Duration.ofSeconds(10));
                final List<byte[]> atTrunk10 = trk.receive(FRAMES / 2, Duration.ofSeconds(10));
                for (int i = 0; i < FRAMES / 2; i++)
                {
                    assertArrayEquals(frame(MAC_D, 0, 300 + i), atAcc10.get(i), "namespace frame " + i + " untagged");
                    assertArrayEquals(fromD.get(i), atTrunk10.get(i), "namespace frame " + i + " still tagged 10");
                }
                Testpmd.sleep(300);
                assertEquals(0, acc10.pending() + acc20.pending() + trk.pending(), "no VLAN 30 frame delivered");

                // Full-size frames (1500-byte MTU): the tag's 4 bytes are allowed on top, both ways.
                acc10.send(frame(MAC_A, 0, 42, 1514));
                assertArrayEquals(frame(MAC_A, 10, 42, 1518), trk.receive(1, Duration.ofSeconds(10)).get(0));
                trk.send(frame(MAC_C, 20, 43, 1518));
                assertArrayEquals(frame(MAC_C, 0, 43, 1514), acc20.receive(1, Duration.ofSeconds(10)).get(0));

                final PortCounters up = sw.counters("uplink");
                assertTrue(up.drops(DropReason.VLAN) >= FRAMES / 2, "VLAN 30 dropped at the tap: " + up.summary());
                SwitchHarness.await("frames written to the tap", Duration.ofSeconds(5),
                    () -> up.get(PortCounters.TX_PACKETS) >= 2 * FRAMES + 2, up::summary);
                Testpmd.sleep(500);
                final String summary = "acc10 " + sw.counters("acc10").summary() + "; acc20 " +
                    sw.counters("acc20").summary() + "; trk " + sw.counters("trk").summary() + "; uplink " + up.summary();
                System.out.println("VLAN trunk: " + summary);
                assertEquals(1, sw.counters("acc10").drops(DropReason.VLAN), summary);
                assertEquals(FRAMES + 5, sw.counters("trk").drops(DropReason.VLAN), summary);
                if (subInterface)
                {
                    final long arrived = rxPackets(ns, sub) - subBefore;
                    System.out.println("VLAN 10 sub-interface " + sub + " counted " + arrived + " frames");
                    assertTrue(arrived >= FRAMES, "the kernel's VLAN 10 interface got acc10's frames: " + arrived);
                }
            }
            finally
            {
                tcpdump.destroy();   // SIGTERM: tcpdump flushes and prints its summary
                tcpdump.waitFor(10, TimeUnit.SECONDS);
                tcpdump.destroyForcibly();
            }

            final List<String> lines = Files.readAllLines(capture, StandardCharsets.UTF_8);
            final String a = mac(MAC_A) + " > ";
            final String c = mac(MAC_C) + " > ";
            final long aTagged10 = lines.stream().filter(l -> l.contains(a) && l.contains("802.1Q") &&
                l.contains("vlan 10,")).count();
            final long aOther = lines.stream().filter(l -> l.contains(a) && !l.contains("vlan 10,")).count();
            final long cTagged20 = lines.stream().filter(l -> l.contains(c) && l.contains("802.1Q") &&
                l.contains("vlan 20,")).count();
            final long cOther = lines.stream().filter(l -> l.contains(c) && !l.contains("vlan 20,")).count();
            final String report = String.format("tcpdump on the trunk tap: %d frames of acc10 tagged vlan 10, %d " +
                "otherwise; %d frames of trk's VLAN 20 tagged vlan 20, %d otherwise", aTagged10, aOther, cTagged20, cOther);
            System.out.println(report + "\nsample: " + lines.stream().filter(l -> l.contains(a)).findFirst().orElse("-"));
            assertEquals(FRAMES + 1, aTagged10, report + "\n" + String.join("\n", lines));
            assertEquals(1, lines.stream().filter(l -> l.contains(a) && l.contains("length 1518: vlan 10,")).count(),
                "the full-size frame crossed the tap tagged: " + report);
            assertEquals(0, aOther, report);
            assertEquals(FRAMES + 1, cTagged20, report);
            assertEquals(0, cOther, "no VLAN 30 or untagged frame of the trunk leaked: " + report);
        }
    }

    /** Broadcast, test ethertype, {@code tag} 0 = untagged; 60 bytes (+4 tagged), the payload carries {@code seq}. */
    private static byte[] frame(final long src, final int tag, final int seq)
    {
        return frame(src, tag, seq, tag == 0 ? 60 : 64);
    }

    private static byte[] frame(final long src, final int tag, final int seq, final int length)
    {
        final FrameBuilder b = FrameBuilder.ethernet(FrameBuilder.BROADCAST, src);
        if (tag != 0)
        {
            b.tag(0x8100, tag);
        }
        return b.etherType(ETHERTYPE_TEST).u32(seq).fillTo(length, 0x5a).bytes();
    }

    private static String mac(final long mac)
    {
        final StringBuilder sb = new StringBuilder();
        for (int shift = 40; shift >= 0; shift -= 8)
        {
            sb.append(sb.length() == 0 ? "" : ":").append(String.format("%02x", (mac >>> shift) & 0xff));
        }
        return sb.toString();
    }

    private static long rxPackets(final Netns ns, final String ifname) throws IOException
    {
        return Long.parseLong(ns.exec(10, "cat", "/sys/class/net/" + ifname + "/statistics/rx_packets")
            .check("rx_packets").output().trim());
    }

    private static void awaitFile(final Path file, final String text, final Process process) throws IOException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline)
        {
            if (Files.exists(file) && Files.readString(file).contains(text))
            {
                return;
            }
            if (!process.isAlive())
            {
                break;
            }
            Testpmd.sleep(50);
        }
        throw new AssertionError("tcpdump did not start: " + (Files.exists(file) ? Files.readString(file) : ""));
    }
}
