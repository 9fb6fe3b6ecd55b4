package dev.vswitch.core.it;

import dev.vswitch.core.VSwitch;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A front end restarts five times under traffic. Ports vm3/vm4 are in client mode and testpmd is the socket server
 * (server=1), so the switch has to reconnect each time; meanwhile vm1/vm2 carry a steady loop that must never
 * stop. At the end the switch holds no more fds or mappings than before the first restart.
 */
class ReconnectTest
{
    private static final int RESTARTS = 5;

    @TempDir
    Path dir;

    @Test
    void frontEndRestartsUnderTrafficWithoutLeaksOrHarmToOtherPorts() throws Exception
    {
        final String yaml = SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .vhostUser("vm3", dir.resolve("b3.sock"), "mode", "client", "reconnect-ms", 200)
            .vhostUser("vm4", dir.resolve("b4.sock"), "mode", "client", "reconnect-ms", 200)
            .pmdCpu(1)
            .stats(0)
            .toString();
        try (VSwitch sw = SwitchHarness.start(yaml);
             Testpmd steady = Testpmd.macForwarding(List.of(
                 new Testpmd.Port(dir.resolve("vm1.sock"), "02:00:00:00:01:01", false),
                 new Testpmd.Port(dir.resolve("vm2.sock"), "02:00:00:00:01:02", false)), null))
        {
            steady.awaitPrompt(Duration.ofSeconds(30));
            SwitchHarness.await("vm1 and vm2 up", Duration.ofSeconds(20),
                () -> sw.port("vm1").isUp() && sw.port("vm2").isUp());
            steady.command("start tx_first 16");
            Testpmd.sleep(1000);

            final int fdsBefore = Fds.openCount();
            final long guestMapsBefore = FdSnapshot.guestMappings();
            long steadyBefore = sw.counters("vm1").get(PortCounters.TX_PACKETS);

            for (int round = 1; round <= RESTARTS; round++)
            {
                try (Testpmd restarting = Testpmd.macForwarding(List.of(
                    new Testpmd.Port(dir.resolve("b3.sock"), "02:00:00:00:02:03", true),
                    new Testpmd.Port(dir.resolve("b4.sock"), "02:00:00:00:02:04", true)), null))
                {
                    restarting.awaitPrompt(Duration.ofSeconds(30));
                    SwitchHarness.await("vm3/vm4 reconnected in round " + round, Duration.ofSeconds(20),
                        () -> sw.port("vm3").isUp() && sw.port("vm4").isUp() &&
                            ((dev.vswitch.vhost.VhostUserPort)sw.port("vm4")).isReceiving());
                    final long before = sw.counters("vm3").get(PortCounters.TX_PACKETS);
                    restarting.command("start tx_first 16");
                    Testpmd.sleep(1500);
                    final List<Testpmd.PortStats> stats = restarting.stats(Duration.ofSeconds(10));
                    final long delivered = sw.counters("vm3").get(PortCounters.TX_PACKETS) - before;
                    System.out.printf("round %d: restarted front end rx %d/%d, switch delivered %d to vm3%n",
                        round, stats.get(0).rxPackets(), stats.get(1).rxPackets(), delivered);
                    assertTrue(stats.get(0).rxPackets() > 1000 && stats.get(1).rxPackets() > 1000,
                        "traffic resumed after restart " + round + ": " + stats);
                }
                SwitchHarness.await("vm3/vm4 down after restart " + round, Duration.ofSeconds(20),
                    () -> !sw.port("vm3").isUp() && !sw.port("vm4").isUp());

                final long steadyNow = sw.counters("vm1").get(PortCounters.TX_PACKETS);
                assertTrue(steadyNow > steadyBefore + 1000,
                    "vm1/vm2 kept forwarding during restart " + round + " (" + steadyBefore + " -> " + steadyNow + ")");
                steadyBefore = steadyNow;
            }

            // fds are exact (the JVM opens none on its own here); guest-memory mappings must be exact too. The
            // total mapping count is not compared: new JVM threads and malloc arenas move it by a few.
            SwitchHarness.await("fds and guest mappings back to baseline (fds " + fdsBefore + ", guest maps " +
                guestMapsBefore + ")", Duration.ofSeconds(10),
                () -> Fds.openCount() <= fdsBefore && FdSnapshot.guestMappings() == guestMapsBefore,
                () -> "now fds " + Fds.openCount() + ", guest maps " + FdSnapshot.guestMappings() + "; fds: " +
                    FdSnapshot.take());
            System.out.printf("after %d restarts: fds %d -> %d, guest memory mappings %d -> %d%n", RESTARTS,
                fdsBefore, Fds.openCount(), guestMapsBefore, FdSnapshot.guestMappings());
            assertTrue(guestMapsBefore >= 2, "the steady front end's memory is mapped (" + guestMapsBefore + ")");
            final List<Testpmd.PortStats> steadyStats = steady.stats(Duration.ofSeconds(10));
            assertTrue(steadyStats.get(0).rxPackets() > 10_000 && steadyStats.get(1).rxPackets() > 10_000);
        }
    }
}
