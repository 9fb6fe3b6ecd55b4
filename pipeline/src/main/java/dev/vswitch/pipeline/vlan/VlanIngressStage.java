package dev.vswitch.pipeline.vlan;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.VlanView;

import java.nio.ByteOrder;

import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_OFFSET;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_VLAN;

/**
 * Assigns each frame its switching VLAN from the ingress port's membership, right after {@code classify} (which
 * left the outer tag's id in {@link PacketEvent#vlanId} and {@link PacketEvent#FLAG_VLAN} set when the frame
 * carries a tag). Afterwards {@code vlanId} is the switching VLAN and {@code FLAG_VLAN} still says whether the
 * frame on the wire has an 802.1Q tag at offset 12.
 * <ul>
 *   <li>untagged port: VLAN 0 whatever the frame carries (a peer's tags are opaque payload there);</li>
 *   <li>access port: untagged frames belong to the access VLAN; tagged ones (priority tags included) are dropped;</li>
 *   <li>trunk: the outer tag must be 802.1Q (TPID 0x8100) with an allowed id; untagged frames are dropped (no
 *   native VLAN on trunks).</li>
 * </ul>
 * Drops are {@link DropReason#VLAN}, counted at the ingress port by the pipeline.
 */
public final class VlanIngressStage implements Stage
{
    public static final String NAME = "vlan";

    private final VlanView membership;

    public VlanIngressStage(final VlanView membership)
    {
        this.membership = membership;
    }

    @Override
    public String name()
    {
        return NAME;
    }

    @Override
    public void process(final PacketEvent e)
    {
        final int port = e.inPort;
        final boolean tagged = (e.packetFlags & PacketEvent.FLAG_VLAN) != 0;
        switch (membership.mode(port))
        {
            case VlanView.ACCESS:
                if (tagged)
                {
                    e.drop(DropReason.VLAN);
                    return;
                }
                e.vlanId = membership.accessVlan(port);
                return;
            case VlanView.TRUNK:
                if (!tagged || (e.head.getShort(ETHERTYPE_OFFSET, ByteOrder.BIG_ENDIAN) & 0xffff) != ETHERTYPE_VLAN ||
                    !membership.carries(port, e.vlanId))
                {
                    e.drop(DropReason.VLAN);
                }
                return;
            default:
                e.vlanId = VlanView.NATIVE_VLAN;
        }
    }
}
