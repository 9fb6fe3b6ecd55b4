package dev.vswitch.core.metrics;

import dev.vswitch.core.config.MetricsConfig;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PmdAgent;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageCounter;
import dev.vswitch.pipeline.spi.StageCounters;
import dev.vswitch.pipeline.stages.MacAger;
import dev.vswitch.pipeline.stages.MacTable;
import org.HdrHistogram.Histogram;
import org.agrona.concurrent.SystemNanoClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The metrics endpoint over a real PMD agent (driven on the test thread), a real MAC table and a stage that
 * registers counters through the stage SPI: what it serves, that promtool accepts it, that the port set is read at
 * every scrape, that the latency histogram and the stats printer do not steal each other's frames, and that
 * garbage, stalled and crowding clients leave it serving.
 */
class MetricsEndpointTest
{
    @TempDir
    Path dir;

    private final CountingPort vm1 = new CountingPort(0, "vm1");
    private final CountingPort vm2 = new CountingPort(1, "vm2");
    private final AtomicReference<SwitchPort[]> ports = new AtomicReference<>(new SwitchPort[] { vm1, vm2 });
    private MacTable fdb;
    private PmdAgent pmd;
    private PollLatency latency;
    private MetricsEndpoint endpoint;
    private HttpClient http;

    /** Drops every second frame as "filtered" and counts what it saw, through counters registered at build time. */
    private static final class EveryOtherStage implements Stage
    {
        private final StageCounter seen;
        private final StageCounter dropped;
        private boolean odd;

        EveryOtherStage(final StageContext context)
        {
            seen = context.counter("every_other_seen", "Frames the test stage saw");
            dropped = context.counter("every_other_dropped", "Frames the test stage dropped", "reason", "odd");
        }

        @Override
        public String name()
        {
            return "every-other";
        }

        @Override
        public void process(final PacketEvent event)
        {
            seen.increment();
            odd = !odd;
            if (odd)
            {
                dropped.increment();
                event.drop(DropReason.FILTERED);
            }
        }
    }

    @BeforeEach
    void start() throws IOException
    {
        fdb = MacTable.open(64, 16, 0, new String[] { "vm1", "vm2" }, null, MacAger.monotonicClock());
        final StageCounters stageCounters = new StageCounters();
        final StageContext context = new StageContext(ports.get(), fdb, SystemNanoClock.INSTANCE,
            new dev.vswitch.pipeline.vlan.VlanMembership(2), stageCounters).forStage("every-other");
        pmd = new PmdAgent("pmd-0", ports.get(), new Stage[] { new EveryOtherStage(context) }, 1024, 32);
        latency = new PollLatency(pmd);
        endpoint = MetricsEndpoint.start(new MetricsConfig("127.0.0.1", freePort()),
            MetricsEndpoint.registry(ports::get, fdb, pmd, latency, List::of, stageCounters));
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    }

    @AfterEach
    void stop()
    {
        endpoint.close();
        fdb.close();
    }

