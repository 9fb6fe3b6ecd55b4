package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Delivery;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.spi.FdbView;

/**
 * Decides where a frame goes, as the last stage: to the port an earlier stage chose, else to the port its
 * destination MAC was learned on; broadcast, multicast and unknown unicast are flooded ({@link PacketEvent#OUT_FLOOD}).
 * The decision is left in {@link PacketEvent#outPort}; the PMD's next step, {@link Delivery}, hands the frame to
 * those destinations (VLAN filtering and tag edits included). A unicast verdict for the frame's own port is the
 * one drop decided here ({@link DropReason#HAIRPIN}, counted at that port).
 */
public final class ForwardStage implements Stage
{
    public static final String NAME = "forward";
    private final FdbView table;
    private final SwitchPort[] ports;

    public ForwardStage(final FdbView table, final SwitchPort[] ports)
    {
        this.table = table;
        this.ports = ports;
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
            if (out == FdbView.NO_PORT)
            {
                out = PacketEvent.OUT_FLOOD;
            }
        }

        final PortCounters in = ports[e.inPort].counters();
        if (out == PacketEvent.OUT_FLOOD)
        {
            in.increment(PortCounters.FLOODED);
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
        }
        e.outPort = out;
    }
}
