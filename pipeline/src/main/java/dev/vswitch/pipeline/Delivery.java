package dev.vswitch.pipeline;

import dev.vswitch.pipeline.spi.VlanView;
import dev.vswitch.pipeline.vlan.VlanTagEditor;

/**
 * Step 3 of a PMD round (see {@link PmdAgent}): hands a frame the stages passed to the destinations the forward
 * stage chose in {@link PacketEvent#outPort}: that one port, or for {@link PacketEvent#OUT_FLOOD} every other port
 * that is up. The copy into a destination is that port's {@link SwitchPort#transmit}, which counts what it
 * delivered or dropped.
 *
 * <p>With a {@link VlanView} the frame's switching VLAN ({@link PacketEvent#vlanId}, set by the VLAN ingress
 * stage) bounds delivery: a flood goes only to ports carrying that VLAN, a unicast to a port that does not carry it
 * is dropped there ({@link DropReason#VLAN}), and the tag is pushed for a trunk or popped for an access port per
 * destination by rewriting the scatter list around that one transmit. Without one (null) every port gets every
 * frame unchanged.
 */
public final class Delivery
{
    private final SwitchPort[] ports;
    private final VlanView vlans;
    private final VlanTagEditor tagEditor = new VlanTagEditor();

    /** @param vlans null: VLAN-unaware. */
    public Delivery(final SwitchPort[] ports, final VlanView vlans)
    {
        this.ports = ports;
        this.vlans = vlans;
    }

    /** Delivers {@code e} where its {@link PacketEvent#outPort} says; a dropped or undecided frame goes nowhere. */
    public void deliver(final PacketEvent e)
    {
        final int out = e.outPort;
        if (out == PacketEvent.OUT_FLOOD)
        {
            final SwitchPort[] ports = this.ports;
            for (final SwitchPort port : ports)
            {
                if (port.id() != e.inPort && port.isUp() && (vlans == null || vlans.carries(port.id(), e.vlanId)))
                {
                    transmit(port, e);
                }
            }
        }
        else if (out >= 0 && out < ports.length)
        {
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
    }

    /**
     * Hands the frame to one destination with the tag that destination needs. A frame of VLAN n != 0 carries a tag
     * on the wire exactly when it came in on a trunk; VLAN 0 (untagged ports) is passed unchanged.
     */
    private void transmit(final SwitchPort port, final PacketEvent e)
    {
        if (vlans == null || e.vlanId == VlanView.NATIVE_VLAN)
        {
            port.transmit(e);
            return;
        }
        final boolean wireTagged = (e.packetFlags & PacketEvent.FLAG_VLAN) != 0;
        final boolean wantTag = vlans.mode(port.id()) == VlanView.TRUNK;
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
