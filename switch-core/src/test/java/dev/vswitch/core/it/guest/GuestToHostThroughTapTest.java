package dev.vswitch.core.it.guest;

import dev.vswitch.core.VSwitch;
import dev.vswitch.core.it.Netns;
import dev.vswitch.core.it.SwitchHarness;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
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

    /**
     * @param guestOffloads false: the guest's virtio-net has every offload off, so the kernel's super-frames must
     *                      be segmented by the switch on their way to it.
     */
    @ParameterizedTest(name = "guest offloads {0}")
    @ValueSource(booleans = {true, false})
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void guestPingsAndRunsIperfBothWaysWithTheHost(final boolean guestOffloads, @TempDir final Path dir)
        throws Exception
    {
        GuestImage.ensureBuilt();
        final Path logs = Path.of("target", "guest-logs").toAbsolutePath();
        Files.createDirectories(logs);
        final String ifname = "vswt" + ThreadLocalRandom.current().nextInt(100_000, 1_000_000);
        final String yaml = SwitchYaml.create()
            .vhostUser("vm1", dir.resolve("vm1.sock"))
            .tap("uplink", ifname, "mac", "02:00:00:00:77:01")
            .pmdCpu(1)
            .stats(10)
            .toString();

        try (Netns ns = Netns.create();
             VSwitch sw = SwitchHarness.start(yaml);
             QemuGuest guest = QemuGuest.builder().name("tapguest").socket(dir.resolve("vm1.sock"))
                 .mac("52:54:00:00:20:01").ip("10.0.0.1/24").role(QemuGuest.Role.SERVER).peer("10.0.0.100")
                 .deviceOptions(guestOffloads ? "" : ",csum=off,guest_csum=off,host_tso4=off,host_tso6=off," +
                     "guest_tso4=off,guest_tso6=off,guest_ecn=off,host_ecn=off")
                 .kernelArgs("serve=2").log(logs.resolve("tap-guest-" + guestOffloads + ".log")).build())
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
            final String result = String.format("guest offloads %s: iperf3 host(namespace) -> guest %.1f Mbit/s, " +
                "guest -> host %.1f Mbit/s through the TAP uplink; uplink %s; vm1 %s; %s",
                guestOffloads ? "on" : "off", toGuest / 1e6, fromGuest / 1e6,
                sw.counters("uplink").summary(), sw.counters("vm1").summary(), ping);
            System.out.println(result);
            Files.writeString(logs.resolve("iperf-through-tap-offloads-" + (guestOffloads ? "on" : "off") + ".txt"),
                result + "\n");
            assertTrue(toGuest > 1e6 && fromGuest > 1e6, result);
            assertTrue(sw.counters("uplink").get(PortCounters.RX_PACKETS) > 1000 &&
                sw.counters("uplink").get(PortCounters.TX_PACKETS) > 1000, result);
            // The namespace's kernel hands the tap 64 KB super-frames: whole to a guest that takes them, cut into
            // MSS-sized segments by the switch for one that does not.
            assertTrue(sw.counters("uplink").get(PortCounters.RX_GSO) > 0, "kernel super-frames: " + result);
            if (guestOffloads)
            {
                assertTrue(sw.counters("vm1").get(PortCounters.TX_GSO) > 0, result);
            }
            else
            {
                assertTrue(sw.counters("vm1").get(PortCounters.TX_SEGMENTED) > 0 &&
                    sw.counters("vm1").get(PortCounters.TX_GSO) == 0, result);
            }
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
