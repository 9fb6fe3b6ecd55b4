package dev.vswitch.core.it;

import dev.vswitch.core.metrics.HttpAnswer;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The metrics endpoint of the standalone switch, end to end: testpmd forwards through vm1/vm2, {@code promtool check
 * metrics} accepts what {@code /metrics} serves, a real Prometheus server scrapes it every second, and its
 * {@code rate(vswitch_port_rx_packets_total{port="vm1"}[5s])} agrees with testpmd's own packet rate within 20 % (median
 * of five 5-second windows).
 * The rate is measured while garbage, stalled and silent clients hit the endpoint, and the forwarding rate then is
 * compared with the rate before they came: the data path does not notice them.
 */
class PrometheusScrapeTest
{
    private static final Pattern VALUE = Pattern.compile("\"value\":\\[[0-9.]+,\"([^\"]+)\"]");

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void prometheusRateMatchesTestpmdWhileBadClientsHitTheEndpoint() throws Exception
    {
        final int metricsPort = freePort();
        final Path log = dir.resolve("switch.log");
        final Path config = dir.resolve("switch.yaml");
        Files.writeString(config, SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .pmdCpu(1)
            .stats(1)
            .section("metrics", "listen", "127.0.0.1:" + metricsPort)
            .toString());
        final Process sw = new ProcessBuilder(SwitchProcess.javaCommand(config)).redirectErrorStream(true)
            .redirectOutput(log.toFile()).start();
        Process prometheus = null;
        final List<Socket> badClients = new ArrayList<>();
        final AtomicBoolean stopGarbage = new AtomicBoolean();
        Thread garbage = null;
        try
        {
            SwitchProcess.awaitLog(log, "[vm2] listening on", Duration.ofSeconds(60));
            SwitchProcess.awaitLog(log, "metrics: http://127.0.0.1:" + metricsPort + "/metrics", Duration.ofSeconds(5));
            try (Testpmd pmd = SwitchProcess.startLoop(dir, log, "02:00:00:00:13:"))
            {
                final String metricsUrl = "http://127.0.0.1:" + metricsPort + "/metrics";
                final String text = get(metricsUrl);
                assertTrue(text.contains("vswitch_port_rx_packets_total{port=\"vm1\"}"), text);
                promtoolAccepts(text);

                final int webPort = freePort();
                prometheus = startPrometheus(metricsPort, webPort);
                final String api = "http://127.0.0.1:" + webPort + "/api/v1/query?query=";
                awaitPrometheusTarget(api, prometheus);

                // testpmd's first stats call reads a stale Rx-pps/Tx-pps; each later one is the mean since the call
                // before. Each window: 5 s, testpmd's Tx-pps of vm1's port over it, and Prometheus' rate()[5s]
                // evaluated at its end. Single windows swing (the loop's rate moves by tens of % second to second,
                // and Prometheus' samples cover ~4 of the 5 s), so the medians of 5 windows are compared.
                pmd.stats(Duration.ofSeconds(5));
                final List<Window> quiet = new ArrayList<>();
                for (int i = 0; i < 3; i++)
                {
                    quiet.add(window(pmd, api));
                }
                assertTrue(quiet.get(0).testpmdPps() > 10_000, "testpmd forwards through the switch: " + quiet);

                // Then half-sent requests that stall, connections that say nothing, garbage, a huge header.
                final InetSocketAddress endpoint = new InetSocketAddress("127.0.0.1", metricsPort);
                for (int i = 0; i < 40; i++)
                {
                    final Socket s = new Socket();
                    s.connect(endpoint, 2000);
                    if (i % 2 == 0)
                    {
                        s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Stall: "
                            .getBytes(StandardCharsets.US_ASCII));
                    }
                    badClients.add(s);
                }
                final AtomicLong garbageSent = new AtomicLong();
                garbage = new Thread(() -> sendGarbage(endpoint, stopGarbage, garbageSent), "garbage-client");
                garbage.setDaemon(true);
                garbage.start();
                final List<Window> busy = new ArrayList<>();
                for (int i = 0; i < 2; i++)
                {
                    busy.add(window(pmd, api));
                }
                stopGarbage.set(true);
                garbage.join(5000);

                final List<Window> all = new ArrayList<>(quiet);
                all.addAll(busy);
                final double error = median(all.stream().mapToDouble(Window::error).toArray());
                final double quietPps = median(quiet.stream().mapToDouble(Window::testpmdPps).toArray());
                final double busyPps = median(busy.stream().mapToDouble(Window::testpmdPps).toArray());
                System.out.printf(Locale.ROOT, "PrometheusScrapeTest: median |rate() - testpmd Tx-pps| = %.1f %% over " +
                    "%s; forwarding %.0f pps before bad clients, %.0f pps with them (%d garbage requests)%n",
                    100 * error, all, quietPps, busyPps, garbageSent.get());
                assertTrue(garbageSent.get() > 10, "garbage requests sent: " + garbageSent.get());
                assertTrue(error <= 0.2, "Prometheus rate vs testpmd: " + all);
                // The switch's PMD (CPU 1) does not notice the bad clients. testpmd's forwarding core shares CPU 0
                // with them, Prometheus and the JVMs, so its rate may sag: this bound catches a stalled data
                // path (it would read ~0), not that sag.
                assertTrue(busyPps >= 0.6 * quietPps, "forwarding rate with bad clients " + busyPps +
                    " pps vs " + quietPps + " pps without");
                assertEquals(1.0, query(api, "up{job=\"vswitch\"}", System.currentTimeMillis()),
                    "Prometheus still scrapes the switch");
                final String after = get(metricsUrl);
                for (final String reason : List.of("bad-chain", "bad-header", "runt", "too-big", "port-down"))
                {
                    assertTrue(after.contains("vswitch_port_drops_total{port=\"vm1\",reason=\"" + reason + "\"} 0.0"),
                        reason + ":\n" + after);
                }
                assertMetricsThreadsOffThePmdCpu(sw.pid());
                pmd.command("stop");
            }
        }
        finally
        {
            stopGarbage.set(true);
            for (final Socket s : badClients)
            {
                s.close();
            }
            if (prometheus != null)
            {
                prometheus.destroy();
                if (!prometheus.waitFor(10, TimeUnit.SECONDS))
                {
                    prometheus.destroyForcibly();
                }
            }
            sw.destroy();
            if (!sw.waitFor(30, TimeUnit.SECONDS))
            {
                sw.destroyForcibly();
            }
        }
    }

    /** testpmd's Tx-pps of vm1's port over 5 s, and Prometheus' {@code rate()[5s]} at the window's end. */
    private record Window(long testpmdPps, double promRate, double samples, double maxScrapeSeconds)
    {
        double error()
        {
            return Math.abs(promRate - testpmdPps) / testpmdPps;
        }

        @Override
        public String toString()
        {
            return String.format(Locale.ROOT, "%.0f/%d (%.0f samples, scrape <= %.3f s)", promRate, testpmdPps, samples,
                maxScrapeSeconds);
        }
    }

    private Window window(final Testpmd pmd, final String api) throws Exception
    {
        Thread.sleep(5000);
        final long end = System.currentTimeMillis();
        final long pps = pmd.stats(Duration.ofSeconds(5)).get(0).txPps();
        return new Window(pps, query(api, "rate(vswitch_port_rx_packets_total{port=\"vm1\"}[5s])", end),
            query(api, "count_over_time(vswitch_port_rx_packets_total{port=\"vm1\"}[5s])", end),
            query(api, "max_over_time(scrape_duration_seconds{job=\"vswitch\"}[5s])", end));
    }

    private static double median(final double[] values)
    {
        java.util.Arrays.sort(values);
        final int n = values.length;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }

    /** Garbage requests, one every 100 ms, each read until the server answered or closed, until told to stop. */
    private static void sendGarbage(final InetSocketAddress endpoint, final AtomicBoolean stop, final AtomicLong sent)
    {
        final String[] requests = { "\u0000\u0001\u0002\u00ff nonsense\r\n\r\n", "GET /metrics HTTP/9.9 x y\r\n\r\n",
            "POST /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n", "GET /" + "a".repeat(200_000) + " HTTP/1.1\r\n\r\n" };
        for (int i = 0; !stop.get(); i++)
        {
            try (Socket s = new Socket())
            {
                s.connect(endpoint, 2000);
                s.setSoTimeout(5000);
                final OutputStream out = s.getOutputStream();
                out.write(requests[i % requests.length].getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                HttpAnswer.read(s);   // an answer or a close; silence fails the test
            }
            catch (final IOException refusedOrReset)
            {
                // an answer too
            }
            sent.incrementAndGet();
            Testpmd.sleep(100);
        }
    }

    private Process startPrometheus(final int metricsPort, final int webPort) throws IOException
    {
        final Path promConfig = dir.resolve("prometheus.yml");
        Files.writeString(promConfig, "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n" +
            "scrape_configs:\n" +
            "  - job_name: vswitch\n" +
            "    static_configs: [{targets: ['127.0.0.1:" + metricsPort + "']}]\n");
        // On CPU 0 with the housekeeping work, never beside the switch's PMD on CPU 1.
        return new ProcessBuilder("taskset", "-c", "0", "prometheus", "--config.file=" + promConfig,
            "--storage.tsdb.path=" + dir.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + webPort,
            "--log.level=warn").redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile())
            .start();
    }

    /** Waits until Prometheus has scraped the switch successfully a few times (so [5s] windows are full). */
    private void awaitPrometheusTarget(final String api, final Process prometheus) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int upScrapes = 0;
        while (upScrapes < 3)
        {
            if (!prometheus.isAlive() || System.nanoTime() > deadline)
            {
                throw new AssertionError("Prometheus did not scrape the switch:\n" +
                    Files.readString(dir.resolve("prometheus.log")));
            }
            Thread.sleep(1000);
            try
            {
                upScrapes = (int)query(api, "count_over_time(up{job=\"vswitch\"}[10s]) * " +
                    "(min_over_time(up{job=\"vswitch\"}[10s]))", System.currentTimeMillis());
            }
            catch (final IOException | AssertionError notYet)
            {
                upScrapes = 0;
            }
        }
    }

    /** An instant query's single value at {@code atMillis}. */
    private double query(final String api, final String promql, final long atMillis) throws Exception
    {
        final String body = get(api + URLEncoder.encode(promql, StandardCharsets.UTF_8) + "&time=" +
            String.format(Locale.ROOT, "%.3f", atMillis / 1000.0));
        final Matcher m = VALUE.matcher(body);
        if (!m.find())
        {
            throw new AssertionError("no single value for " + promql + ": " + body);
        }
        return Double.parseDouble(m.group(1));
    }

    private String get(final String url) throws IOException, InterruptedException
    {
        final HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url))
            .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200)
        {
            throw new IOException(url + ": HTTP " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    private void promtoolAccepts(final String text) throws Exception
    {
        final Path file = dir.resolve("metrics.txt");
        Files.writeString(file, text);
        final Process promtool = new ProcessBuilder("promtool", "check", "metrics").redirectInput(file.toFile())
            .redirectErrorStream(true).start();
        final String verdict = new String(promtool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(promtool.waitFor(30, TimeUnit.SECONDS), "promtool hung");
        assertEquals(0, promtool.exitValue(), "promtool check metrics: " + verdict);
    }

    /** The endpoint's threads (the JDK server's dispatcher, the request pool) never run on the PMD CPU 1. */
    private static void assertMetricsThreadsOffThePmdCpu(final long pid) throws IOException
    {
        int seen = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task")))
        {
            for (final Path task : tasks)
            {
                try
                {
                    final String comm = Files.readString(task.resolve("comm")).trim();
                    if (!comm.startsWith("metrics-http") && !comm.startsWith("HTTP-Dispatcher"))
                    {
                        continue;
                    }
                    for (final String line : Files.readAllLines(task.resolve("status")))
                    {
                        if (line.startsWith("Cpus_allowed_list:"))
                        {
                            seen++;
                            assertEquals("0", line.substring(18).trim(), comm + " may run on the PMD CPU");
                        }
                    }
                }
                catch (final NoSuchFileException exited)
                {
                    // a pool thread that ended between the listing and the read
                }
            }
        }
        assertTrue(seen >= 2, "found the dispatcher and at least one request thread: " + seen);
    }

    private static int freePort() throws IOException
    {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()))
        {
            return s.getLocalPort();
        }
    }
}
