package dev.vswitch.core.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vswitch.core.control.RawControlLine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * vswitchctl against the switch as users run it (a separate JVM) while testpmd forwards through vm1/vm2: the FDB
 * shows the pair's learned MACs, ports and PMD figures are live, FDB writes apply, and hostile control clients
 * (malformed, huge, unknown, stalled, many at once) get errors while the pair forwards with no drop but ring-full.
 */
class ControlTrafficTest
{
    private static final String PREFIX = "02:00:00:00:0d:";

    @TempDir
    Path dir;

    @Test
    void inspectAndChangeALiveSwitchAndShrugOffHostileClients() throws Exception
    {
        final Path log = dir.resolve("switch.log");
        final Process sw = SwitchProcess.startTwoPorts(dir, log);
        final Path socket = dir.resolve("control.sock");
        try
        {
            SwitchProcess.awaitLog(log, "[control] listening on " + socket, java.time.Duration.ofSeconds(10));
            try (Testpmd pmd = SwitchProcess.startLoop(dir, log, PREFIX))
            {
                // show fdb --json: the pair's MACs, learned on their ports.
                final JsonNode fdb = Ctl.ok(Ctl.run("--socket", socket.toString(), "show", "fdb", "--json"));
                final Map<String, String> learned = new HashMap<>();
                for (final JsonNode e : fdb.path("entries"))
                {
                    assertEquals("learned", e.path("type").asText(), e.toString());
                    assertTrue(e.path("age_seconds").asLong() <= 2, "seen just now: " + e);
                    learned.put(e.path("mac").asText(), e.path("port").asText());
                }
                assertEquals(Map.of(PREFIX + "01", "vm1", PREFIX + "02", "vm2"), learned, fdb.toString());

                // show ports: both up, negotiated features, counters moving.
                final JsonNode ports = Ctl.ok(Ctl.run("--socket", socket.toString(), "show", "ports", "--json"));
                for (final JsonNode p : ports.path("ports"))
                {
                    assertEquals("up", p.path("state").asText(), p.toString());
                    assertTrue(p.path("features").toString().contains("VERSION_1"), p.toString());
                    assertTrue(p.path("counters").path("rx_packets").asLong() > 0, p.toString());
                }

                // show pmd: busy, frames per round, latency of this window.
                final JsonNode pmdStats = Ctl.ok(Ctl.run("--socket", socket.toString(), "show", "pmd", "--json"))
                    .path("pmds").get(0);
                assertTrue(pmdStats.path("busy_percent").asDouble() > 0, pmdStats.toString());
                assertTrue(pmdStats.path("frames").asLong() > 0, pmdStats.toString());
                assertTrue(pmdStats.path("ns_per_frame").asDouble() > 0, pmdStats.toString());
                assertTrue(pmdStats.path("poll_to_publish_ns").path("p99").asLong() > 0, pmdStats.toString());
                System.out.println("show pmd under testpmd loop: " + pmdStats);

                // The real launcher, in its own JVM, as an operator types it.
                final Process cli = new ProcessBuilder(Path.of("..", "bin", "vswitchctl").toString(),
                    "--socket", socket.toString(), "show", "fdb", "--port", "vm2").redirectErrorStream(true).start();
                final String cliOut = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(cli.waitFor(60, TimeUnit.SECONDS));
                assertEquals(0, cli.exitValue(), cliOut);
                assertTrue(cliOut.startsWith("MAC  ") && cliOut.contains(PREFIX + "02  0     vm2   learned"),
                    cliOut);

                // trace vm1 --count 5: five frames of the pair, every stage passing, a unicast FDB hit to vm2.
                final JsonNode trace = Ctl.ok(Ctl.run("--socket", socket.toString(), "trace", "vm1", "--count", "5",
                    "--json"));
                assertEquals(5, trace.path("frames").size(), trace.toString());
                for (final JsonNode f : trace.path("frames"))
                {
                    assertEquals(PREFIX + "01", f.path("src").asText(), f.toString());
                    assertEquals(PREFIX + "02", f.path("dst").asText(), f.toString());
                    assertEquals(0, f.path("vlan").asInt());
                    final List<String> stages = new ArrayList<>();
                    for (final JsonNode st : f.path("stages"))
                    {
                        stages.add(st.path("stage").asText() + "=" + st.path("verdict").asText());
                    }
                    assertEquals(List.of("classify=pass", "mac-learning=pass", "forward=pass"), stages,
                        f.toString());
                    assertEquals("hit", f.path("fdb").asText(), f.toString());
                    assertEquals(1, f.path("destinations").size(), f.toString());
                    final JsonNode d = f.path("destinations").get(0);
                    assertEquals("vm2", d.path("port").asText(), f.toString());
                    // A full vm2 RX ring is a legitimate outcome of a busy loop; anything else must be a delivery.
                    assertTrue(d.path("result").asText().equals("delivered") ?
                        d.path("offload").asText().equals("pass") : d.path("reason").asText().equals("ring-full"),
                        f.toString());
                }
                final Ctl.Result humanTrace = Ctl.run("--socket", socket.toString(), "trace", "vm2", "--count", "2");
                assertEquals(0, humanTrace.code(), humanTrace.err());
                assertTrue(humanTrace.out().contains("  forward       pass     vm1") &&
                    humanTrace.out().contains("fdb: hit") && humanTrace.out().endsWith("2 of 2 frames traced\n"),
                    humanTrace.out());

                // FDB writes go through the PMD while it forwards.
                assertEquals(0, Ctl.run("--socket", socket.toString(), "fdb", "add", "02:00:00:00:0d:99", "vm1").code());
                final JsonNode withStatic = Ctl.ok(Ctl.run("--socket", socket.toString(), "show", "fdb", "--port", "vm1",
                    "--json"));
                assertEquals(2, withStatic.path("entries").size(), withStatic.toString());
                assertEquals(0, Ctl.run("--socket", socket.toString(), "fdb", "del", "02:00:00:00:0d:99").code());

                // Hostile clients while the pair forwards.
                final Map<String, long[]> before = counters(socket);
                hostileClients(socket);
                Testpmd.sleep(1000);
                final Map<String, long[]> after = counters(socket);
                for (final String port : List.of("vm1", "vm2"))
                {
                    assertTrue(after.get(port)[0] > before.get(port)[0], port + " kept receiving");
                    assertTrue(after.get(port)[1] > before.get(port)[1], port + " kept transmitting");
                    assertEquals(0, after.get(port)[2], port + ": no drops but ring-full");
                }
            }
            // SIGHUP reloads the file like 'vswitchctl reload': an added port appears.
            Files.writeString(dir.resolve("switch.yaml"), Files.readString(dir.resolve("switch.yaml")).replace(
                "datapath:", "  - {name: vm3, type: vhost-user, socket: " + dir.resolve("vm3.sock") + "}\ndatapath:"));
            new ProcessBuilder("kill", "-HUP", Long.toString(sw.pid())).start().waitFor();
            SwitchProcess.awaitLog(log, "added [vm3], removed [], changed []", java.time.Duration.ofSeconds(10));
            assertTrue(Files.exists(dir.resolve("vm3.sock")));
            assertEquals(3, Ctl.ok(Ctl.run("--socket", socket.toString(), "show", "ports", "--json")).path("ports").size());

            new ProcessBuilder("kill", "-TERM", Long.toString(sw.pid())).start().waitFor();
            assertTrue(sw.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, sw.exitValue(), Files.readString(log));
            assertFalse(Files.exists(socket), "control socket removed at exit");
        }
        finally
        {
            sw.destroyForcibly();
        }
    }

