package dev.vswitch.pipeline.spi;

import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.vlan.VlanMembership;
import org.agrona.concurrent.NanoClock;

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

    /** Every port untagged (no VLANs). */
    public StageContext(final SwitchPort[] ports, final MacTable macTable, final NanoClock clock)
    {
        this(ports, macTable, clock, new VlanMembership(ports.length));
    }

    public StageContext(final SwitchPort[] ports, final MacTable macTable, final NanoClock clock,
        final VlanMembership vlans)
    {
        this.ports = ports;
        this.macTable = macTable;
        this.clock = clock;
        this.vlans = vlans;
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
