package dev.vswitch.core.it;

import dev.vswitch.core.VSwitch;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.mirror.Mirror;
import dev.vswitch.pipeline.mirror.MirrorCounters;
import dev.vswitch.testkit.Await;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A mirror of vm1 into a TAP, moved into a namespace where the real tcpdump listens on it: testpmd's two
 * virtio-user ports each send 16 x 32 frames (start tx_first 16, then rxonly) through the switch, and tcpdump on
 * the mirror tap, as well as the kernel's rx_packets counter of the tap, see exactly the frames vm1 sent and
 * received.
 */
class MirrorToTapTest
{
    private static final String MAC1 = "02:00:00:00:00:11";
    private static final String MAC2 = "02:00:00:00:00:12";

    @TempDir
    Path dir;

    @Test
    void tcpdumpOnTheMirrorTapSeesVm1sTraffic() throws Exception
    {
        final String tap = "vswm" + ThreadLocalRandom.current().nextInt(100_000, 1_000_000);
        final String yaml = SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .mirror("from", "vm1", "to-tap", tap)
            .pmdCpu(1)
            .stats(0)
            .toString();
        try (Netns ns = Netns.create(); VSwitch sw = SwitchHarness.start(yaml))
        {
            final Mirror mirror = sw.mirrors().get(0);
            final MirrorCounters mc = mirror.counters();
            ns.adopt(tap);
            ns.exec(10, "ip", "link", "set", tap, "up").check("mirror tap up");
            final long before = rxPackets(ns, tap);

            // tcpdump in the namespace, inbound only (the kernel's own IPv6 chatter goes out of the tap). A large
            // capture buffer: on this busy 2-CPU machine tcpdump, not the tap, is what falls behind a burst.
            final Path out = dir.resolve("tcpdump.txt");
            final Process tcpdump = new ProcessBuilder("ip", "netns", "exec", ns.name(), "tcpdump", "-i", tap, "-Q",
                "in", "-B", "65536", "-nn", "-e", "-l").redirectErrorStream(true).redirectOutput(out.toFile()).start();
            try
            {
                SwitchHarness.await("tcpdump listening", Duration.ofSeconds(20), () -> contains(out, "listening on"));
                final long rx;
                final long tx;
                try (Testpmd pmd = Testpmd.start(List.of(
                    new Testpmd.Port(dir.resolve("vm1.sock"), MAC1, false),
                    new Testpmd.Port(dir.resolve("vm2.sock"), MAC2, false)), "rxonly", ""))
                {
                    pmd.awaitPrompt(Duration.ofSeconds(30));
                    SwitchHarness.await("both ports up", Duration.ofSeconds(20), () ->
                        sw.port("vm1").isUp() && sw.port("vm2").isUp());
                    pmd.command("start tx_first 16");
                    final PortCounters vm1 = sw.counters("vm1");
                    Await.steady("the traffic", Duration.ofSeconds(20), Duration.ofMillis(500),
                        () -> vm1.get(PortCounters.RX_PACKETS) + vm1.get(PortCounters.TX_PACKETS));
                    rx = vm1.get(PortCounters.RX_PACKETS);
                    tx = vm1.get(PortCounters.TX_PACKETS);
                    // 2 x 512 frames meet testpmd's 256-slot RX ring: when its lcore starts polling late some are ring-full

                    // drops (neither delivered nor mirrored; the counts below hold either way). Nothing else may be dropped.

                    assertEquals(vm1.drops(DropReason.RING_FULL), vm1.totalDrops(), vm1.summary());
                }
                SwitchHarness.await("the writer to catch up", Duration.ofSeconds(5), () ->
                    mc.get(MirrorCounters.WRITTEN) + mc.get(MirrorCounters.WRITE_ERRORS) ==
                        mc.get(MirrorCounters.MIRRORED), mc::summary);
                final long arrived = rxPackets(ns, tap) - before;
                SwitchHarness.await("tcpdump to print every frame", Duration.ofSeconds(10), () ->
                    lines(out, MAC1 + " > " + MAC2) + lines(out, MAC2 + " > " + MAC1) >= rx + tx, () -> "rx " + rx + " tx " + tx + " in " + lines(out, MAC1 + " > " + MAC2) + " out " +
                        lines(out, MAC2 + " > " + MAC1) + " kernel rx_packets +" + (rxPackets(ns, tap) - before) +
                        " rx_dropped " + stat(ns, tap, "rx_dropped") + "; " + mc.summary() + "\n" + head(out));
                final long seenIn = lines(out, MAC1 + " > " + MAC2);
                final long seenOut = lines(out, MAC2 + " > " + MAC1);
                System.out.printf("switch vm1 rx=%d tx=%d; %s; kernel rx_packets of %s in the namespace +%d; " +
                    "tcpdump saw %d from vm1, %d to vm1%n", rx, tx, mirror.summary(), tap, arrived, seenIn, seenOut);

                assertTrue(rx > 0 && tx > 0);
                assertEquals(0, mc.get(MirrorCounters.DROPPED), mc.summary());
                assertEquals(0, mc.get(MirrorCounters.WRITE_ERRORS), mc.summary());
                assertEquals(rx + tx, mc.get(MirrorCounters.WRITTEN), mc.summary());
                assertEquals(rx + tx, arrived, "the kernel counted every mirrored frame arriving on the tap");
                assertEquals(rx, seenIn, "tcpdump saw every frame vm1 sent");
                assertEquals(tx, seenOut, "tcpdump saw every frame delivered to vm1");
            }
            finally
            {
                tcpdump.destroy();
                if (!tcpdump.waitFor(5, TimeUnit.SECONDS))
                {
                    tcpdump.destroyForcibly();
                }
                final String all = Files.readString(out);
                System.out.println("tcpdump ended: " + all.substring(Math.max(0, all.length() - 300)));
            }
        }
    }

    private static boolean contains(final Path file, final String text)
    {
        try
        {
            return Files.exists(file) && Files.readString(file).contains(text);
        }
        catch (final java.io.IOException ex)
        {
            return false;
        }
    }

    private static String head(final Path file)
    {
        try
        {
            final String s = Files.readString(file);
            return s.substring(0, Math.min(2000, s.length()));
        }
        catch (final java.io.IOException ex)
        {
            return ex.toString();
        }
    }

    private static long lines(final Path file, final String text)
    {
        try
        {
            return Files.readAllLines(file).stream().filter(l -> l.contains(text)).count();
        }
        catch (final java.io.IOException ex)
        {
            return 0;
        }
    }

    private static long rxPackets(final Netns ns, final String ifname)
    {
        return stat(ns, ifname, "rx_packets");
    }

    private static long stat(final Netns ns, final String ifname, final String counter)
    {
        try
        {
            return Long.parseLong(ns.exec(10, "cat", "/sys/class/net/" + ifname + "/statistics/" + counter)
                .check(counter).output().trim());
        }
        catch (final java.io.IOException ex)
        {
            throw new AssertionError(ex);
        }
    }
}
