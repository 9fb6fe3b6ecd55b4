package dev.vswitch.core.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vswitch.core.VSwitch;
import dev.vswitch.core.it.SwitchHarness;
import dev.vswitch.ctl.VswitchCtl;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The control socket of an in-process switch (two vhost-user ports, no front end; PMD on CPU 0 with backoff idling):
 * the commands, FDB writes going through the PMD, and hostile clients. Short limits so deadlines show in the test.
 */
class ControlSocketTest
{
    private static final ControlServer.Limits LIMITS = new ControlServer.Limits(4096, 8, 700, 32);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static Path dir;
    private static VSwitch sw;
    private static ControlServer server;
    private static Path socket;

    @BeforeAll
    static void start() throws IOException
    {
        dir = Files.createTempDirectory("vswitch-ctl");
        final String yaml = SwitchYaml.create()
            .vhostUser("vm1", dir.resolve("vm1.sock"))
            .vhostUser("vm2", dir.resolve("vm2.sock"), "vlan", 20)
            .datapath("cpus", List.of(0), "idle", "backoff")
            .stats(0)
            .toString();
        Files.writeString(dir.resolve("switch.yaml"), yaml);
        sw = SwitchHarness.start(yaml);
        socket = sw.config().control().socket();
        final ControlCommands commands = new ControlCommands(sw, dir.resolve("switch.yaml").toString(), yaml);
        server = ControlServer.start(socket, commands, commands, LIMITS);
    }

    @AfterAll
    static void stop() throws IOException
    {
        if (server != null)
        {
            server.close();
        }
        if (sw != null)
        {
            sw.close();
        }
        assertFalse(Files.exists(socket), "control socket unlinked on close");
        try (var files = Files.list(dir))
        {
            for (final Path p : files.toList())
            {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }

    @Test
    void socketIsBesideThePortsAndOwnerOnly() throws IOException
    {
        assertEquals(dir.resolve("control.sock"), socket);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
    }

    @Test
    void aSecondServerOrAFileInTheWayIsRefusedAndLeftAlone() throws IOException
    {
        final ControlServer.Handler echo = line -> line;
        final ControlServer.ErrorFormatter err = message -> message;
        final IOException live = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
            () -> ControlServer.start(socket, echo, err, LIMITS));
        assertTrue(live.getMessage().contains("another process serves"), live.getMessage());
        assertTrue(parse(exchange("{\"command\": \"show ports\"}\n")).path("ok").asBoolean(), "first one unharmed");

        final Path file = dir.resolve("not-a-socket");
        Files.writeString(file, "precious");
        final IOException notSocket = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
            () -> ControlServer.start(file, echo, err, LIMITS));
        assertTrue(notSocket.getMessage().contains("is not a socket"), notSocket.getMessage());
        assertEquals("precious", Files.readString(file));
        Files.delete(file);
    }

    @Test
    void showPortsThroughTheCli()
    {
        final Result r = ctl("--socket", socket.toString(), "show", "ports", "--json");
        assertEquals(0, r.code, r.err);
        final JsonNode ports = parse(r.out).path("result").path("ports");
        assertEquals(2, ports.size());
        assertEquals("vm1", ports.get(0).path("name").asText());
        assertEquals("waiting", ports.get(0).path("state").asText());
        assertEquals(20, ports.get(1).path("vlan").asInt());
        assertEquals(0, ports.get(0).path("drops").path("ring-full").asLong());

        final Result table = ctl("--socket", socket.toString(), "show", "ports");
        assertEquals(0, table.code, table.err);
        final String[] lines = table.out.split("\n");
        assertEquals(3, lines.length, table.out);
        assertTrue(lines[0].startsWith("NAME  TYPE        STATE"), table.out);
        assertEquals(lines[0].indexOf("STATE"), lines[1].indexOf("waiting"), "aligned columns:\n" + table.out);
    }

