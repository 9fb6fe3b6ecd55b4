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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A mirror of vm1 to a pcap file, read back by the real tcpdump: testpmd's two virtio-user ports each send
 * 16 x 32 frames (start tx_first 16, then rxonly: nothing circulates, so the traffic is a fixed amount) through the
 * switch, and the file holds exactly the frames vm1 sent and received, with testpmd's MACs, readable both while the
 * switch runs and after it stopped.
 */
class MirrorToPcapTest
{
    private static final String MAC1 = "02:00:00:00:00:01";
    private static final String MAC2 = "02:00:00:00:00:02";
    private static final int BURSTS = 16;

    @TempDir
    Path dir;

    @Test
    void tcpdumpReadsEveryFrameVm1SentAndReceived() throws Exception
    {
        final Path pcap = dir.resolve("vm1.pcap");
        final String yaml = SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .section("mirror", "from", "vm1", "to-pcap", pcap)
            .pmdCpu(1)
            .stats(0)
            .toString();
        final VSwitch sw = SwitchHarness.start(yaml);
        final Mirror mirror = sw.mirrors().get(0);
        final MirrorCounters mc = mirror.counters();
        final Testpmd.PortStats port0;
        final long rx;
        final long tx;
        try
        {
            try (Testpmd pmd = Testpmd.start(List.of(
                new Testpmd.Port(dir.resolve("vm1.sock"), MAC1, false),
                new Testpmd.Port(dir.resolve("vm2.sock"), MAC2, false)), "rxonly", ""))
            {
                pmd.awaitPrompt(Duration.ofSeconds(30));
                SwitchHarness.await("both ports up", Duration.ofSeconds(20), () ->
                    sw.port("vm1").isUp() && sw.port("vm2").isUp());
                pmd.command("start tx_first " + BURSTS);
                final PortCounters vm1 = sw.counters("vm1");
                Await.steady("the traffic", Duration.ofSeconds(20), Duration.ofMillis(500),
                    () -> vm1.get(PortCounters.RX_PACKETS) + vm1.get(PortCounters.TX_PACKETS));
                port0 = pmd.stats(Duration.ofSeconds(10)).get(0);
                rx = vm1.get(PortCounters.RX_PACKETS);
                tx = vm1.get(PortCounters.TX_PACKETS);
                System.out.printf("testpmd port0 tx=%d rx=%d; switch vm1 %s; %s%n", port0.txPackets(),
                    port0.rxPackets(), vm1.summary(), mirror.summary());
                // 2 x 512 frames meet testpmd's 256-slot RX ring: when its lcore starts polling late some are ring-full

                // drops (neither delivered nor mirrored; the counts below hold either way). Nothing else may be dropped.

                assertEquals(vm1.drops(DropReason.RING_FULL), vm1.totalDrops(), vm1.summary());
                assertEquals(port0.txPackets(), rx, "vm1: the switch took every frame testpmd sent");
                assertEquals(port0.rxPackets(), tx, "vm1: testpmd received every frame the switch delivered");
                assertTrue(rx > 0 && tx > 0 && rx <= BURSTS * 32 && tx <= BURSTS * 32, "rx " + rx + " tx " + tx);
            }

            // While the switch runs: the writer has flushed everything the PMD copied.
            SwitchHarness.await("the writer to catch up", Duration.ofSeconds(5), () ->
                mc.get(MirrorCounters.WRITTEN) == mc.get(MirrorCounters.MIRRORED), mc::summary);
            assertEquals(0, mc.get(MirrorCounters.DROPPED), mc.summary());
            assertEquals(rx + tx, mc.get(MirrorCounters.MIRRORED), mc.summary());
            final Tcpdump live = Tcpdump.read(pcap);
            assertEquals(rx + tx, live.frames(), live.output());
            sw.printStats();   // prints the mirror's line too
        }
        finally
        {
            sw.close();
        }

        // After the switch stopped: the same file, closed cleanly.
        final Tcpdump done = Tcpdump.read(pcap);
        System.out.println("tcpdump -r: " + done.frames() + " frames, e.g. " + done.lines().get(0));
        assertEquals(rx + tx, done.frames(), done.output());
        assertEquals(rx, done.count(MAC1 + " > " + MAC2), "frames vm1 sent (to its peer)");
        assertEquals(tx, done.count(MAC2 + " > " + MAC1), "frames delivered to vm1");
        assertEquals(0, mc.get(MirrorCounters.WRITE_ERRORS));
        assertEquals(24 + (rx + tx) * (16 + 64), Files.size(pcap), "64-byte frames, whole, one record each");
    }

