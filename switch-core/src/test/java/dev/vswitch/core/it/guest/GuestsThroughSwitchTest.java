package dev.vswitch.core.it.guest;

import dev.vswitch.core.VSwitch;
import dev.vswitch.core.it.SwitchHarness;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two unmodified Linux guests (Debian 6.1 kernel, virtio-net driver, QEMU TCG) talk through the switch: ping, then
 * a TCP bulk transfer with iperf3. Both socket roles are used: vm1 is served by the switch (QEMU connects), vm2 is
 * reached by the switch in client mode (QEMU listens).
 */
class GuestsThroughSwitchTest
{
    private static final Duration BOOT = Duration.ofSeconds(90);

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void twoGuestsPingAndRunIperfThroughTheSwitch(@TempDir final Path dir) throws Exception
    {
        GuestImage.ensureBuilt();
        final Path logs = Path.of("target", "guest-logs").toAbsolutePath();
        Files.createDirectories(logs);
        final Path vm1 = dir.resolve("vm1.sock");
        final Path vm2 = dir.resolve("qemu-vm2.sock");
        final String yaml = SwitchYaml.create()
            .vhostUser("vm1", vm1)
            .vhostUser("vm2", vm2, "mode", "client", "reconnect-ms", 200)
            .pmdCpu(1)
            .stats(10)
            .toString();

        try (VSwitch sw = SwitchHarness.start(yaml);
             QemuGuest server = QemuGuest.builder().name("server").socket(vm1).mac("52:54:00:00:10:01")
                 .ip("10.0.0.1/24").role(QemuGuest.Role.SERVER).peer("10.0.0.2")
                 .log(logs.resolve("switch-server.log")).build();
             QemuGuest client = QemuGuest.builder().name("client").socket(vm2).qemuIsServer(true)
                 .mac("52:54:00:00:10:02").ip("10.0.0.2/24").role(QemuGuest.Role.CLIENT).peer("10.0.0.1")
                 .iperfSeconds(8).log(logs.resolve("switch-client.log")).build())
        {
            System.out.println("qemu: " + String.join(" ", server.command()));
            server.start();
            client.start();
            server.awaitLine("VSW-READY", BOOT);
            client.awaitLine("VSW-READY", BOOT);

            final String ping = client.awaitLine("VSW-PING", Duration.ofSeconds(60));
            assertTrue(ping.contains("VSW-PING-OK 10.0.0.1"), ping);
            assertEquals("5", QemuGuest.value(ping, "rx"), ping);

            client.awaitLine("VSW-IPERF-BEGIN", Duration.ofSeconds(30));
            client.awaitLine("VSW-DONE", Duration.ofSeconds(90));
            final String iperf = client.awaitLine("VSW-IPERF-RESULT", Duration.ZERO);
            final long sender = Long.parseLong(QemuGuest.value(iperf, "sender_bps"));
            final long receiver = Long.parseLong(QemuGuest.value(iperf, "receiver_bps"));
            final String result = String.format("iperf3 guest to guest through the switch: sender %.1f Mbit/s, " +
                "receiver %.1f Mbit/s; %s; ping %s", sender / 1e6, receiver / 1e6,
                "vm1 " + sw.counters("vm1").summary() + "; vm2 " + sw.counters("vm2").summary(), ping);
            System.out.println(result);
            Files.writeString(logs.resolve("iperf-through-switch.txt"), result + "\n");
            assertTrue(receiver > 1_000_000, "a real TCP transfer completed: " + iperf);

            server.awaitLine("VSW-IPERF-SERVED rc=0", Duration.ofSeconds(30));
            assertEquals(0, client.waitForExit(Duration.ofSeconds(30)));
            assertEquals(0, server.waitForExit(Duration.ofSeconds(30)));

            final PortCounters c1 = sw.counters("vm1");
            final PortCounters c2 = sw.counters("vm2");
            // Both guests negotiated TSO: the sender's super-frames (larger than the 1500 MTU) crossed whole.
            assertTrue(c2.get(PortCounters.RX_GSO) > 100 && c1.get(PortCounters.TX_GSO) > 100,
                "super-frames crossed unsegmented: " + c1.summary() + " / " + c2.summary());
            assertEquals(0, c1.get(PortCounters.TX_SEGMENTED), "nothing needed segmenting");
            assertTrue(c1.get(PortCounters.UNICAST) > 1000 && c2.get(PortCounters.UNICAST) > 1000,
                "the bulk of the transfer went unicast: " + c1.summary() + " / " + c2.summary());
            assertEquals(0, c1.drops(dev.vswitch.pipeline.DropReason.BAD_CHAIN) +
                c2.drops(dev.vswitch.pipeline.DropReason.BAD_CHAIN) + c1.drops(dev.vswitch.pipeline.DropReason.BAD_HEADER) +
                c2.drops(dev.vswitch.pipeline.DropReason.BAD_HEADER), "a real Linux driver sends nothing malformed");
        }
    }