    /** Malformed, unknown and huge requests, stalled clients and 40 concurrent ones: each answered or dropped. */
    private static void hostileClients(final Path socket) throws Exception
    {
        assertTrue(RawControlLine.exchange(socket, "{{{ not json\n").contains("malformed JSON request"));
        assertTrue(RawControlLine.exchange(socket, "{\"command\": \"format disk\"}\n").contains("unknown command"));
        try (SocketChannel huge = RawControlLine.connect(socket))
        {
            final ByteBuffer junk = ByteBuffer.allocate(1 << 20);
            try
            {
                while (junk.hasRemaining())
                {
                    huge.write(junk);
                }
            }
            catch (final IOException closedOnUs)
            {
                // refused after 64 KiB: expected
            }
            assertTrue(RawControlLine.readLine(huge).contains("request longer than 65536 bytes"));
        }
        final List<SocketChannel> stalled = new ArrayList<>();
        final ExecutorService pool = Executors.newFixedThreadPool(40);
        try
        {
            for (int i = 0; i < 4; i++)
            {
                final SocketChannel ch = RawControlLine.connect(socket);
                if (i % 2 == 1)
                {
                    ch.write(ByteBuffer.wrap("{\"command\":".getBytes(StandardCharsets.UTF_8)));
                }
                stalled.add(ch);
            }
            final List<Future<String>> answers = new ArrayList<>();
            for (int i = 0; i < 40; i++)
            {
                answers.add(pool.submit(() -> RawControlLine.exchange(socket, "{\"command\": \"show ports\"}\n")));
            }
            int served = 0;
            for (final Future<String> f : answers)
            {
                final String answer = f.get(30, TimeUnit.SECONDS);
                assertTrue(answer.startsWith("{\"ok\":true") || answer.contains("too many control clients"), answer);
                served += answer.startsWith("{\"ok\":true") ? 1 : 0;
            }
            assertTrue(served > 0);
        }
        finally
        {
            pool.shutdownNow();
            for (final SocketChannel ch : stalled)
            {
                ch.close();
            }
        }
    }

    /** Per port: rx packets, tx packets, drops other than ring-full. */
    private static Map<String, long[]> counters(final Path socket)
    {
        final Map<String, long[]> map = new HashMap<>();
        for (final JsonNode p : Ctl.ok(Ctl.run("--socket", socket.toString(), "show", "ports", "--json")).path("ports"))
        {
            long drops = 0;
            final var it = p.path("drops").fields();
            while (it.hasNext())
            {
                final var e = it.next();
                drops += e.getKey().equals("ring-full") ? 0 : e.getValue().asLong();
            }
            map.put(p.path("name").asText(), new long[] { p.path("counters").path("rx_packets").asLong(),
                p.path("counters").path("tx_packets").asLong(), drops });
        }
        return map;
    }
}