    /**
     * Under load (mac forwarding: frames circle through the switch at full speed for a second) the copies may
     * outrun the writer: what does not fit the ring is counted as mirror-dropped, never taken from the traffic,
     * and the file holds exactly the copies counted as mirrored.
     */
    @Test
    void underLoadEveryFrameIsMirroredOrCountedAsDropped() throws Exception
    {
        final Path pcap = dir.resolve("load.pcap");
        final String yaml = SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .mirror("from", "vm1", "to-pcap", pcap, "snaplen", 64)
            .pmdCpu(1)
            .stats(0)
            .toString();
        final VSwitch sw = SwitchHarness.start(yaml);
        final MirrorCounters mc = sw.mirrors().get(0).counters();
        final PortCounters vm1 = sw.counters("vm1");
        final long rx;
        final long tx;
        try
        {
            try (Testpmd pmd = Testpmd.macForwarding(List.of(
                new Testpmd.Port(dir.resolve("vm1.sock"), MAC1, false),
                new Testpmd.Port(dir.resolve("vm2.sock"), MAC2, false)), ""))
            {
                pmd.awaitPrompt(Duration.ofSeconds(30));
                SwitchHarness.await("both ports up", Duration.ofSeconds(20), () ->
                    sw.port("vm1").isUp() && sw.port("vm2").isUp());
                pmd.command("start tx_first 4");
                Testpmd.sleep(1000);
                pmd.command("stop");
                Await.steady("the traffic", Duration.ofSeconds(20), Duration.ofMillis(500),
                    () -> vm1.get(PortCounters.RX_PACKETS) + vm1.get(PortCounters.TX_PACKETS));
            }
            rx = vm1.get(PortCounters.RX_PACKETS);
            tx = vm1.get(PortCounters.TX_PACKETS);
            System.out.printf("under load: vm1 %s; %s%n", vm1.summary(), mc.summary());
            assertTrue(rx > 10_000 && tx > 10_000, vm1.summary());
            assertEquals(0, vm1.drops(dev.vswitch.pipeline.DropReason.BAD_CHAIN) +
                vm1.drops(dev.vswitch.pipeline.DropReason.BAD_HEADER) + vm1.drops(dev.vswitch.pipeline.DropReason.RUNT));
            assertEquals(rx + tx, mc.get(MirrorCounters.MIRRORED) + mc.get(MirrorCounters.DROPPED), mc.summary());
        }
        finally
        {
            sw.close();
        }
        final Tcpdump read = Tcpdump.read(pcap);
        assertEquals(mc.get(MirrorCounters.MIRRORED), read.frames());
        assertEquals(mc.get(MirrorCounters.MIRRORED), mc.get(MirrorCounters.WRITTEN));
        assertEquals(0, mc.get(MirrorCounters.WRITE_ERRORS));
        assertEquals(read.frames(), read.count(MAC1 + " > " + MAC2) + read.count(MAC2 + " > " + MAC1));
    }

    /** {@code tcpdump -r FILE -nn -e}: its output lines, checked for read errors. */
    record Tcpdump(String output, List<String> lines)
    {
        static Tcpdump read(final Path file) throws Exception
        {
            // Output to a file: hundreds of lines would fill a pipe nobody reads until the process exits.
            final Path out = Files.createTempFile(file.getParent(), "tcpdump", ".txt");
            final Process p = new ProcessBuilder("tcpdump", "-r", file.toString(), "-nn", "-e")
                .redirectErrorStream(true).redirectOutput(out.toFile()).start();
            assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "tcpdump -r did not finish");
            final String output = Files.readString(out);
            assertEquals(0, p.exitValue(), output);
            // tcpdump says "truncated dump file" or "pcap_loop: ..." when it cannot read a record to its end.
            assertFalse(output.contains("truncated") || output.contains("pcap_loop"), output);
            final List<String> frames = output.lines().filter(l -> l.contains(" > ")).toList();
            return new Tcpdump(output.length() > 4000 ? output.substring(0, 4000) : output, frames);
        }

        long frames()
        {
            return lines.size();
        }

        long count(final String text)
        {
            return lines.stream().filter(l -> l.contains(text)).count();
        }
    }
}