    @Test
    void servesCountersFromTheDataPathAndPromtoolAcceptsThem() throws Exception
    {
        vm1.pending = 100;
        while (vm1.pending > 0)
        {
            pmd.doWork();
        }
        fdb.learn(0, 0x020000000001L, 0);

        final String text = scrape();
        assertEquals(100, value(text, "vswitch_port_rx_packets_total{port=\"vm1\"}"), text);
        assertEquals(6400, value(text, "vswitch_port_rx_bytes_total{port=\"vm1\"}"));
        assertEquals(0, value(text, "vswitch_port_rx_packets_total{port=\"vm2\"}"));
        assertEquals(50, value(text, "vswitch_port_drops_total{port=\"vm1\",reason=\"filtered\"}"));
        assertEquals(0, value(text, "vswitch_port_drops_total{port=\"vm1\",reason=\"ring-full\"}"));
        assertEquals(1, value(text, "vswitch_port_up{port=\"vm1\"}"));
        assertEquals(0, value(text, "vswitch_port_up{port=\"vm2\"}"));
        assertEquals(100, value(text, "vswitch_stage_every_other_seen_total{stage=\"every-other\"}"));
        assertEquals(50, value(text, "vswitch_stage_every_other_dropped_total{reason=\"odd\",stage=\"every-other\"}"));
        assertEquals(1, value(text, "vswitch_fdb_entries"));
        assertEquals(1, value(text, "vswitch_fdb_learned_total"));
        assertEquals(1, value(text, "vswitch_fdb_port_entries{port=\"vm1\"}"));
        assertEquals(100, value(text, "vswitch_pmd_frames_total{pmd=\"pmd-0\"}"));
        assertTrue(value(text, "vswitch_pmd_busy_rounds_total{pmd=\"pmd-0\"}") >= 4, text);   // bursts of 32
        final double busy = value(text, "vswitch_pmd_busy_seconds_total{pmd=\"pmd-0\"}");
        assertTrue(busy > 0 && busy < 10, text);   // those rounds took some time, and less than the test
        assertEquals(100, value(text, "vswitch_pmd_poll_to_publish_seconds_count{pmd=\"pmd-0\"}"));
        assertEquals(100, value(text, "vswitch_pmd_poll_to_publish_seconds_bucket{pmd=\"pmd-0\",le=\"+Inf\"}"));
        assertTrue(value(text, "vswitch_pmd_poll_to_publish_seconds_sum{pmd=\"pmd-0\"}") > 0, text);

        final Path file = dir.resolve("metrics.txt");
        Files.writeString(file, text);
        final Process promtool = new ProcessBuilder("promtool", "check", "metrics").redirectInput(file.toFile())
            .redirectErrorStream(true).start();
        final String verdict = new String(promtool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(promtool.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, promtool.exitValue(), "promtool check metrics: " + verdict);
    }

    @Test
    void histogramAndStatsPrinterEachSeeEveryFrame() throws Exception
    {
        vm1.pending = 64;
        while (vm1.pending > 0)
        {
            pmd.doWork();
        }
        assertEquals(64, value(scrape(), "vswitch_pmd_poll_to_publish_seconds_count{pmd=\"pmd-0\"}"));
        // The scrape drained the recorder; the stats printer still gets those frames, and the next scrape too.
        assertEquals(64, latency.sinceLastCall().getTotalCount());
        vm2.pending = 10;
        while (vm2.pending > 0)
        {
            pmd.doWork();
        }
        assertEquals(10, latency.sinceLastCall().getTotalCount());
        assertEquals(74, value(scrape(), "vswitch_pmd_poll_to_publish_seconds_count{pmd=\"pmd-0\"}"));
    }

    /** `vswitchctl show pmd` took its window straight from the recorder: those frames never reached the others. */
    @Test
    void aShowPmdWindowTakesNoFramesFromTheHistogramOrTheStatsLine() throws Exception
    {
        final Histogram mark = latency.cumulative();
        vm1.pending = 20;
        while (vm1.pending > 0)
        {
            pmd.doWork();
        }
        assertEquals(20, latency.since(mark).getTotalCount());
        assertEquals(20, latency.sinceLastCall().getTotalCount());
        assertEquals(20, value(scrape(), "vswitch_pmd_poll_to_publish_seconds_count{pmd=\"pmd-0\"}"));
    }

    @Test
    void portSetIsReadAtEveryScrape() throws Exception
    {
        assertTrue(scrape().contains("vswitch_port_rx_packets_total{port=\"vm2\"}"));
        final CountingPort vm3 = new CountingPort(2, "vm3");
        vm3.counters().add(dev.vswitch.pipeline.PortCounters.RX_PACKETS, 7);
        ports.set(new SwitchPort[] { vm1, vm3 });   // vm2 removed, vm3 added while running
        final String text = scrape();
        assertEquals(7, value(text, "vswitch_port_rx_packets_total{port=\"vm3\"}"), text);
        assertTrue(!text.contains("port=\"vm2\""), text);
        assertEquals(2, value(text, "vswitch_ports"));
    }

    @Test
    void anAddressInUseIsAStartErrorNamingIt() throws Exception
    {
        final MetricsConfig taken = new MetricsConfig("127.0.0.1", endpoint.port());
        final IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
            () -> MetricsEndpoint.start(taken, endpoint.registry()));
        assertTrue(e.getMessage().startsWith("metrics: cannot listen on 127.0.0.1:" + endpoint.port() + ": "),
            e.getMessage());
        assertTrue(scrape().contains("vswitch_ports"), "the running endpoint is untouched");
    }