    @Test
    void fdbWritesGoThroughThePmd()
    {
        final String s = socket.toString();
        assertEquals(0, ctl("--socket", s, "fdb", "add", "02:00:00:00:aa:01", "vm1").code);
        assertEquals(0, ctl("--socket", s, "fdb", "add", "02:00:00:00:aa:02", "vm2", "--vlan", "20").code);
        JsonNode fdb = parse(ctl("--socket", s, "show", "fdb", "--json").out).path("result");
        assertEquals(2, fdb.path("entries").size(), fdb.toString());
        final JsonNode vm2Only = parse(ctl("--socket", s, "show", "fdb", "--port", "vm2", "--json").out);
        assertEquals(1, vm2Only.path("result").path("entries").size());
        assertEquals("02:00:00:00:aa:02", vm2Only.path("result").path("entries").get(0).path("mac").asText());
        assertEquals(20, vm2Only.path("result").path("entries").get(0).path("vlan").asInt());
        assertEquals("static", vm2Only.path("result").path("entries").get(0).path("type").asText());
        assertEquals(1, parse(ctl("--socket", s, "show", "fdb", "--vlan", "20", "--json").out)
            .path("result").path("entries").size());
        final JsonNode limited = parse(ctl("--socket", s, "show", "fdb", "--limit", "1", "--json").out).path("result");
        assertEquals(1, limited.path("entries").size());
        assertEquals(2, limited.path("matched").asInt());
        assertTrue(limited.path("truncated").asBoolean());
        assertTrue(ctl("--socket", s, "show", "fdb", "--limit", "1").out.contains("1 shown of 2 matching"));
        assertEquals(sw.fdb().lookup(20, 0x0200_0000_aa02L), 1, "the data path's table has it");

        // flush removes learned entries only: the two static ones stay.
        assertEquals(0, ctl("--socket", s, "fdb", "flush").code);
        assertEquals(2, sw.fdb().size());

        final Result del = ctl("--socket", s, "fdb", "del", "02:00:00:00:aa:02", "--vlan", "20");
        assertEquals(0, del.code, del.err);
        assertTrue(del.out.contains("was on vm2"), del.out);
        assertEquals(-1, sw.fdb().lookup(20, 0x0200_0000_aa02L));
        final Result again = ctl("--socket", s, "fdb", "del", "02:00:00:00:aa:02", "--vlan", "20");
        assertEquals(VswitchCtl.REFUSED, again.code);
        assertTrue(again.err.contains("no fdb entry"), again.err);
        assertEquals(0, ctl("--socket", s, "fdb", "del", "02:00:00:00:aa:01").code);
        fdb = parse(ctl("--socket", s, "show", "fdb", "--json").out).path("result");
        assertEquals(0, fdb.path("entries").size());
    }

    @Test
    void portSlotsRunOutCleanlyAndComeBack()
    {
        final String s = socket.toString();
        for (int i = 0; i < 8; i++)
        {
            final Result add = ctl("--socket", s, "port", "add", "live" + i, "--type", "vhost-user", "--socket",
                dir.resolve("live" + i + ".sock").toString(), "--vlan", "20");
            assertEquals(0, add.code, add.err);
        }
        assertRefused(ctl("--socket", s, "port", "add", "live8", "--type", "vhost-user", "--socket",
            dir.resolve("live8.sock").toString()), "no free port slot");
        assertFalse(Files.exists(dir.resolve("live8.sock")));
        assertRefused(ctl("--socket", s, "port", "add", "x", "--type", "vhost-user", "--socket",
            dir.resolve("vm1.sock").toString()), "is port vm1's");
        assertEquals(10, parse(ctl("--socket", s, "show", "ports", "--json").out).path("result").path("ports").size());
        for (int i = 0; i < 8; i++)
        {
            assertEquals(0, ctl("--socket", s, "port", "del", "live" + i).code);
            assertFalse(Files.exists(dir.resolve("live" + i + ".sock")));
        }
        assertRefused(ctl("--socket", s, "port", "del", "live0"), "no port 'live0'");
        assertEquals(2, parse(ctl("--socket", s, "show", "ports", "--json").out).path("result").path("ports").size());
    }

    @Test
    void badArgumentsAreRefusedWithAReason()
    {
        final String s = socket.toString();
        assertRefused(ctl("--socket", s, "fdb", "add", "nonsense", "vm1"), "expected a MAC address");
        assertRefused(ctl("--socket", s, "fdb", "add", "01:00:5e:00:00:01", "vm1"), "multicast");
        assertRefused(ctl("--socket", s, "fdb", "add", "02:00:00:00:00:01", "vm9"), "no port 'vm9'");
        assertRefused(ctl("--socket", s, "fdb", "add", "02:00:00:00:00:01", "vm1", "--vlan", "4095"), "0..4094");
        assertRefused(ctl("--socket", s, "show", "fdb", "--port", "nope"), "no port 'nope'");
        assertEquals(2, ctl("--socket", s, "fdb", "add", "02:00:00:00:00:01").code, "usage error");
    }

    @Test
    void showPmdAndConfig()
    {
        final JsonNode pmd = parse(ctl("--socket", socket.toString(), "show", "pmd", "--json").out)
            .path("result").path("pmds").get(0);
        assertEquals("pmd-0", pmd.path("name").asText());
        assertTrue(pmd.path("rounds").asLong() > 0, pmd.toString());
        assertEquals("vm1", pmd.path("ports").get(0).asText());
        final Result config = ctl("--socket", socket.toString(), "show", "config");
        assertEquals(0, config.code, config.err);
        assertTrue(config.out.contains("name: vm2, type: vhost-user"), config.out);
    }