    /**
     * Mixed offloads: the receiving guest has every offload off, so the sender's 64 KB super-frames and partial
     * checksums must be segmented and completed by the switch on the way, and the transfer still completes.
     */
    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void transferCompletesWhenTheReceiverHasOffloadsOff(@TempDir final Path dir) throws Exception
    {
        GuestImage.ensureBuilt();
        final Path logs = Path.of("target", "guest-logs").toAbsolutePath();
        Files.createDirectories(logs);
        final String yaml = SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .pmdCpu(1)
            .stats(10)
            .toString();
        try (VSwitch sw = SwitchHarness.start(yaml);
             QemuGuest server = QemuGuest.builder().name("plain-server").socket(dir.resolve("vm1.sock"))
                 .mac("52:54:00:00:30:01").ip("10.0.0.1/24").role(QemuGuest.Role.SERVER).peer("10.0.0.2")
                 .deviceOptions(",csum=off,guest_csum=off,host_tso4=off,host_tso6=off,guest_tso4=off," +
                     "guest_tso6=off,guest_ecn=off,host_ecn=off")
                 .log(logs.resolve("mixed-server.log")).build();
             QemuGuest client = QemuGuest.builder().name("tso-client").socket(dir.resolve("vm2.sock"))
                 .mac("52:54:00:00:30:02").ip("10.0.0.2/24").role(QemuGuest.Role.CLIENT).peer("10.0.0.1")
                 .iperfSeconds(6).log(logs.resolve("mixed-client.log")).build())
        {
            server.start();
            client.start();
            server.awaitLine("VSW-READY", BOOT);
            client.awaitLine("VSW-READY", BOOT);
            client.awaitLine("VSW-DONE", Duration.ofSeconds(150));
            final String iperf = client.awaitLine("VSW-IPERF-RESULT", Duration.ZERO);
            final long receiver = Long.parseLong(QemuGuest.value(iperf, "receiver_bps"));
            final PortCounters toServer = sw.counters("vm1");
            final String result = String.format("iperf3 TSO guest -> guest with offloads off: receiver %.1f Mbit/s; " +
                "vm1 %s; vm2 %s", receiver / 1e6, toServer.summary(), sw.counters("vm2").summary());
            System.out.println(result);
            Files.writeString(logs.resolve("iperf-mixed-offloads.txt"), result + "\n");
            assertTrue(receiver > 1_000_000, result);
            assertTrue(sw.counters("vm2").get(PortCounters.RX_GSO) > 0, "the sender used TSO: " + result);
            assertTrue(toServer.get(PortCounters.TX_SEGMENTED) > 0, "the switch segmented for the receiver: " + result);
            assertEquals(0, toServer.get(PortCounters.TX_GSO), "no super-frame reached a guest without TSO");
            assertEquals(0, toServer.drops(dev.vswitch.pipeline.DropReason.BAD_HEADER) +
                sw.counters("vm2").drops(dev.vswitch.pipeline.DropReason.BAD_HEADER));
        }
    }
}
