package dev.vswitch.core;

import dev.vswitch.core.config.PortConfig;
import dev.vswitch.core.config.PortType;
import dev.vswitch.core.config.SocketMode;
import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.vlan.VlanIngressStage;
import dev.vswitch.pipeline.vlan.VlanMembership;
import dev.vswitch.vhost.VhostUserEndpoint;
import dev.vswitch.vhost.VhostUserPort;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Ports added and removed while the switch forwards ({@code vswitchctl port add / port del}).
 * <p>
 * The switch is built with {@code control.spare-ports} free port slots after the configured ports: the port arrays the PMD
 * and the stages share keep their length, and a port id means one port for as long as it exists. A free slot holds a
 * port that is never up and never receives, so the PMD skips it at the cost of one call per round.
 * <p>
 * Every change of data-path state (the port arrays, the FDB's id-to-name map, VLAN membership) is made on the PMD
 * thread between rounds ({@code PmdTasks}): the PMD is the only writer of what it reads. Removal first closes the
 * port's control plane (rings withdrawn behind the quiescence barrier, guest memory unmapped, socket removed), then,
 * in one PMD task, swaps in a free slot and forgets the port's FDB entries, so when the id is reused no entry of the
 * old port can send a frame to the new one.
 */
final class LivePorts
{
    private static final String LOG = "switch";

    private LivePorts()
    {
    }

    static SwitchPort freeSlot(final int id)
    {
        return new UnavailablePort(id, freeSlotName(id), "free slot for a port added live");
    }

    /** Not a valid port name (the YAML allows A-Z a-z 0-9 _ . -), so no port can take it. */
    static String freeSlotName(final int id)
    {
        return "#free-" + id;
    }

    static int add(final VSwitch sw, final PortConfig pc) throws IOException
    {
        if (pc.type() != PortType.VHOST_USER)
        {
            throw new IllegalArgumentException("only vhost-user ports can be added live; a " +
                pc.type().name().toLowerCase() + " port needs the YAML and a restart");
        }
        final PortConfig[] running = sw.runningPorts();
        final Path socket = pc.socket().toAbsolutePath().normalize();
        int slot = -1;
        for (int i = 0; i < running.length; i++)
        {
            final PortConfig other = running[i];
            if (other == null)
            {
                slot = slot < 0 ? i : slot;
                continue;
            }
            if (other.name().equals(pc.name()))
            {
                throw new IllegalArgumentException("port " + pc.name() + " exists already");
            }
            if (other.socket() != null && other.socket().toAbsolutePath().normalize().equals(socket))
            {
                throw new IllegalArgumentException("socket " + pc.socket() + " is port " + other.name() + "'s");
            }
        }
        if (socket.equals(sw.config().control().socket().toAbsolutePath().normalize()))
        {
            throw new IllegalArgumentException("socket " + pc.socket() + " is the control socket");
        }
        if (slot < 0)
        {
            throw new IllegalStateException("no free port slot: this switch takes " +
                sw.config().control().sparePorts() + " ports beyond its configuration (control.spare-ports; " +
                "remove one, or add the port to the YAML and restart)");
        }
        if ((pc.isAccess() || pc.isTrunk()) && !hasVlanStage(sw))
        {
            throw new IllegalStateException("port " + pc.name() + " has VLAN settings, but the switch started " +
                "without VLAN ports and so without the vlan stage: add it to the YAML and restart");
        }
        final int id = slot;
        final VhostUserPort port = new VhostUserPort(id, pc.name(), sw.config().datapath().rxRetries(), pc.mtu());
        final MacTable fdb = sw.fdb();
        final VlanMembership vlans = sw.vlans();
        sw.pmdTasks().call(() ->
        {
            fdb.forgetPort(id);
            fdb.renamePort(id, pc.name());
            setVlans(vlans, id, pc);
            sw.builtPorts()[id] = port;
            sw.dataPathPorts()[id] = port;
            sw.pmd().portsChanged();
            return null;
        });
        running[id] = pc;
        final boolean server = pc.mode() == SocketMode.SERVER;
        final VhostUserEndpoint endpoint = new VhostUserEndpoint(port, pc.socket(), server, pc.reconnectMillis(),
            sw.pmd(), sw.watchdog());
        try
        {
            endpoint.start();
        }
        catch (final IOException | RuntimeException ex)
        {
            endpoint.close();
            free(sw, id);
            throw new IOException("port " + pc.name() + ": cannot " + (server ? "listen on " : "use ") +
                pc.socket() + ": " + ex.getMessage(), ex);
        }
        sw.endpointList().add(endpoint);
        Log.info(LOG, "port " + pc.name() + " added live as port " + id + " (" + (server ? "listening on " :
            "connecting to ") + pc.socket() + ")");
        return id;
    }

    static void remove(final VSwitch sw, final String name)
    {
        final PortConfig[] running = sw.runningPorts();
        int slot = -1;
        for (int i = 0; i < running.length; i++)
        {
            if (running[i] != null && running[i].name().equals(name))
            {
                slot = i;
            }
        }
        if (slot < 0)
        {
            throw new IllegalArgumentException("no port '" + name + "'");
        }
        if (running[slot].type() != PortType.VHOST_USER)
        {
            throw new IllegalStateException("only vhost-user ports can be removed live; remove " + name +
                " from the YAML and restart");
        }
        if (sw.isMirrored(name))
        {
            throw new IllegalStateException("port " + name + " is mirrored; remove the mirror from the YAML and " +
                "restart first");
        }
        VhostUserEndpoint endpoint = null;
        for (final VhostUserEndpoint e : sw.endpointList())
        {
            if (e.name().equals(name))
            {
                endpoint = e;
            }
        }
        if (endpoint != null)
        {
            // Disconnects the front end, withdraws the rings behind the PMD barrier, unmaps guest memory, removes
            // the socket file.
            endpoint.close();
            sw.endpointList().remove(endpoint);
        }
        free(sw, slot);
        Log.info(LOG, "port " + name + " removed live (port " + slot + " is free)");
    }

    private static void free(final VSwitch sw, final int id)
    {
        final SwitchPort free = freeSlot(id);
        final MacTable fdb = sw.fdb();
        final VlanMembership vlans = sw.vlans();
        sw.pmdTasks().call(() ->
        {
            sw.dataPathPorts()[id] = free;
            sw.builtPorts()[id] = free;
            sw.pmd().portsChanged();
            fdb.forgetPort(id);
            fdb.renamePort(id, freeSlotName(id));
            vlans.untagged(id);
            return null;
        });
        sw.runningPorts()[id] = null;
    }

    private static void setVlans(final VlanMembership vlans, final int id, final PortConfig pc)
    {
        if (pc.isAccess())
        {
            vlans.access(id, pc.vlan());
        }
        else if (pc.isTrunk())
        {
            vlans.trunk(id, pc.trunk().stream().mapToInt(Integer::intValue).toArray());
        }
        else
        {
            vlans.untagged(id);
        }
    }

    private static boolean hasVlanStage(final VSwitch sw)
    {
        for (final Stage s : sw.stages())
        {
            if (s.name().equals(VlanIngressStage.NAME))
            {
                return true;
            }
        }
        return false;
    }
}
