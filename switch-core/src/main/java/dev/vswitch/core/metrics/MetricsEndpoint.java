package dev.vswitch.core.metrics;

import dev.vswitch.core.config.MetricsConfig;
import dev.vswitch.pipeline.PmdAgent;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.mirror.Mirror;
import dev.vswitch.pipeline.spi.StageCounters;
import dev.vswitch.pipeline.stages.MacTable;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The Prometheus endpoint ({@code GET /metrics}, also {@code /-/healthy}), served by the official client's
 * JDK-HttpServer exporter. Everything it reports is read at scrape time from counters the data path keeps anyway;
 * it adds nothing per frame.
 * <p>
 * Its threads (the server's dispatcher and a small fixed pool) are created by the thread that starts the switch,
 * so they inherit the housekeeping CPU set and never run on a PMD CPU. Hostile clients are bounded: a request must
 * arrive whole within {@link #MAX_REQUEST_SECONDS} (a client that sends part of a request and stalls holds a
 * thread that long, then is disconnected; one that says nothing holds no thread at all), at most
 * {@link #MAX_THREADS} requests are read at once, and a request beyond that has its connection closed at once
 * (no queue: a queued request's time limit would only start when a thread took it, so a queue of stalled clients
 * would shut scrapes out for the queue's length times the limit).
 */
public final class MetricsEndpoint implements AutoCloseable
{
    static final int CORE_THREADS = 2;
    static final int MAX_THREADS = 32;
    static final int MAX_REQUEST_SECONDS = 2;
    static final int MAX_RESPONSE_SECONDS = 10;
    static final int MAX_CONNECTIONS = 256;

    private final HTTPServer server;
    private final ThreadPoolExecutor executor;
    private final PrometheusRegistry registry;

    private MetricsEndpoint(final HTTPServer server, final ThreadPoolExecutor executor,
        final PrometheusRegistry registry)
    {
        this.server = server;
        this.executor = executor;
        this.registry = registry;
    }

    /** The collectors of a switch's state, each asking for the current ports and mirrors at every scrape. */
    public static PrometheusRegistry registry(final Supplier<SwitchPort[]> ports, final MacTable fdb,
        final PmdAgent pmd, final PollLatency latency, final Supplier<List<Mirror>> mirrors,
        final StageCounters stageCounters)
    {
        final PrometheusRegistry registry = new PrometheusRegistry();
        registry.register(new PortMetrics(ports));
        registry.register(new FdbMetrics(fdb, ports));
        registry.register(new PmdMetrics(pmd, latency));
        registry.register(new MirrorMetrics(mirrors));
        registry.register(new StageMetrics(stageCounters));
        return registry;
    }

    /** Listens on {@code config}'s address; an address in use or not of this machine is an {@link IOException}. */
    public static MetricsEndpoint start(final MetricsConfig config, final PrometheusRegistry registry)
        throws IOException
    {
        limitRequestTimes();
        final AtomicInteger threadNumber = new AtomicInteger();
        final ThreadPoolExecutor executor = new ThreadPoolExecutor(CORE_THREADS, MAX_THREADS, 30, TimeUnit.SECONDS,
            new SynchronousQueue<>(), r ->
            {
                final Thread t = new Thread(r, "metrics-http-" + threadNumber.incrementAndGet());
                t.setDaemon(true);
                return t;
            },
            // The JDK server closes the connection of a request the pool refuses: overload sheds scrapers, it
            // never blocks the dispatcher (which would stall every other client).
            new ThreadPoolExecutor.AbortPolicy());
        try
        {
            final HTTPServer server = HTTPServer.builder()
                .hostname(config.host())
                .port(config.port())
                .registry(registry)
                .executorService(executor)
                .buildAndStart();
            return new MetricsEndpoint(server, executor, registry);
        }
        catch (final IOException | RuntimeException ex)
        {
            executor.shutdownNow();
            throw new IOException("metrics: cannot listen on " + config.listen() + ": " + ex.getMessage(), ex);
        }
    }

    /**
     * The JDK server reads these once, when its first instance starts; by default a request may take forever to
     * arrive, which lets a stalled client hold a pool thread for good. An operator's own -D setting wins.
     */
    private static void limitRequestTimes()
    {
        System.getProperties().putIfAbsent("sun.net.httpserver.maxReqTime", Integer.toString(MAX_REQUEST_SECONDS));
        System.getProperties().putIfAbsent("sun.net.httpserver.maxRspTime", Integer.toString(MAX_RESPONSE_SECONDS));
        System.getProperties().putIfAbsent("jdk.httpserver.maxConnections", Integer.toString(MAX_CONNECTIONS));
    }

    public PrometheusRegistry registry()
    {
        return registry;
    }

    /** The port actually bound. */
    public int port()
    {
        return server.getPort();
    }

    @Override
    public void close()
    {
        server.close();   // stops the dispatcher and, as it was handed over, shuts the pool down
        executor.shutdownNow();
    }
}
