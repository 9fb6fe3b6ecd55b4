package dev.vswitch.pipeline.spi;

import dev.vswitch.pipeline.SwitchPort;
import org.agrona.concurrent.NanoClock;

import java.util.function.LongSupplier;

/**
 * What a {@link StageFactory} may use to build its stage: the ports (by name and id), the switch's forwarding
 * database as an {@link FdbView}, the VLAN membership as a {@link VlanView}, counters ({@link StageCounter}) and a
 * clock. Port ids are the indexes of {@link #ports()} and the values of {@code PacketEvent.inPort/outPort}.
 * <p>
 * Everything a stage gets here is an interface, so the switch may change the classes behind them without breaking
 * a stage jar. Changed in 0.1 (issue 14): {@code macTable()} (the concrete {@code MacTable}) became {@link #fdb()},
 * {@code vlans()} returns a {@link VlanView} instead of {@code VlanMembership}, {@link StageCounter} is an
 * interface, and the switch-wide registry ({@code counters()}) is no longer handed to stages. A stage that used
 * {@code macTable().lookup/learn} or {@code vlans().carries/mode} only needs recompiling against
 * {@code fdb()}/{@code vlans()}; {@code counter(...)} is unchanged.
 */
public final class StageContext
{
    /** No port has a VLAN key: every port untagged, in VLAN 0. */
    private static final VlanView NO_VLANS = new VlanView()
    {
        @Override
        public int mode(final int port)
        {
            return UNTAGGED;
        }

        @Override
        public int accessVlan(final int port)
        {
            return NATIVE_VLAN;
        }

        @Override
        public boolean carries(final int port, final int vlan)
        {
            return vlan == NATIVE_VLAN;
        }

        @Override
        public boolean anyVlans()
        {
            return false;
        }
    };

    private final SwitchPort[] ports;
    private final FdbView fdb;
    private final NanoClock clock;
    private final VlanView vlans;
    private final StageCounters counters;
    /** The stage being built, as its counters are labelled; set by {@link #forStage}. */
    private final String stage;

    /** Every port untagged (no VLANs). */
    public StageContext(final SwitchPort[] ports, final FdbView fdb, final NanoClock clock)
    {
        this(ports, fdb, clock, NO_VLANS);
    }

    public StageContext(final SwitchPort[] ports, final FdbView fdb, final NanoClock clock,
        final VlanView vlans)
    {
        this(ports, fdb, clock, vlans, new StageCounters(), "stage");
    }

    /** With the switch's registry of stage counters (the metrics endpoint exports what stages register there). */
    public StageContext(final SwitchPort[] ports, final FdbView fdb, final NanoClock clock,
        final VlanView vlans, final StageCounters counters)
    {
        this(ports, fdb, clock, vlans, counters, "stage");
    }

    private StageContext(final SwitchPort[] ports, final FdbView fdb, final NanoClock clock,
        final VlanView vlans, final StageCounters counters, final String stage)
    {
        this.ports = ports;
        this.fdb = fdb;
        this.clock = clock;
        this.vlans = vlans;
        this.counters = counters;
        this.stage = stage;
    }

    /** The same context for building the stage called {@code stageName}: its counters carry that name. */
    public StageContext forStage(final String stageName)
    {
        return new StageContext(ports, fdb, clock, vlans, counters, stageName);
    }

    /** The name the stage being built is known by in metrics ({@code stage} label). */
    public String stageName()
    {
        return stage;
    }

    /**
     * Registers a counter of this stage for the metrics endpoint, exported as
     * {@code vswitch_stage_NAME_total{stage="...", LABELS}}; call from {@link StageFactory#create}, not per frame.
     * The stage increments the returned counter on the PMD thread (no allocation, no fence).
     *
     * @param name   lower-case {@code [a-z][a-z0-9_]*}, without {@code _total}.
     * @param labels name/value pairs, e.g. {@code "port", "vm1"}.
     * @throws IllegalArgumentException for a bad name or label, or the same counter registered twice.
     */
    public StageCounter counter(final String name, final String help, final String... labels)
    {
        return counters.counter(stage, name, help, labels);
    }

    /**
     * Registers a count the stage already keeps (e.g. an element of its own opaque counter array): {@code reader}
     * is called only when metrics are scraped, off the PMD thread.
     */
    public void counter(final String name, final String help, final LongSupplier reader, final String... labels)
    {
        counters.register(stage, name, help, reader, labels);
    }

    /** Which VLANs each port carries (access, trunk, or untagged in VLAN 0). Read-only. */
    public VlanView vlans()
    {
        return vlans;
    }

    /**
     * The switch's ports, indexed by id. Read-only use: a stage may call {@link SwitchPort#transmit} and read
     * counters from the PMD thread, but must not change the array.
     */
    public SwitchPort[] ports()
    {
        return ports;
    }

    public int portCount()
    {
        return ports.length;
    }

    public String portName(final int id)
    {
        return ports[id].name();
    }

    /** The id of the port called {@code name}, or -1 when there is none. */
    public int findPort(final String name)
    {
        for (int i = 0; i < ports.length; i++)
        {
            if (ports[i].name().equals(name))
            {
                return i;
            }
        }
        return -1;
    }

    /** The id of the port called {@code name}; an {@link IllegalArgumentException} listing the ports if none. */
    public int portId(final String name)
    {
        final int id = findPort(name);
        if (id < 0)
        {
            throw new IllegalArgumentException("no port '" + name + "'; ports: " + portNames());
        }
        return id;
    }

    /** The id of the port named by the string {@code field}; an error at the field's line if there is none. */
    public int portId(final StageSettings field)
    {
        final String name = field.string();
        final int id = findPort(name);
        if (id < 0)
        {
            throw field.error("no port '" + name + "'; ports: " + portNames());
        }
        return id;
    }

    public String portNames()
    {
        final StringBuilder sb = new StringBuilder();
        for (final SwitchPort p : ports)
        {
            sb.append(sb.length() == 0 ? "" : ", ").append(p.name());
        }
        return sb.toString();
    }

    /** The switch's learned MAC addresses (per VLAN); the built-in mac-learning and forward stages share it. */
    public FdbView fdb()
    {
        return fdb;
    }

    /** Monotonic nanoseconds; reading it does not allocate. Tests substitute a manual clock. */
    public NanoClock clock()
    {
        return clock;
    }
}
