package dev.vswitch.core;

import dev.vswitch.core.config.DatapathConfig;
import dev.vswitch.core.config.FdbConfig;
import dev.vswitch.core.config.IdleMode;
import dev.vswitch.core.config.MirrorConfig;
import dev.vswitch.core.config.PortConfig;
import dev.vswitch.core.config.PortType;
import dev.vswitch.core.config.SocketMode;
import dev.vswitch.core.config.SwitchConfig;
import dev.vswitch.core.control.PmdTasks;
import dev.vswitch.core.metrics.MetricsEndpoint;
import dev.vswitch.core.metrics.PollLatency;
import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.PmdAgent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SupervisedRunner;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.mirror.Mirror;
import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.stages.ForwardStage;
import dev.vswitch.pipeline.stages.MacAger;
import dev.vswitch.pipeline.stages.MacLearningStage;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageCounters;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.vlan.VlanIngressStage;
import dev.vswitch.pipeline.vlan.VlanMembership;
import dev.vswitch.tap.TapPort;
import dev.vswitch.vhost.DataPathWatchdog;
import dev.vswitch.vhost.VhostUserEndpoint;
import dev.vswitch.vhost.VhostUserPort;
import net.openhft.affinity.Affinity;
import org.HdrHistogram.Histogram;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.CompositeAgent;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.OffsetEpochNanoClock;
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
    /** The ports themselves, as built (control planes, closing). */
    private final SwitchPort[] rawPorts;
    /** The ports as the data path sees them: a mirrored port is its {@code MirroredPort} decorator. */
    private final SwitchPort[] ports;
    private final List<Mirror> mirrors = new ArrayList<>();
    /** The running port configuration by port id (slot); null for a free slot. See {@link LivePorts}. */
    private final PortConfig[] running;
    private final VlanMembership vlans;
    /** Changed by live port add/remove (control thread) while other threads look ports up. */
    private final List<VhostUserEndpoint> endpoints = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final MacTable fdb;
    private final Stage[] stages;
    private final PmdAgent pmd;
    /** Control-plane work the PMD runs between rounds (FDB writes from vswitchctl). */
    private final PmdTasks pmdTasks = new PmdTasks();
    private final SupervisedRunner pmdRunner;
    /** Counters stages registered for the metrics endpoint. */
    private final StageCounters stageCounters = new StageCounters();
    /** The one reader of the PMD's latency recorder (stats printer and metrics both ask it). */
    private final PollLatency latency;
    private MetricsEndpoint metrics;
    private Thread statsThread;
    /** Notices a front end that stops the data path, for every vhost-user port's control thread. */
    private DataPathWatchdog watchdog;
    private volatile boolean closed;

    private VSwitch(final SwitchConfig config) throws IOException
    {
        this.config = config;
        final List<PortConfig> portConfigs = config.ports();
        final DatapathConfig dp = config.datapath();
        // Spare slots for ports added live: ids stay stable, and the arrays the PMD and stages share never change.
        rawPorts = new SwitchPort[portConfigs.size() + config.control().sparePorts()];
        running = new PortConfig[rawPorts.length];
        for (int i = 0; i < rawPorts.length; i++)
        {
            if (i >= portConfigs.size())
            {
                rawPorts[i] = LivePorts.freeSlot(i);
                continue;
            }
            final PortConfig pc = portConfigs.get(i);
            running[i] = pc;
            rawPorts[i] = pc.type() == PortType.TAP ? openTap(i, pc, dp) : new VhostUserPort(i, pc.name(), dp.rxRetries(), pc.mtu());
        }
        ports = rawPorts.clone();
        final OffsetEpochNanoClock mirrorClock = new OffsetEpochNanoClock();
        for (final MirrorConfig mc : config.mirrors())
        {
            final int i = indexOf(mc.from());
            final Mirror mirror = Mirrors.create(mc, ports[i], mirrorClock);   // a second mirror of a port wraps the first
            mirrors.add(mirror);
            ports[i] = mirror.port();
        }
        final EpochClock clock = MacAger.monotonicClock();
        MacTable table = null;
        vlans = vlanMembership(portConfigs, rawPorts.length);
        try
        {
            table = openFdb(config.fdb(), portConfigs, rawPorts.length, clock);
            stages = Pipelines.create(config.pipeline(),
                new StageContext(ports, table, SystemNanoClock.INSTANCE, vlans, stageCounters));
        }
        catch (final IOException | RuntimeException ex)
        {
            // Nothing has started yet: give back what the constructor took (tap fds, the table's file).
            closeTaps();
            if (table != null)
            {
                table.close();
            }
            throw ex;
        }
        fdb = table;
        pmd = new PmdAgent("pmd-0", ports, stages, vlans, dp.ringSize(), dp.burst());
        latency = new PollLatency(pmd);
        // Aging and control-plane FDB writes run on the PMD thread, between rounds: the FDB has a single writer.
        final Agent datapath = config.fdb().agingSeconds() == 0 ? new CompositeAgent(pmd, pmdTasks) :
            new CompositeAgent(pmd, new MacAger(fdb, clock), pmdTasks);
        final int cpu = dp.cpus()[0];
        final IdleStrategy idle = dp.idle() == IdleMode.BUSY_SPIN ? new BusySpinIdleStrategy() :
            new BackoffIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1),
                TimeUnit.MICROSECONDS.toNanos(dp.maxParkMicros()));
        // Not AgentRunner: it ends the thread on any Error, and a guest can make HotSpot throw one (see the runner).
        pmdRunner = new SupervisedRunner(idle, this::onPmdError, new PinnedAgent(datapath, pmd.roleName(), cpu));
    }

    /** The FDB, with ports identified by name (so a persisted table survives edits) and the static entries. */
    private static MacTable openFdb(final FdbConfig fc, final List<PortConfig> portConfigs, final int slots,
        final EpochClock clock) throws IOException
    {
        final String[] names = new String[slots];
        for (int i = 0; i < names.length; i++)
        {
            names[i] = i < portConfigs.size() ? portConfigs.get(i).name() : LivePorts.freeSlotName(i);
        }
        final MacTable table = MacTable.open(fc.size(), fc.portLimit(), fc.agingSeconds(), names, fc.file(), clock);
        for (final FdbConfig.StaticMac s : fc.statics())
        {
            table.addStatic(s.vlan(), s.macBits(), List.of(names).indexOf(s.port()));
        }
        Log.info(LOG, "fdb: size " + fc.size() + ", port-limit " + fc.portLimit() + ", aging " +
            (fc.agingSeconds() == 0 ? "off" : fc.agingSeconds() + " s") + ", " + fc.statics().size() + " static, " +
            (fc.file() == null ? "in memory" : "file " + fc.file()));
        return table;
    }

    private int indexOf(final String portName)
    {
        for (int i = 0; i < rawPorts.length; i++)
        {
            if (rawPorts[i].name().equals(portName))
            {
                return i;
            }
        }
        throw new IllegalArgumentException("no port " + portName);
    }

    private static VlanMembership vlanMembership(final List<PortConfig> portConfigs, final int slots)
    {
        final VlanMembership vlans = new VlanMembership(slots);
        for (int i = 0; i < portConfigs.size(); i++)
        {
            final PortConfig pc = portConfigs.get(i);
            if (pc.isAccess())
            {
                vlans.access(i, pc.vlan());
            }
            else if (pc.isTrunk())
            {
                vlans.trunk(i, pc.trunk().stream().mapToInt(Integer::intValue).toArray());
            }
        }
        if (vlans.anyVlans())
        {
            for (int i = 0; i < portConfigs.size(); i++)
            {
                Log.info(portConfigs.get(i).name(), "vlan: " + vlans.describe(i));
            }
        }
        return vlans;
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
        // Writers first, so the PMD never copies into a ring nobody drains.
        for (final Mirror mirror : mirrors)
        {
            mirror.start();
        }
        final List<VhostUserPort> clientPorts = clientModePorts();
        if (!clientPorts.isEmpty())
        {
            pmd.hold(true);   // released by StartupHold once the client-mode ports are up
        }
        pmdRunner.start();
        watchdog = new DataPathWatchdog();
        for (int i = 0; i < config.ports().size(); i++)
        {
            final PortConfig pc = config.ports().get(i);
            if (pc.type() != PortType.VHOST_USER)
            {
                continue;
            }
            final VhostUserEndpoint endpoint = new VhostUserEndpoint((VhostUserPort)rawPorts[i], pc.socket(),
                pc.mode() == SocketMode.SERVER, pc.reconnectMillis(), pmd, watchdog);
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
        if (!clientPorts.isEmpty())
        {
            StartupHold.release(pmd, clientPorts, this, () -> closed);
        }
        final int interval = config.stats().intervalSeconds();
        if (interval > 0)
        {
            statsThread = new Thread(() -> statsLoop(interval), "stats");
            statsThread.setDaemon(true);
            statsThread.start();
        }
        if (config.metrics().enabled())
        {
            // Started from this thread, so its threads inherit the housekeeping CPUs, never a PMD's.
            metrics = MetricsEndpoint.start(config.metrics(), MetricsEndpoint.registry(this::portsInService, fdb, pmd,
                latency, this::mirrors, stageCounters));
            Log.info(LOG, "metrics: http://" + config.metrics().listen() + "/metrics");
        }
        Log.info(LOG, "started: " + config.ports().size() + " port(s), pipeline " + stageNames() + ", PMD on CPU " +
            cpus[0] + ", idle " + config.datapath().idle().name().toLowerCase().replace('_', '-'));
    }

    /** vhost-user ports in client mode: after a restart their front ends are there already, waiting for us. */
    private List<VhostUserPort> clientModePorts()
    {
        final List<VhostUserPort> list = new ArrayList<>();
        for (int i = 0; i < config.ports().size(); i++)   // the configured ones: spare slots follow them
        {
            final PortConfig pc = config.ports().get(i);
            if (pc.type() == PortType.VHOST_USER && pc.mode() == SocketMode.CLIENT)
            {
                list.add((VhostUserPort)rawPorts[i]);
            }
        }
        return list;
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
        pmd.onFault(t);   // logs, and quarantines the port to blame if there is one
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
        for (int i = 0; i < ports.length; i++)
        {
            if (running[i] != null)
            {
                final SwitchPort port = ports[i];
                Log.info(port.name(), (port.isUp() ? "up   " : "down ") + port.counters().summary());
            }
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
        for (final Mirror mirror : mirrors)
        {
            Log.info("mirror", mirror.summary());
        }
        final Histogram h = latency.sinceLastCall();
        Log.info(LOG, fdb.summary() + "; poll-to-publish ns p50=" + h.getValueAtPercentile(50) +
            " p99=" + h.getValueAtPercentile(99) + " max=" + h.getMaxValue() + " (" + h.getTotalCount() + " frames)");
        final long rounds = pmd.rounds();
        final long busy = pmd.busyRounds();
        Log.info(LOG, String.format("pmd rounds=%d busy=%d (%.1f%%) frames per busy round=%.1f", rounds, busy,
            rounds == 0 ? 0.0 : 100.0 * busy / rounds, busy == 0 ? 0.0 : (double)pmd.framesTaken() / busy));
    }

    public SwitchPort port(final String name)
    {
        for (int i = 0; i < ports.length; i++)
        {
            if (running[i] != null && ports[i].name().equals(name))
            {
                return ports[i];
            }
        }
        throw new IllegalArgumentException("no port " + name);
    }

    /** The ports in service now (not the spare slots kept for live adds): what the metrics endpoint reports. */
    private SwitchPort[] portsInService()
    {
        final List<SwitchPort> list = new ArrayList<>(ports.length);
        for (int i = 0; i < ports.length; i++)
        {
            if (running[i] != null)
            {
                list.add(ports[i]);
            }
        }
        return list.toArray(new SwitchPort[0]);
    }

    public PortCounters counters(final String name)
    {
        return port(name).counters();
    }

    /** The configured mirrors, in configuration order. */
    public List<Mirror> mirrors()
    {
        return List.copyOf(mirrors);
    }

    public MacTable fdb()
    {
        return fdb;
    }

    public PmdAgent pmd()
    {
        return pmd;
    }

    /** The reader of the PMD's poll-to-publish latency for everyone who shows it. */
    public PollLatency latency()
    {
        return latency;
    }

    // ---- read-only views and PMD task queue for the control socket (dev.vswitch.core.control)

    public SwitchConfig config()
    {
        return config;
    }

    /** The ports as the data path sees them, by port id. */
    public List<SwitchPort> ports()
    {
        return List.of(ports);
    }

    /** The port as built (a {@code VhostUserPort}, {@code TapPort} or {@code UnavailablePort}), by port id. */
    public SwitchPort rawPort(final int id)
    {
        return rawPorts[id];
    }

    /** Runs work on the PMD thread between rounds (for state the PMD is the only writer of). */
    public PmdTasks pmdTasks()
    {
        return pmdTasks;
    }

    /** The stages, in pipeline order. */
    public List<Stage> stages()
    {
        return List.of(stages);
    }

    /** Whether the vhost-user port {@code name} has a front end connected now. */
    public boolean isConnected(final String name)
    {
        for (final VhostUserEndpoint e : endpoints)
        {
            if (e.name().equals(name))
            {
                return e.isConnected();
            }
        }
        return false;
    }

    /** The running configuration of port id {@code id}, or null for a free slot. */
    public PortConfig portConfig(final int id)
    {
        return running[id];
    }

    /** Adds a vhost-user port while the switch forwards (see {@link LivePorts}); returns its port id. */
    public synchronized int addPort(final PortConfig pc) throws IOException
    {
        if (closed)
        {
            throw new IllegalStateException("the switch is stopping");
        }
        return LivePorts.add(this, pc);
    }

    /** Removes a vhost-user port while the switch forwards (see {@link LivePorts}). */
    public synchronized void removePort(final String name)
    {
        if (closed)
        {
            throw new IllegalStateException("the switch is stopping");
        }
        LivePorts.remove(this, name);
    }

    // Package-private state for LivePorts.
    SwitchPort[] dataPathPorts()
    {
        return ports;
    }

    SwitchPort[] builtPorts()
    {
        return rawPorts;
    }

    PortConfig[] runningPorts()
    {
        return running;
    }

    VlanMembership vlans()
    {
        return vlans;
    }

    List<VhostUserEndpoint> endpointList()
    {
        return endpoints;
    }

    DataPathWatchdog watchdog()
    {
        return watchdog;
    }

    boolean isMirrored(final String name)
    {
        for (final Mirror m : mirrors)
        {
            if (m.from().equals(name))
            {
                return true;
            }
        }
        return false;
    }

    // ---- end of control-socket views

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
        if (metrics != null)
        {
            metrics.close();
        }
        // Take no new frames and let the ones taken finish, so that ports going down one after the other do not
        // drop each other's frames: what is not taken stays in the front ends' rings for the next switch. Bounded:
        // a PMD wedged on a front end's call fd is freed by that port's control thread below.
        pmd.hold(true);
        if (!pmd.awaitQuiescent(TimeUnit.SECONDS.toNanos(1)))
        {
            Log.error(LOG, "data path did not finish a round within 1 s; stopping anyway");
        }
        // Control planes next: all told to stop at once, then each withdraws its rings (waiting for the PMD) and
        // unmaps guest memory.
        for (final VhostUserEndpoint e : endpoints)
        {
            e.stop();
        }
        for (final VhostUserEndpoint e : endpoints)
        {
            e.close();
        }
        if (watchdog != null)
        {
            watchdog.close();
        }
        pmdRunner.close();
        // No PMD copies into the mirror rings any more: each writer drains its ring, then closes its file or tap.
        for (final Mirror mirror : mirrors)
        {
            mirror.close();
        }
        // With the PMD stopped the counters are final; benchmarks and users read them from this last print.
        Log.info(LOG, "final counters:");
        printStats();
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
    private static final class PinnedAgent implements Agent
    {
        private final Agent delegate;
        private final String name;
        private final int cpu;

        PinnedAgent(final Agent delegate, final String name, final int cpu)
        {
            this.delegate = delegate;
            this.name = name;
            this.cpu = cpu;
        }

        @Override
        public void onStart()
        {
            try
            {
                // Not availableProcessors(): it counts this thread's current mask, which is the housekeeping set.
                final java.util.BitSet online = HousekeepingAffinity.onlineCpus();
                if (online == null || online.get(cpu))
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
            return name;
        }
    }
}
