package dev.vswitch.core.it.guest;

import dev.vswitch.core.VSwitch;
import dev.vswitch.core.it.Netns;
import dev.vswitch.core.it.SwitchHarness;
import dev.vswitch.pipeline.PortCounters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A QEMU guest reaches the host's kernel network through the switch's TAP uplink. The TAP is moved into a network
 * namespace with an address (so traffic stays inside what the test made); the guest pings it, then iperf3 runs
 * from the namespace to the guest in both directions.
 */
class GuestToHostThroughTapTest
{
    private static final Pattern BPS = Pattern.compile("\"sum_received\"\\s*:\\s*\\{[^}]*?\"bits_per_second\"\\s*:\\s*([0-9.eE+]+)");

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void guestPingsAndRunsIperfBothWaysWithTheHost(@TempDir final Path dir) throws Exception
    {
        GuestImage.ensureBuilt();
        final Path logs = Path.of("target", "guest-logs").toAbsolutePath();
        Files.createDirectories(logs);
        final String ifname = "vswt" + ThreadLocalRandom.current().nextInt(100_000, 1_000_000);
        final String yaml = "ports:\n" +
            "  - {name: vm1, type: vhost-user, socket: " + dir.resolve("vm1.sock") + "}\n" +
            "  - {name: uplink, type: tap, ifname: " + ifname + ", mac: '02:00:00:00:77:01'}\n" +
            "datapath: {cpus: [1]}\n" +
            "stats: {interval-seconds: 10}\n";

        try (Netns ns = Netns.create();
             VSwitch sw = SwitchHarness.start(yaml);
             QemuGuest guest = QemuGuest.builder().name("tapguest").socket(dir.resolve("vm1.sock"))
                 .mac("52:54:00:00:20:01").ip("10.0.0.1/24").role(QemuGuest.Role.SERVER).peer("10.0.0.100")
                 .kernelArgs("serve=2").log(logs.resolve("tap-guest.log")).build())
        {
            assertTrue(sw.port("uplink").isUp(), "tap opened");
            ns.adopt(ifname);
            ns.exec(10, "ip", "addr", "add", "10.0.0.100/24", "dev", ifname).check("address");
            ns.exec(10, "ip", "link", "set", ifname, "up").check("link up");
            ns.exec(10, "ip", "link", "set", "lo", "up").check("lo up");

            guest.start();
            guest.awaitLine("VSW-READY", Duration.ofSeconds(90));
            final String ping = guest.awaitLine("VSW-PING", Duration.ofSeconds(60));
            assertTrue(ping.contains("VSW-PING-OK 10.0.0.100"), ping);

            final double toGuest = iperf(ns, false);
            final double fromGuest = iperf(ns, true);
            final String result = String.format("iperf3 host(namespace) -> guest %.1f Mbit/s, guest -> host %.1f " +
                "Mbit/s through the TAP uplink; uplink %s; vm1 %s; %s", toGuest / 1e6, fromGuest / 1e6,
                sw.counters("uplink").summary(), sw.counters("vm1").summary(), ping);
            System.out.println(result);
            Files.writeString(logs.resolve("iperf-through-tap.txt"), result + "\n");
            assertTrue(toGuest > 1e6 && fromGuest > 1e6, result);
            assertTrue(sw.counters("uplink").get(PortCounters.RX_PACKETS) > 1000 &&
                sw.counters("uplink").get(PortCounters.TX_PACKETS) > 1000, result);
            guest.awaitLine("VSW-DONE", Duration.ofSeconds(30));
        }
    }

    /** One 5 s iperf3 run from the namespace to the guest's server; reverse = the guest sends. */
    private static double iperf(final Netns ns, final boolean reverse) throws Exception
    {
        String last = "";
        for (int attempt = 0; attempt < 20; attempt++)   // the guest restarts its server between tests
        {
            final Netns.Result r = reverse ?
                ns.exec(60, "iperf3", "-c", "10.0.0.1", "-t", "5", "-J", "-R") :
                ns.exec(60, "iperf3", "-c", "10.0.0.1", "-t", "5", "-J");
            final Matcher m = BPS.matcher(r.output());
            if (r.exitCode() == 0 && !r.output().contains("\"error\"") && m.find())
            {
                return Double.parseDouble(m.group(1));
            }
            last = r.output();
            Thread.sleep(500);
        }
        throw new AssertionError("iperf3 " + (reverse ? "-R " : "") + "never completed: " +
            last.substring(Math.max(0, last.length() - 2000)));
    }
}
