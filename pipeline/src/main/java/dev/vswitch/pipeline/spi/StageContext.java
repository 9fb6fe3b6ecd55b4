package dev.vswitch.pipeline.spi;

import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.vlan.VlanMembership;
import org.agrona.concurrent.NanoClock;

import java.util.function.LongSupplier;

/**
 * What a {@link StageFactory} may use to build its stage: the ports (by name and id), the switch's MAC table, and
 * a clock. Port ids are the indexes of {@link #ports()} and the values of {@code PacketEvent.inPort/outPort}.
 */
public final class StageContext
{
    private final SwitchPort[] ports;
    private final MacTable macTable;
    private final NanoClock clock;
    private final VlanMembership vlans;
    private final StageCounters counters;
    /** The stage being built, as its counters are labelled; set by {@link #forStage}. */
    private final String stage;

    /** Every port untagged (no VLANs). */
    public StageContext(final SwitchPort[] ports, final MacTable macTable, final NanoClock clock)
    {
        this(ports, macTable, clock, new VlanMembership(ports.length));
    }

    public StageContext(final SwitchPort[] ports, final MacTable macTable, final NanoClock clock,
        final VlanMembership vlans)
    {
        this(ports, macTable, clock, vlans, new StageCounters(), "stage");
    }

    /** With the switch's registry of stage counters (the metrics endpoint exports what stages register there). */
    public StageContext(final SwitchPort[] ports, final MacTable macTable, final NanoClock clock,
        final VlanMembership vlans, final StageCounters counters)
    {
        this(ports, macTable, clock, vlans, counters, "stage");
    }

    private StageContext(final SwitchPort[] ports, final MacTable macTable, final NanoClock clock,
        final VlanMembership vlans, final StageCounters counters, final String stage)
    {
        this.ports = ports;
        this.macTable = macTable;
        this.clock = clock;
        this.vlans = vlans;
        this.counters = counters;
        this.stage = stage;
    }

    /** The same context for building the stage called {@code stageName}: its counters carry that name. */
    public StageContext forStage(final String stageName)
    {
        return new StageContext(ports, macTable, clock, vlans, counters, stageName);
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

    /** Every stage's registered counters. */
    public StageCounters counters()
    {
        return counters;
    }

    /** Which VLANs each port carries (access, trunk, or untagged in VLAN 0). Read-only. */
    public VlanMembership vlans()
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
    public MacTable macTable()
    {
        return macTable;
    }

    /** Monotonic nanoseconds; reading it does not allocate. Tests substitute a manual clock. */
    public NanoClock clock()
    {
        return clock;
    }
}
