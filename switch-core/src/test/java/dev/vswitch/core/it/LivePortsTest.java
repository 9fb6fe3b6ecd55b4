package dev.vswitch.core.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vswitch.core.VSwitch;
import dev.vswitch.core.control.ControlCommands;
import dev.vswitch.core.control.ControlServer;
import dev.vswitch.ctl.VswitchCtl;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PortCounters;
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
 * {@code vswitchctl port add / port del} while testpmd forwards through vm1/vm2: the added ports' sockets appear and
 * a second testpmd forwards through them; removal disconnects it, unmaps its memory and forgets its FDB entries;
 * the vm1/vm2 pair keeps forwarding with no drop but ring-full; fds and guest mappings return to the baseline.
 */
class LivePortsTest
{
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void portsAddedAndRemovedWhileThePairForwards() throws Exception
    {
        final String yaml = SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .pmdCpu(1)
            .stats(0)
            .toString();
        try (VSwitch sw = SwitchHarness.start(yaml))
        {
            final ControlCommands commands = new ControlCommands(sw, "test.yaml", yaml);
            try (ControlServer server = ControlServer.start(sw.config().control().socket(), commands, commands,
                     ControlServer.Limits.DEFAULT);
                 Testpmd steady = Testpmd.macForwarding(List.of(
                     new Testpmd.Port(dir.resolve("vm1.sock"), "02:00:00:00:0e:01", false),
                     new Testpmd.Port(dir.resolve("vm2.sock"), "02:00:00:00:0e:02", false)), null))
            {
                final String ctl = server.path().toString();
                steady.awaitPrompt(Duration.ofSeconds(30));
                SwitchHarness.await("vm1 and vm2 up", Duration.ofSeconds(20),
                    () -> sw.port("vm1").isUp() && sw.port("vm2").isUp());
                steady.command("start tx_first 16");
                Testpmd.sleep(1000);
                final int fdsBefore = Fds.openCount();
                final long mapsBefore = FdSnapshot.guestMappings();
                final long vm1Before = sw.counters("vm1").get(PortCounters.TX_PACKETS);

                // port add: the sockets appear at once.
                for (final String name : List.of("vm3", "vm4"))
                {
                    final Ctl.Result add = Ctl.run("--socket", ctl, "port", "add", name, "--type", "vhost-user", "--socket",
                        dir.resolve(name + ".sock").toString());
                    assertEquals(0, add.code(), add.err());
                    assertTrue(Files.exists(dir.resolve(name + ".sock")), name + " socket created");
                }
                assertEquals(2, sw.ports().stream().filter(p -> p.name().startsWith("vm")).count() - 2);
                final Ctl.Result bad = Ctl.run("--socket", ctl, "port", "add", "vm3", "--type", "vhost-user", "--socket",
                    dir.resolve("other.sock").toString());
                assertEquals(VswitchCtl.REFUSED, bad.code());
                assertTrue(bad.err().contains("port vm3 exists already"), bad.err());
                final Ctl.Result badKey = Ctl.run("--socket", ctl, "port", "add", "vm5", "--type", "tap", "--socket",
                    dir.resolve("vm5.sock").toString());
                assertEquals(VswitchCtl.REFUSED, badKey.code());
                assertTrue(badKey.err().contains("port add:1") && badKey.err().contains("socket"), badKey.err());

                // A second testpmd forwards through the new ports.
                final int vm3Id;
                try (Testpmd second = Testpmd.macForwarding(List.of(
                    new Testpmd.Port(dir.resolve("vm3.sock"), "02:00:00:00:0e:03", false),
                    new Testpmd.Port(dir.resolve("vm4.sock"), "02:00:00:00:0e:04", false)), null))
                {
                    second.awaitPrompt(Duration.ofSeconds(30));
                    SwitchHarness.await("vm3 and vm4 up", Duration.ofSeconds(20),
                        () -> sw.port("vm3").isUp() && sw.port("vm4").isUp() &&
                            ((dev.vswitch.vhost.VhostUserPort)sw.port("vm4")).isReceiving());
                    second.command("start tx_first 16");
                    Testpmd.sleep(1500);
                    final List<Testpmd.PortStats> stats = second.stats(Duration.ofSeconds(10));
                    assertTrue(stats.get(0).rxPackets() > 1000 && stats.get(1).rxPackets() > 1000,
                        "the second testpmd gets traffic through the added ports: " + stats);
                    final JsonNode vm3Fdb = Ctl.ok(Ctl.run("--socket", ctl, "show", "fdb", "--port", "vm3", "--json"));
                    assertEquals("02:00:00:00:0e:03", vm3Fdb.path("entries").get(0).path("mac").asText());
                    vm3Id = Ctl.ok(Ctl.run("--socket", ctl, "show", "ports", "--json")).path("ports").get(2).path("id").asInt();

                    // port del while its front end is attached and sending.
                    for (final String name : List.of("vm3", "vm4"))
                    {
                        final Ctl.Result del = Ctl.run("--socket", ctl, "port", "del", name);
                        assertEquals(0, del.code(), del.err());
                        assertFalse(Files.exists(dir.resolve(name + ".sock")), name + " socket removed");
                    }
                    final JsonNode ports = Ctl.ok(Ctl.run("--socket", ctl, "show", "ports", "--json")).path("ports");
                    assertEquals(2, ports.size(), ports.toString());
                    final JsonNode fdb = Ctl.ok(Ctl.run("--socket", ctl, "show", "fdb", "--json"));
                    assertEquals(2, fdb.path("entries").size(), "vm3/vm4 entries forgotten: " + fdb);
                }

                // Everything vm3/vm4 held is given back.
                SwitchHarness.await("fds and guest mappings back to the baseline", Duration.ofSeconds(10),
                    () -> Fds.openCount() <= fdsBefore && FdSnapshot.guestMappings() == mapsBefore,
                    () -> "fds " + fdsBefore + " -> " + Fds.openCount() + ", guest maps " + mapsBefore + " -> " +
                        FdSnapshot.guestMappings() + "; fds: " + FdSnapshot.take());

                // The freed id is reused, with none of the old port's entries.
                final Ctl.Result again = Ctl.run("--socket", ctl, "--json", "port", "add", "vm5", "--type", "vhost-user",
                    "--socket", dir.resolve("vm5.sock").toString());
                assertEquals(0, again.code(), again.err());
                assertEquals(vm3Id, JSON.readTree(again.out()).path("result").path("id").asInt());
                assertEquals(0, Ctl.ok(Ctl.run("--socket", ctl, "show", "fdb", "--port", "vm5", "--json"))
                    .path("entries").size());
                final JsonNode config = Ctl.ok(Ctl.run("--socket", ctl, "show", "config", "--json"));
                assertTrue(config.path("yaml").asText().contains("#   added:   - {name: vm5, type: vhost-user"),
                    config.toString());
                assertEquals(0, Ctl.run("--socket", ctl, "port", "del", "vm5").code());

                // The pair forwarded throughout and lost nothing but frames its own rings had no room for.
                assertTrue(sw.counters("vm1").get(PortCounters.TX_PACKETS) > vm1Before + 10_000);
                for (final String name : List.of("vm1", "vm2"))
                {
                    final PortCounters c = sw.counters(name);
                    assertEquals(c.totalDrops() - c.drops(DropReason.RING_FULL), 0, name + ": " + c.summary());
                }
            }
        }
    }

}