    @Test
    void garbageStalledAndCrowdingClientsLeaveItServing() throws Exception
    {
        final InetSocketAddress address = new InetSocketAddress("127.0.0.1", endpoint.port());
        final List<Socket> held = new ArrayList<>();
        try
        {
            // Say nothing at all; send half a request and stall; send garbage; send a 1 MB header line.
            for (int i = 0; i < 50; i++)
            {
                held.add(connect(address));
            }
            final List<Socket> stalled = new ArrayList<>();
            for (int i = 0; i < 8; i++)
            {
                final Socket s = connect(address);
                s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
                stalled.add(s);
                held.add(s);
            }
            for (final String garbage : List.of("\u0000\u0001\u0002 nonsense\r\n\r\n", "BREW /pot HTCPCP/1.0\r\n\r\n",
                "GET /metrics HTTP/9.9 extra words\r\n\r\n", "GET " + "x".repeat(100_000) + " HTTP/1.1\r\n\r\n"))
            {
                try (Socket s = connect(address))
                {
                    s.getOutputStream().write(garbage.getBytes(StandardCharsets.ISO_8859_1));
                    s.getOutputStream().flush();
                    drain(s);   // an error status or a closed connection; either way no hang (read timeout)
                }
            }
            try (Socket s = connect(address))
            {
                final OutputStream out = s.getOutputStream();
                out.write("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ".getBytes(StandardCharsets.US_ASCII));
                try
                {
                    final byte[] chunk = "y".repeat(64 * 1024).getBytes(StandardCharsets.US_ASCII);
                    for (int i = 0; i < 16; i++)
                    {
                        out.write(chunk);
                    }
                    out.write("\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    drain(s);
                }
                catch (final IOException closedOnUs)
                {
                    // the server may refuse the header and close while we still write: that is fine
                }
            }
            // With all of that going on, a scrape is served at once.
            final long t0 = System.nanoTime();
            assertTrue(scrape().contains("vswitch_port_rx_packets_total"));
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(1), "scrape took too long");

            // The stalled half-requests are cut off after the request time limit.
            for (final Socket s : stalled)
            {
                s.setSoTimeout((MetricsEndpoint.MAX_REQUEST_SECONDS + 5) * 1000);
                try
                {
                    final InputStream in = s.getInputStream();
                    while (in.read() >= 0)
                    {
                        // the server may answer with an error first; then it closes
                    }
                }
                catch (final SocketTimeoutException ex)
                {
                    throw new AssertionError("a stalled client was still connected after " +
                        (MetricsEndpoint.MAX_REQUEST_SECONDS + 5) + " s", ex);
                }
                catch (final IOException reset)
                {
                    // closed by the server
                }
            }

            // Many concurrent scrapers: each is served or turned away; none hangs, and afterwards it serves.
            final ExecutorService crowd = Executors.newFixedThreadPool(64);
            try
            {
                final List<Future<Integer>> results = new ArrayList<>();
                for (int i = 0; i < 200; i++)
                {
                    results.add(crowd.submit(() ->
                    {
                        try
                        {
                            return http.send(request(), HttpResponse.BodyHandlers.ofString()).statusCode();
                        }
                        catch (final IOException refused)
                        {
                            return -1;
                        }
                    }));
                }
                int served = 0;
                for (final Future<Integer> f : results)
                {
                    served += f.get(30, TimeUnit.SECONDS) == 200 ? 1 : 0;
                }
                assertTrue(served > 0, "no scraper of the crowd was served");
            }
            finally
            {
                crowd.shutdownNow();
            }
            assertTrue(scrape().contains("vswitch_pmd_rounds_total"));
            assertTrue(metricsThreads() <= MetricsEndpoint.MAX_THREADS + 1, "metrics threads: " + metricsThreads());
        }
        finally
        {
            for (final Socket s : held)
            {
                s.close();
            }
        }
    }

    private static long metricsThreads()
    {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("metrics-http")).count();
    }

    private static Socket connect(final InetSocketAddress address) throws IOException
    {
        final Socket s = new Socket();
        s.connect(address, 2000);
        s.setSoTimeout(5000);
        return s;
    }

    /** An answer or a close, not silence (see {@link HttpAnswer}). */
    private static void drain(final Socket s) throws IOException
    {
        HttpAnswer.read(s);
    }

    private HttpRequest request()
    {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + endpoint.port() + "/metrics"))
            .timeout(Duration.ofSeconds(5)).build();
    }

    private String scrape() throws IOException, InterruptedException
    {
        final HttpResponse<String> response = http.send(request(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return response.body();
    }

    /** The value of the sample {@code series} (name with labels, as printed) in exposition text. */
    static double value(final String text, final String series)
    {
        final Matcher m = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE).matcher(text);
        if (!m.find())
        {
            throw new AssertionError("no sample " + series + " in:\n" + text);
        }
        return Double.parseDouble(m.group(1));
    }

    static int freePort() throws IOException
    {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()))
        {
            return s.getLocalPort();
        }
    }
}
