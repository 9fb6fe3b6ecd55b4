package dev.vswitch.core.it;

import dev.vswitch.core.VSwitch;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.stages.AclStage;
import dev.vswitch.pipeline.stages.RateLimitStage;
import dev.vswitch.testkit.Await;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The built-in acl and rate-limit stages under DPDK testpmd traffic. testpmd's flowgen mode sends a UDP flood from
 * every port (IPv4 10.254.0.0 -> 10.253.0.x, UDP 1000 -> 1001, a flow per destination address) to its peer and
 * counts what it receives, so both what a stage dropped and what it let through are observed at the receiver.
 */
class AclRateLimitTrafficTest
{
    @TempDir
    Path dir;

    /** testpmd's last TX burst may be counted by it but not yet taken by the switch when it stops. */
    private static final long BURST = 32;
    /** After "stop" testpmd no longer polls RX: up to a ring's worth of delivered frames stay uncounted in it. */
    private static final long RING = 256;

    private static void assertWithin(final long expected, final long actual, final long slack, final String what)
    {
        assertTrue(actual <= expected && actual >= expected - slack, what + ": " + expected + " vs " + actual);
    }

    private String ports()
    {
        return SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .pmdCpu(1)
            .stats(0)
            .toString();
    }

    private Testpmd flowgen() throws Exception
    {
        return Testpmd.start(List.of(
            new Testpmd.Port(dir.resolve("vm1.sock"), "02:00:00:00:05:01", false),
            new Testpmd.Port(dir.resolve("vm2.sock"), "02:00:00:00:05:02", false)), "flowgen", null);
    }

    private static void awaitUp(final VSwitch sw, final Testpmd pmd)
    {
        pmd.awaitPrompt(Duration.ofSeconds(30));
        SwitchHarness.await("both ports up", Duration.ofSeconds(20), () -> sw.port("vm1").isUp() && sw.port("vm2").isUp());
    }

    /** After "stop", waits until the switch has taken every frame still in the guests' rings. */
    private static void awaitQuiet(final VSwitch sw)
    {
        Await.steady("the switch's receive counts", Duration.ofSeconds(20), Duration.ofMillis(200),
            () -> sw.counters("vm1").get(PortCounters.RX_PACKETS) + sw.counters("vm2").get(PortCounters.RX_PACKETS));
    }

    @Test
    void aclDropsOnePortsUdpFloodAndPassesTheOther() throws Exception
    {
        final String yaml = ports() +
            "pipeline:\n" +
            "  stages:\n" +
            "    - classify\n" +
            "    - acl:\n" +
            "        rules:\n" +
            "          - drop: { in-port: vm1, ip-proto: 17, src-ip: 10.254.0.0/16, dst-ip: 10.253.0.0/16 }\n" +
            "          - allow: { in-port: vm2, ip-proto: 17, src-port: 1000, dst-port: 1001 }\n" +
            "          - drop: { ip-proto: 17, dst-port: 53 }\n" +
            "          - drop: { ethertype: 0x86dd }\n" +
            "    - mac-learning\n" +
            "    - forward\n";
        try (VSwitch sw = SwitchHarness.start(yaml); Testpmd pmd = flowgen())
        {
            awaitUp(sw, pmd);
            pmd.command("start");
            Testpmd.sleep(3000);
            pmd.command("stop");
            awaitQuiet(sw);
            final List<Testpmd.PortStats> stats = pmd.stats(Duration.ofSeconds(10));

            final AclStage acl = (AclStage)sw.stage("acl");
            final PortCounters vm1 = sw.counters("vm1");
            final PortCounters vm2 = sw.counters("vm2");
            final StringBuilder report = new StringBuilder();
            acl.report(report);
            System.out.printf("acl: %s%n  testpmd port0 tx=%d rx=%d, port1 tx=%d rx=%d%n  vm1 %s%n  vm2 %s%n", report,
                stats.get(0).txPackets(), stats.get(0).rxPackets(), stats.get(1).txPackets(), stats.get(1).rxPackets(),
                vm1.summary(), vm2.summary());

            final long fromVm1 = vm1.get(PortCounters.RX_PACKETS);
            final long fromVm2 = vm2.get(PortCounters.RX_PACKETS);
            assertTrue(fromVm1 > 10_000 && fromVm2 > 10_000, "both ports flooded: " + fromVm1 + ", " + fromVm2);
            // Everything vm1 sent matched rule 0 and was dropped, counted as acl at vm1; nothing reached port 1.
            assertWithin(stats.get(0).txPackets(), fromVm1, BURST, "frames testpmd port 0 sent vs the switch took");
            assertEquals(fromVm1, acl.hits(0));
            assertEquals(fromVm1, vm1.drops(DropReason.ACL));
            assertEquals(0, stats.get(1).rxPackets(), "testpmd port 1 received nothing");
            // vm2's frames (flowgen: UDP 1000 -> 1001) matched the allow rule, delivered to port 0.
            assertEquals(fromVm2, acl.hits(1));
            assertEquals(0, acl.hits(2) + acl.hits(3) + acl.defaultHits());
            assertEquals(0, vm2.drops(DropReason.ACL));
            assertEquals(fromVm2, vm1.get(PortCounters.TX_PACKETS) + vm1.drops(DropReason.RING_FULL));
            assertTrue(stats.get(0).rxPackets() > 10_000);
            assertWithin(vm1.get(PortCounters.TX_PACKETS), stats.get(0).rxPackets(), RING, "delivered to vm1 vs port 0 rx");
        }
    }

