package dev.vswitch.core.it;

import dev.vswitch.testkit.Await;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A stage the switch's code does not know: src/test/example-stage is compiled here against the pipeline classes
 * (it is not on the test classpath), packed with its META-INF/services file into a jar, and the standalone switch
 * runs with that jar appended to its classpath (as bin/vswitch does with VSWITCH_CLASSPATH) and a YAML naming the
 * stage. Under testpmd traffic the stage visibly drops every 4th frame.
 */
class UserStageJarTest
{
    private static final Path EXAMPLE = Path.of("src", "test", "example-stage");
    private static Path jar;

    @TempDir
    Path dir;

    @BeforeAll
    static void buildTheUserJar() throws IOException
    {
        final Path out = Path.of("target", "example-stage").toAbsolutePath();
        final Path classes = out.resolve("classes");
        Files.createDirectories(classes);
        final List<String> sources = new ArrayList<>();
        try (Stream<Path> files = Files.walk(EXAMPLE.resolve("src")))
        {
            files.filter(f -> f.toString().endsWith(".java")).forEach(f -> sources.add(f.toString()));
        }
        final JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        final ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        final List<String> args = new ArrayList<>(List.of("--release", "17", "-cp", System.getProperty("java.class.path"),
            "-d", classes.toString()));
        args.addAll(sources);
        final int rc = javac.run(null, diagnostics, diagnostics, args.toArray(String[]::new));
        assertEquals(0, rc, "javac: " + diagnostics.toString(StandardCharsets.UTF_8));

        jar = out.resolve("drop-every-nth.jar");
        try (JarOutputStream j = new JarOutputStream(Files.newOutputStream(jar));
             Stream<Path> files = Files.walk(classes))
        {
            for (final Path f : (Iterable<Path>)files.filter(Files::isRegularFile)::iterator)
            {
                add(j, classes.relativize(f).toString(), f);
            }
            add(j, "META-INF/services/dev.vswitch.pipeline.spi.StageFactory",
                EXAMPLE.resolve("META-INF/services/dev.vswitch.pipeline.spi.StageFactory"));
        }
    }

    private static void add(final JarOutputStream j, final String name, final Path file) throws IOException
    {
        j.putNextEntry(new JarEntry(name));
        j.write(Files.readAllBytes(file));
        j.closeEntry();
    }

    /** The java command bin/vswitch runs, from the build tree, plus the extra classpath entries. */
    private static List<String> javaCommand(final Path config, final String extraClasspath) throws IOException
    {
        final Path target = Path.of("target").toAbsolutePath();
        final String classpath = target.resolve("classes") + ":" +
            Files.readString(target.resolve("classpath.txt")).trim() + (extraClasspath.isEmpty() ? "" : ":" + extraClasspath);
        final List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("@" + target.resolve("jvm.options"));
        cmd.addAll(List.of("-cp", classpath, "dev.vswitch.core.Main", "--config", config.toString()));
        return cmd;
    }

    private String yaml(final String nth)
    {
        return SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .pmdCpu(1)
            .stats(1)
            .raw("pipeline:\n" +
                "  stages:\n" +
                "    - classify\n" +
                "    - drop-every-nth: { n: " + nth + " }\n" +
                "    - mac-learning\n" +
                "    - forward\n")
            .toString();
    }

    /** With the metrics endpoint on {@code port}. */
    private String yaml(final String nth, final int port)
    {
        return yaml(nth) + "metrics: {listen: 127.0.0.1:" + port + "}\n";
    }

    private static String runToExit(final List<String> cmd, final int expectedExit) throws Exception
    {
        final Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(expectedExit, p.exitValue(), out);
        return out;
    }

    @Test
    void withoutTheJarTheStageIsUnknownAndABadSettingNamesItsLine() throws Exception
    {
        final Path config = dir.resolve("switch.yaml");
        Files.writeString(config, yaml("4"));
        final String unknown = runToExit(javaCommand(config, ""), 2);
        assertTrue(unknown.contains("switch.yaml:9: pipeline.stages[1]: unknown stage 'drop-every-nth'; available: " +
            "acl, classify, forward, mac-learning, rate-limit, vlan"), unknown);

        Files.writeString(config, yaml("1"));
        final String bad = runToExit(javaCommand(config, jar.toString()), 2);
        assertTrue(bad.contains("configuration error: " + config + ":9: pipeline.stages[1].drop-every-nth.n: " +
            "must be between 2 and 1000000, got 1"), bad);
        assertTrue(!Files.exists(dir.resolve("vm1.sock")), "nothing was bound");
    }

