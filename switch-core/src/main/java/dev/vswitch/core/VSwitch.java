package dev.vswitch.core;

import dev.vswitch.core.config.DatapathConfig;
import dev.vswitch.core.config.IdleMode;
import dev.vswitch.core.config.PortConfig;
import dev.vswitch.core.config.PortType;
import dev.vswitch.core.config.SocketMode;
import dev.vswitch.core.config.SwitchConfig;
import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.PmdAgent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.tap.TapPort;
import dev.vswitch.vhost.VhostUserEndpoint;
import dev.vswitch.vhost.VhostUserPort;
import net.openhft.affinity.Affinity;
import org.HdrHistogram.Histogram;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SystemNanoClock;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The switch as a running thing: ports built from the configuration, one PMD thread running the pipeline to
 * completion over all of them, a control thread per vhost-user port, and a stats printer. {@link #close()} undoes
 * all of it: sockets unlinked, guest memory unmapped, threads joined.
 */
public final class VSwitch implements AutoCloseable
{
    private static final String LOG = "switch";

    private final SwitchConfig config;
    private final SwitchPort[] ports;
    private final List<VhostUserEndpoint> endpoints = new ArrayList<>();
    private final MacTable fdb;
    private final Stage[] stages;
    private final PmdAgent pmd;
    private final AgentRunner pmdRunner;
    private Thread statsThread;
    private volatile boolean closed;

    private VSwitch(final SwitchConfig config) throws IOException
    {
        this.config = config;
        final List<PortConfig> portConfigs = config.ports();
        final DatapathConfig dp = config.datapath();
        ports = new SwitchPort[portConfigs.size()];
        for (int i = 0; i < ports.length; i++)
        {
            final PortConfig pc = portConfigs.get(i);
            ports[i] = pc.type() == PortType.TAP ? openTap(i, pc, dp) : new VhostUserPort(i, pc.name(), dp.rxRetries(), pc.mtu());
        }
        fdb = config.fdb().file() == null ? MacTable.inMemory(config.fdb().size()) :
            MacTable.persisted(config.fdb().size(), config.fdb().file());
        try
        {
            stages = Pipelines.create(config.pipeline(), new StageContext(ports, fdb, SystemNanoClock.INSTANCE));
        }
        catch (final RuntimeException ex)
        {
            // Nothing has started yet: give back what the constructor took (tap fds, the table's file).
            closeTaps();
            fdb.close();
            throw ex;
        }
        pmd = new PmdAgent("pmd-0", ports, stages, dp.ringSize(), dp.burst());
        final int cpu = dp.cpus()[0];
        final IdleStrategy idle = dp.idle() == IdleMode.BUSY_SPIN ? new BusySpinIdleStrategy() :
            new BackoffIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1),
                TimeUnit.MICROSECONDS.toNanos(dp.maxParkMicros()));
        pmdRunner = new AgentRunner(idle, this::onPmdError, null, new PinnedAgent(pmd, cpu));
    }

    /** A TAP the kernel refuses is logged and stands down; the other ports still come up. */
    private static SwitchPort openTap(final int id, final PortConfig pc, final DatapathConfig dp)
    {
        try
        {
            // Offloads on: the kernel takes and hands over partial checksums and TCP super-frames; a peer port
            // that cannot take them gets them completed or segmented by the switch.
            final TapPort tap = TapPort.open(id, pc.name(), pc.ifname(), pc.mtu(), pc.mac(), pc.up(), dp.burst(), true);
            Log.info(pc.name(), "tap " + tap.ifname() + " open: mtu " + tap.mtu() + ", mac " + tap.mac() +
                (pc.up() ? ", up" : ""));
            return tap;
        }
        catch (final IOException | RuntimeException ex)
        {
            Log.error(pc.name(), ex.getMessage() + "; port stays down, the other ports start");
            return new UnavailablePort(id, pc.name(), ex.getMessage());
        }
    }

    /** Builds and starts everything; on failure nothing is left running or bound. */
    public static VSwitch start(final SwitchConfig config) throws IOException
    {
        final VSwitch sw = new VSwitch(config);
        try
        {
            sw.startAll();
        }
        catch (final IOException | RuntimeException ex)
        {
            sw.close();
            throw ex;
        }
        return sw;
    }

    private void startAll() throws IOException
    {
        final int[] cpus = config.datapath().cpus();
        if (cpus.length > 1)
        {
            Log.warn(LOG, "datapath.cpus lists " + cpus.length + " CPUs; this version runs one PMD thread " +
                "(run-to-completion) on CPU " + cpus[0]);
        }
        AgentRunner.startOnThread(pmdRunner);
        for (int i = 0; i < ports.length; i++)
        {
            final PortConfig pc = config.ports().get(i);
            if (pc.type() != PortType.VHOST_USER)
            {
                continue;
            }
            final VhostUserEndpoint endpoint = new VhostUserEndpoint((VhostUserPort)ports[i], pc.socket(),
                pc.mode() == SocketMode.SERVER, pc.reconnectMillis(), pmd);
            endpoints.add(endpoint);
            try
            {
                endpoint.start();
            }
            catch (final IOException ex)
            {
                throw new IOException("port " + pc.name() + ": cannot " +
                    (pc.mode() == SocketMode.SERVER ? "listen on " : "use ") + pc.socket() + ": " + ex.getMessage(), ex);
            }
            if (pc.mode() == SocketMode.CLIENT)
            {
                Log.info(pc.name(), "connecting to " + pc.socket() + " (retrying every " + pc.reconnectMillis() + " ms)");
            }
        }
        final int interval = config.stats().intervalSeconds();
        if (interval > 0)
        {
            statsThread = new Thread(() -> statsLoop(interval), "stats");
            statsThread.setDaemon(true);
            statsThread.start();
        }
        Log.info(LOG, "started: " + ports.length + " port(s), pipeline " + stageNames() + ", PMD on CPU " + cpus[0] +
            ", idle " + config.datapath().idle().name().toLowerCase().replace('_', '-'));
    }

    private String stageNames()
    {
        final StringBuilder sb = new StringBuilder();
        for (final Stage s : stages)
        {
            sb.append(sb.length() == 0 ? "" : " -> ").append(s.name());
        }
        return sb.toString();
    }

    private void onPmdError(final Throwable t)
    {
        Log.error(LOG, "data path error: " + t);
    }

    private void statsLoop(final int intervalSeconds)
    {
        while (!closed)
        {
            try
            {
                Thread.sleep(intervalSeconds * 1000L);
            }
            catch (final InterruptedException ex)
            {
                return;
            }
            if (!closed)
            {
                printStats();
            }
        }
    }

    public void printStats()
    {
        for (final SwitchPort port : ports)
        {
            Log.info(port.name(), (port.isUp() ? "up   " : "down ") + port.counters().summary());
        }
        final StringBuilder line = new StringBuilder(256);
        for (final Stage s : stages)
        {
            line.setLength(0);
            s.report(line);
            if (line.length() > 0)
            {
                Log.info(s.name(), line.toString());
            }
        }
        final Histogram h = pmd.intervalLatency();
        Log.info(LOG, "fdb " + fdb.size() + " entries; poll-to-publish ns p50=" + h.getValueAtPercentile(50) +
            " p99=" + h.getValueAtPercentile(99) + " max=" + h.getMaxValue() + " (" + h.getTotalCount() + " frames)");
    }

    public SwitchPort port(final String name)
    {
        for (final SwitchPort p : ports)
        {
            if (p.name().equals(name))
            {
                return p;
            }
        }
        throw new IllegalArgumentException("no port " + name);
    }

    public PortCounters counters(final String name)
    {
        return port(name).counters();
    }

    public MacTable fdb()
    {
        return fdb;
    }

    public PmdAgent pmd()
    {
        return pmd;
    }

    public VhostUserEndpoint endpoint(final String name)
    {
        for (final VhostUserEndpoint e : endpoints)
        {
            if (e.name().equals(name))
            {
                return e;
            }
        }
        throw new IllegalArgumentException("no vhost-user port " + name);
    }

    @Override
    public synchronized void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        // Control planes first: each withdraws its rings (waiting for the PMD) and unmaps guest memory.
        for (final VhostUserEndpoint e : endpoints)
        {
            e.close();
        }
        pmdRunner.close();
        // Only now, with no PMD left to write to them, may tap fds be closed (a reused fd number would be hit).
        closeTaps();
        if (statsThread != null)
        {
            statsThread.interrupt();
        }
        for (final Stage s : stages)
        {
            s.close();
        }
        fdb.close();
        Log.info(LOG, "stopped");
    }

    private void closeTaps()
    {
        for (final SwitchPort port : ports)
        {
            if (port instanceof TapPort)
            {
                ((TapPort)port).close();
            }
        }
    }

    /** The first stage called {@code name} (e.g. "acl"), for tests and tools reading its counters. */
    public Stage stage(final String name)
    {
        for (final Stage s : stages)
        {
            if (s.name().equals(name))
            {
                return s;
            }
        }
        throw new IllegalArgumentException("no stage " + name + " in the pipeline " + stageNames());
    }

    /** Pins the PMD thread to its CPU when it starts; a failure to pin is logged, not fatal. */
    private static final class PinnedAgent implements org.agrona.concurrent.Agent
    {
        private final PmdAgent delegate;
        private final int cpu;

        PinnedAgent(final PmdAgent delegate, final int cpu)
        {
            this.delegate = delegate;
            this.cpu = cpu;
        }

        @Override
        public void onStart()
        {
            try
            {
                if (cpu < Runtime.getRuntime().availableProcessors())
                {
                    Affinity.setAffinity(cpu);
                }
                else
                {
                    Log.warn(LOG, "CPU " + cpu + " does not exist here; PMD thread not pinned");
                }
            }
            catch (final RuntimeException | LinkageError ex)
            {
                Log.warn(LOG, "could not pin PMD thread to CPU " + cpu + ": " + ex);
            }
            delegate.onStart();
        }

        @Override
        public int doWork() throws Exception
        {
            return delegate.doWork();
        }

        @Override
        public void onClose()
        {
            delegate.onClose();
        }

        @Override
        public String roleName()
        {
            return delegate.roleName();
        }
    }
}