    @Test
    void malformedUnknownAndHugeRequestsGetAClearError() throws IOException
    {
        assertError(exchange("this is not json\n"), "malformed JSON request");
        assertError(exchange("[1,2,3]\n"), "must be a JSON object");
        assertError(exchange("{\"cmd\": \"show ports\"}\n"), "no \"command\" string");
        assertError(exchange("{\"command\": \"rm -rf /\"}\n"), "unknown command 'rm -rf /'");
        assertError(exchange("{\"command\": \"show fdb\", \"args\": 7}\n"), "\"args\" must be a JSON object");
        assertError(exchange("{\"command\": \"show fdb\", \"args\": {\"vlan\": \"x\"}}\n"), "must be an integer");
        assertError(exchange("\u0000\u00ff\u00fe garbage\n"), "malformed JSON request");
        // Longer than the line limit, with no newline: refused and closed, not buffered without bound.
        try (SocketChannel ch = connect())
        {
            final ByteBuffer huge = ByteBuffer.wrap(new byte[LIMITS.maxLineBytes() * 4]);
            java.util.Arrays.fill(huge.array(), (byte)'x');
            try
            {
                while (huge.hasRemaining())
                {
                    ch.write(huge);
                }
            }
            catch (final IOException closedOnUs)
            {
                // the server closed after answering: expected once it has its limit
            }
            assertError(RawControlLine.readLine(ch), "request longer than 4096 bytes");
        }
        // The server still answers.
        assertTrue(parse(exchange("{\"command\": \"show ports\"}\n")).path("ok").asBoolean());
    }

    @Test
    void stalledClientsNeitherBlockOthersNorStayForever() throws Exception
    {
        final List<SocketChannel> stalled = new ArrayList<>();
        try
        {
            // Three clients connect: one says nothing, one sends half a request, one never reads its answer.
            stalled.add(connect());
            final SocketChannel half = connect();
            half.write(ByteBuffer.wrap("{\"command\": \"show".getBytes(StandardCharsets.UTF_8)));
            stalled.add(half);
            final SocketChannel deaf = connect();
            deaf.write(ByteBuffer.wrap("{\"command\": \"show ports\"}\n".getBytes(StandardCharsets.UTF_8)));
            stalled.add(deaf);

            final long t0 = System.nanoTime();
            assertTrue(parse(exchange("{\"command\": \"show ports\"}\n")).path("ok").asBoolean());
            assertTrue(System.nanoTime() - t0 < TimeUnit.MILLISECONDS.toNanos(500),
                "answered while the stalled clients were connected");

            // The half request is answered with a timeout and closed after the request deadline.
            assertError(RawControlLine.readLine(half), "request not completed within 700 ms");
            assertEquals(-1, half.read(ByteBuffer.allocate(16)), "closed after the error");
            // The silent one is closed at the deadline.
            assertEquals(-1, stalled.get(0).read(ByteBuffer.allocate(16)), "closed at the deadline");
        }
        finally
        {
            for (final SocketChannel ch : stalled)
            {
                ch.close();
            }
        }
    }

    @Test
    void manyConcurrentClientsAreServedOrToldToComeBack() throws Exception
    {
        final int threads = 24;   // three times the client limit
        final ExecutorService pool = Executors.newFixedThreadPool(threads);
        try
        {
            final List<Future<int[]>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                results.add(pool.submit(() ->
                {
                    int ok = 0;
                    int refused = 0;
                    for (int i = 0; i < 20; i++)
                    {
                        final JsonNode answer = parse(exchange("{\"command\": \"show ports\"}\n"));
                        if (answer.path("ok").asBoolean())
                        {
                            ok++;
                        }
                        else
                        {
                            assertTrue(answer.path("error").asText().contains("too many control clients"),
                                answer.toString());
                            refused++;
                        }
                    }
                    return new int[] { ok, refused };
                }));
            }
            int ok = 0;
            int refused = 0;
            for (final Future<int[]> f : results)
            {
                final int[] r = f.get(60, TimeUnit.SECONDS);
                ok += r[0];
                refused += r[1];
            }
            // Every request got an answer: served, or told the limit is reached (never a hang or a reset).
            assertEquals(threads * 20, ok + refused);
            assertTrue(ok >= 20, "served: " + ok + " served, " + refused + " refused");
        }
        finally
        {
            pool.shutdownNow();
        }
        assertTrue(parse(exchange("{\"command\": \"show ports\"}\n")).path("ok").asBoolean());
    }

    // ------------------------------------------------------------------ helpers

    private record Result(int code, String out, String err) {}

    private static Result ctl(final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int code = VswitchCtl.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Result(code, out.toString(), err.toString());
    }

    private static void assertRefused(final Result r, final String text)
    {
        assertEquals(VswitchCtl.REFUSED, r.code, r.out + r.err);
        assertTrue(r.err.contains(text), r.err);
    }

    private static void assertError(final String line, final String text)
    {
        final JsonNode answer = parse(line);
        assertFalse(answer.path("ok").asBoolean(true), line);
        assertTrue(answer.path("error").asText().contains(text), line);
    }

    private static JsonNode parse(final String line)
    {
        try
        {
            return JSON.readTree(line);
        }
        catch (final IOException ex)
        {
            throw new AssertionError("not JSON: " + line, ex);
        }
    }

    private static SocketChannel connect() throws IOException
    {
        return RawControlLine.connect(socket);
    }

    private static String exchange(final String request) throws IOException
    {
        return RawControlLine.exchange(socket, request);
    }
}
