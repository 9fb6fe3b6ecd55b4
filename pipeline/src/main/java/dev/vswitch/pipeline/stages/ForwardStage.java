package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.vlan.VlanMembership;
import dev.vswitch.pipeline.vlan.VlanTagEditor;

/**
 * Delivers a frame: to the port an earlier stage chose, else to the port its destination MAC was learned on;
 * broadcast, multicast and unknown unicast are flooded to every other port that is up. Delivery is the copy
 * into the destination (see {@link SwitchPort#transmit}), so this is the last stage.
 *
 * <p>With a {@link VlanMembership} the frame's switching VLAN ({@link PacketEvent#vlanId}, set by the VLAN ingress
 * stage) bounds delivery: floods go only to ports carrying that VLAN, a unicast verdict for a port that does not
 * carry it is dropped ({@link DropReason#VLAN}, counted at that port), and the tag is pushed for a trunk or popped
 * for an access port per destination by rewriting the scatter list around that one transmit.
 */
public final class ForwardStage implements Stage
{
    public static final String NAME = "forward";
    private final MacTable table;
    private final SwitchPort[] ports;
    /** Null: VLAN-unaware (every port gets every frame unchanged), as without a VLAN stage. */
    private final VlanMembership vlans;
    private final VlanTagEditor tagEditor = new VlanTagEditor();

    public ForwardStage(final MacTable table, final SwitchPort[] ports)
    {
        this(table, ports, null);
    }

    public ForwardStage(final MacTable table, final SwitchPort[] ports, final VlanMembership vlans)
    {
        this.table = table;
        this.ports = ports;
        this.vlans = vlans;
    }

    @Override
    public String name()
    {
        return NAME;
    }

    @Override
    public void process(final PacketEvent e)
    {
        int out = e.outPort;
        if (out == PacketEvent.OUT_UNDECIDED)
        {
            out = (e.packetFlags & PacketEvent.FLAG_MULTICAST) != 0 ?
                PacketEvent.OUT_FLOOD : table.lookup(e.vlanId, e.dstMac);
            if (out == MacTable.NO_PORT)
            {
                out = PacketEvent.OUT_FLOOD;
            }
        }

        final PortCounters in = ports[e.inPort].counters();
        if (out == PacketEvent.OUT_FLOOD)
        {
            in.increment(PortCounters.FLOODED);
            for (final SwitchPort port : ports)
            {
                if (port.id() != e.inPort && port.isUp() && (vlans == null || vlans.carries(port.id(), e.vlanId)))
                {
                    transmit(port, e);
                }
            }
        }
        else if (out == e.inPort)
        {
            e.drop(DropReason.HAIRPIN);
            in.drop(DropReason.HAIRPIN);
            return;   // the verdict is the drop, not the port
        }
        else if (out >= 0 && out < ports.length)
        {
            in.increment(PortCounters.UNICAST);
            final SwitchPort port = ports[out];
            if (vlans != null && !vlans.carries(out, e.vlanId))
            {
                port.counters().drop(DropReason.VLAN);
            }
            else
            {
                transmit(port, e);
            }
        }
        e.outPort = out;
    }

    /**
     * Hands the frame to one destination with the tag that destination needs. A frame of VLAN n != 0 carries a tag
     * on the wire exactly when it came in on a trunk; VLAN 0 (untagged ports) is passed unchanged.
     */
    private void transmit(final SwitchPort port, final PacketEvent e)
    {
        if (vlans == null || e.vlanId == VlanMembership.NATIVE_VLAN)
        {
            port.transmit(e);
            return;
        }
        final boolean wireTagged = (e.packetFlags & PacketEvent.FLAG_VLAN) != 0;
        final boolean wantTag = vlans.mode(port.id()) == VlanMembership.TRUNK;
        if (wireTagged == wantTag)
        {
            port.transmit(e);
            return;
        }
        final int refused = wantTag ? tagEditor.push(e, e.vlanId) : tagEditor.pop(e);
        if (refused != DropReason.NONE)
        {
            port.counters().drop(refused);
            return;
        }
        try
        {
            port.transmit(e);
        }
        finally
        {
            tagEditor.restore(e);   // the next destination (and the source's completion) sees the original list
        }
    }
}