    @Test
    void theUserStageFromItsOwnJarDropsEveryFourthFrame() throws Exception
    {
        final Path config = dir.resolve("switch.yaml");
        final int metricsPort;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()))
        {
            metricsPort = free.getLocalPort();
        }
        Files.writeString(config, yaml("4", metricsPort));
        final String metrics;
        final Path log = dir.resolve("switch.log");
        final Process sw = new ProcessBuilder(javaCommand(config, jar.toString())).redirectErrorStream(true)
            .redirectOutput(log.toFile()).start();
        try
        {
            Await.fileContains(log, "pipeline classify -> drop-every-nth -> mac-learning -> forward", Duration.ofSeconds(60));
            final List<Testpmd.PortStats> stats;
            try (Testpmd pmd = Testpmd.start(List.of(
                new Testpmd.Port(dir.resolve("vm1.sock"), "02:00:00:00:06:01", false),
                new Testpmd.Port(dir.resolve("vm2.sock"), "02:00:00:00:06:02", false)), "flowgen", null))
            {
                pmd.awaitPrompt(Duration.ofSeconds(30));
                Await.fileContains(log, "[vm2] ring 1 (guest tx) started", Duration.ofSeconds(20));
                pmd.command("start");
                Testpmd.sleep(2000);
                pmd.command("stop");
                Testpmd.sleep(500);
                stats = pmd.stats(Duration.ofSeconds(10));
                // Two stats intervals with no traffic: the last line has the final counts.
                final int mark = Files.readString(log).length();
                Await.fileContains(log, mark, "[drop-every-nth] n=4", Duration.ofSeconds(5));
                final int mark2 = Files.readString(log).length();
                Await.fileContains(log, mark2, "[drop-every-nth] n=4", Duration.ofSeconds(5));
                // The stage's own counters, registered through the stage SPI, on the metrics endpoint.
                metrics = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString()).body();
            }
            new ProcessBuilder("kill", "-TERM", Long.toString(sw.pid())).start().waitFor();
            assertTrue(sw.waitFor(30, TimeUnit.SECONDS), "switch exits on SIGTERM");
            final String out = Files.readString(log);
            assertEquals(0, sw.exitValue(), out);

            final long seen = last(out, "\\[drop-every-nth\\] n=4 seen=(\\d+) dropped=\\d+");
            final long dropped = last(out, "\\[drop-every-nth\\] n=4 seen=\\d+ dropped=(\\d+)");
            final long filtered = last(out, "\\[vm1\\] up   .*?filtered=(\\d+)") + last(out, "\\[vm2\\] up   .*?filtered=(\\d+)");
            final long rx = last(out, "\\[vm1\\] up   rx=(\\d+)") + last(out, "\\[vm2\\] up   rx=(\\d+)");
            final long sent = stats.get(0).txPackets() + stats.get(1).txPackets();
            final long received = stats.get(0).rxPackets() + stats.get(1).rxPackets();
            System.out.printf("drop-every-nth: seen=%d dropped=%d filtered=%d switch rx=%d; testpmd sent=%d received=%d%n",
                seen, dropped, filtered, rx, sent, received);

            assertTrue(seen > 10_000, "traffic flowed: " + seen);
            assertEquals(rx, seen, "the stage saw every frame the switch took");
            assertEquals(seen / 4, dropped, "every 4th frame");
            assertEquals(dropped, filtered, "counted as filtered at the ingress ports");
            assertEquals(seen, (long)Double.parseDouble(sample(metrics,
                "vswitch_stage_drop_every_nth_seen_total{stage=\"drop-every-nth\"}")), metrics);
            assertEquals(dropped, (long)Double.parseDouble(sample(metrics,
                "vswitch_stage_drop_every_nth_dropped_total{stage=\"drop-every-nth\"}")), metrics);
            // What testpmd got back is what was not dropped, less at most one ring per port still unread after stop.
            assertTrue(received <= seen - dropped && received >= seen - dropped - 2 * 256,
                "testpmd received " + received + " of " + (seen - dropped) + " passed");
        }
        finally
        {
            sw.destroyForcibly();
        }
    }

    private static String sample(final String metrics, final String series)
    {
        final Matcher m = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE).matcher(metrics);
        assertTrue(m.find(), series + " in:\n" + metrics);
        return m.group(1);
    }

    private static long last(final String text, final String regex)
    {
        final Matcher m = Pattern.compile(regex).matcher(text);
        long value = -1;
        while (m.find())
        {
            value = Long.parseLong(m.group(1));
        }
        assertTrue(value >= 0, "log has " + regex + ":\n" + text);
        return value;
    }
}