    @Test
    void rateLimitHoldsEachPolicedPortToItsPacketRate() throws Exception
    {
        final int pps = 20_000;
        final int burst = pps / 4;   // 250 ms: a PMD thread descheduled for less than that loses no credit
        final String yaml = ports() +
            "pipeline:\n" +
            "  stages:\n" +
            "    - classify\n" +
            "    - rate-limit: { ports: [vm1, vm2], pps: " + pps + ", burst: " + burst + " }\n" +
            "    - mac-learning\n" +
            "    - forward\n";
        try (VSwitch sw = SwitchHarness.start(yaml); Testpmd pmd = flowgen())
        {
            awaitUp(sw, pmd);
            final RateLimitStage limit = (RateLimitStage)sw.stage("rate-limit");
            final long started = System.nanoTime();
            pmd.command("start");
            Testpmd.sleep(1000);
            final long t1 = System.nanoTime();
            final long a1 = limit.passed(0);
            final long b1 = limit.passed(1);
            Testpmd.sleep(3000);
            final long t2 = System.nanoTime();
            final long a2 = limit.passed(0);
            final long b2 = limit.passed(1);
            pmd.command("stop");
            final long stopped = System.nanoTime();
            awaitQuiet(sw);
            final List<Testpmd.PortStats> stats = pmd.stats(Duration.ofSeconds(10));

            final PortCounters vm1 = sw.counters("vm1");
            final PortCounters vm2 = sw.counters("vm2");
            final double seconds = (t2 - t1) / 1e9;
            final double rate1 = (a2 - a1) / seconds;
            final double rate2 = (b2 - b1) / seconds;
            final StringBuilder report = new StringBuilder();
            limit.report(report);
            System.out.printf("rate-limit: %s%n  steady pps over %.2f s: vm1 %.0f, vm2 %.0f; testpmd port0 tx=%d rx=%d, " +
                "port1 tx=%d rx=%d%n  vm1 %s%n  vm2 %s%n", report, seconds, rate1, rate2, stats.get(0).txPackets(),
                stats.get(0).rxPackets(), stats.get(1).txPackets(), stats.get(1).rxPackets(), vm1.summary(), vm2.summary());

            // The flood is far above the limit. What a token bucket promises is the upper bound: over any interval
            // at most pps * interval + burst pass - checked tightly. It passes that much only while frames keep
            // coming: on this shared 2-core machine testpmd's sender (and the whole VM) stalls at times, and credit
            // beyond the burst is lost by design, so the lower bound is looser (quiet runs measure 20,349 pps).
            assertTrue(vm1.get(PortCounters.RX_PACKETS) > 5L * limit.passed(0), "vm1 flooded well over the limit");
            final double steadyMost = pps + burst / seconds;
            for (final double rate : new double[] { rate1, rate2 })
            {
                assertTrue(rate <= steadyMost * 1.01 && rate >= 0.70 * pps,
                    "steady " + rate + " pps, at most " + steadyMost + " (pps + burst over the window)");
            }
            final double most = pps * (stopped - started) / 1e9 + burst;
            for (int port = 0; port < 2; port++)
            {
                assertTrue(limit.passed(port) <= most * 1.01 && limit.passed(port) >= most * 0.70,
                    "port " + port + " passed " + limit.passed(port) + " of at most " + most);
            }
            // Every frame is either passed or dropped-and-counted; what passed is what the peer received.
            assertEquals(vm1.get(PortCounters.RX_PACKETS), limit.passed(0) + limit.dropped(0));
            assertEquals(limit.dropped(0), vm1.drops(DropReason.RATE_LIMITED));
            assertEquals(limit.dropped(1), vm2.drops(DropReason.RATE_LIMITED));
            assertEquals(limit.passed(0), vm2.get(PortCounters.TX_PACKETS) + vm2.drops(DropReason.RING_FULL));
            assertEquals(limit.passed(1), vm1.get(PortCounters.TX_PACKETS) + vm1.drops(DropReason.RING_FULL));
            assertWithin(vm2.get(PortCounters.TX_PACKETS), stats.get(1).rxPackets(), RING, "delivered to vm2 vs port 1 rx");
            assertWithin(vm1.get(PortCounters.TX_PACKETS), stats.get(0).rxPackets(), RING, "delivered to vm1 vs port 0 rx");
        }
    }
}
