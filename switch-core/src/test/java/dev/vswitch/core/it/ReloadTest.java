package dev.vswitch.core.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vswitch.core.VSwitch;
import dev.vswitch.core.control.ControlCommands;
import dev.vswitch.core.control.ControlServer;
import dev.vswitch.ctl.VswitchCtl;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.testkit.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vswitchctl reload} while testpmd forwards through vm1/vm2: an edited file (one port added, one removed,
 * one's VLAN changed) is applied exactly, vm1/vm2 untouched; a file with an error changes nothing and says where;
 * a change to a section fixed at start is reported as needing a restart.
 */
class ReloadTest
{

    @TempDir
    Path dir;

    private String yaml(final String... extraPorts)
    {
        final StringBuilder sb = new StringBuilder("ports:\n" +
            "  - {name: vm1, type: vhost-user, socket: " + dir.resolve("vm1.sock") + "}\n" +
            "  - {name: vm2, type: vhost-user, socket: " + dir.resolve("vm2.sock") + "}\n");
        for (final String p : extraPorts)
        {
            sb.append("  - ").append(p.replace("$DIR", dir.toString())).append('\n');
        }
        return sb.append("datapath: {cpus: [1]}\nstats: {interval-seconds: 0}\n").toString();
    }

    @Test
    void appliesExactlyTheEditAndNothingOfABrokenFile() throws Exception
    {
        final Path file = dir.resolve("switch.yaml");
        final String start = yaml("{name: vm3, type: vhost-user, socket: $DIR/vm3.sock, vlan: 10}",
            "{name: vm4, type: vhost-user, socket: $DIR/vm4.sock, vlan: 10}");
        Files.writeString(file, start);
        try (VSwitch sw = SwitchHarness.start(start))
        {
            final ControlCommands commands = new ControlCommands(sw, file.toString(), start);
            try (ControlServer server = ControlServer.start(sw.config().control().socket(), commands, commands,
                     ControlServer.Limits.DEFAULT);
                 Testpmd steady = Testpmd.macForwarding(List.of(
                     new Testpmd.Port(dir.resolve("vm1.sock"), "02:00:00:00:0f:01", false),
                     new Testpmd.Port(dir.resolve("vm2.sock"), "02:00:00:00:0f:02", false)), null))
            {
                final String ctl = server.path().toString();
                steady.awaitPrompt(Duration.ofSeconds(30));
                SwitchHarness.await("vm1 and vm2 up", Duration.ofSeconds(20),
                    () -> sw.port("vm1").isUp() && sw.port("vm2").isUp());
                steady.command("start tx_first 16");
                Await.until("traffic through vm1", Duration.ofSeconds(10),
                    () -> sw.counters("vm1").get(PortCounters.TX_PACKETS) > 0);
                final long connections = sw.endpoint("vm1").connections();
                final long vm1Before = sw.counters("vm1").get(PortCounters.TX_PACKETS);

                // Nothing changed: nothing done.
                JsonNode r = Ctl.ok(Ctl.run("--socket", ctl, "reload", "--json"));
                assertEquals("[\"vm1\",\"vm2\",\"vm3\",\"vm4\"]", r.path("unchanged").toString());

                // Remove vm4, add vm5, move vm3 to VLAN 20.
                Files.writeString(file, yaml("{name: vm3, type: vhost-user, socket: $DIR/vm3.sock, vlan: 20}",
                    "{name: vm5, type: vhost-user, socket: $DIR/vm5.sock, trunk: [20, 30]}"));
                r = Ctl.ok(Ctl.run("--socket", ctl, "reload", "--json"));
                assertEquals("[\"vm5\"]", r.path("added").toString(), r.toString());
                assertEquals("[\"vm4\"]", r.path("removed").toString(), r.toString());
                assertEquals("[\"vm3\"]", r.path("changed").toString(), r.toString());
                assertEquals("[\"vm1\",\"vm2\"]", r.path("unchanged").toString(), r.toString());
                assertTrue(r.path("restart_needed").isEmpty(), r.toString());
                assertFalse(Files.exists(dir.resolve("vm4.sock")));
                assertTrue(Files.exists(dir.resolve("vm5.sock")));
                final List<String> ports = new ArrayList<>();
                for (final JsonNode p : Ctl.ok(Ctl.run("--socket", ctl, "show", "ports", "--json")).path("ports"))
                {
                    ports.add(p.path("name").asText() + (p.has("vlan") ? " vlan " + p.path("vlan").asInt() : "") +
                        (p.has("trunk") ? " trunk " + p.path("trunk") : ""));
                }
                assertEquals(List.of("vm1", "vm2", "vm3 vlan 20", "vm5 trunk [20,30]"), ports);
                assertEquals(connections, sw.endpoint("vm1").connections(), "vm1's front end was never dropped");

                // A broken file: nothing changes, the error names file and line.
                final String broken = yaml("{name: vm3, type: vhost-user, socket: $DIR/vm3.sock, vlan: 5000}");
                Files.writeString(file, broken);
                final Ctl.Result bad = Ctl.run("--socket", ctl, "reload");
                assertEquals(VswitchCtl.REFUSED, bad.code());
                assertTrue(bad.err().contains("nothing changed") && bad.err().contains(file + ":4") &&
                    bad.err().contains("ports[2].vlan"), bad.err());
                assertTrue(Files.exists(dir.resolve("vm5.sock")), "vm5 still there");
                assertEquals(4, Ctl.ok(Ctl.run("--socket", ctl, "show", "ports", "--json")).path("ports").size());

                // A section fixed at start: said, not applied; the port part still is.
                Files.writeString(file, yaml("{name: vm3, type: vhost-user, socket: $DIR/vm3.sock, vlan: 20}")
                    .replace("interval-seconds: 0", "interval-seconds: 7"));
                r = Ctl.ok(Ctl.run("--socket", ctl, "reload", "--json"));
                assertEquals("[\"vm5\"]", r.path("removed").toString(), r.toString());
                assertEquals("[\"stats\"]", r.path("restart_needed").toString(), r.toString());
                final Ctl.Result human = Ctl.run("--socket", ctl, "reload");
                assertTrue(human.out().contains("not applied, needs a restart: stats"), human.out());

                // The pair forwarded throughout, losing nothing but frames its own rings had no room for.
                Await.until("the pair to forward 10,000 more frames", Duration.ofSeconds(10),
                    () -> sw.counters("vm1").get(PortCounters.TX_PACKETS) > vm1Before + 10_000);
                assertTrue(sw.counters("vm1").get(PortCounters.TX_PACKETS) > vm1Before + 10_000);
                for (final String name : List.of("vm1", "vm2"))
                {
                    final PortCounters c = sw.counters(name);
                    assertEquals(0, c.totalDrops() - c.drops(DropReason.RING_FULL), name + ": " + c.summary());
                }
            }
        }
    }

}
