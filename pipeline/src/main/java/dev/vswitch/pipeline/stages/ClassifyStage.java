package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_ARP;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_IPV4;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_IPV6;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_OFFSET;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_QINQ;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_VLAN;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETH_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV4_MIN_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV4_PROTOCOL_OFFSET;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV6_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV6_NEXT_HEADER_OFFSET;
import static dev.vswitch.pipeline.offload.EthernetLayout.MAX_VLAN_TAGS;
import static dev.vswitch.pipeline.offload.EthernetLayout.VLAN_HLEN;

/**
 * Parses enough of a frame for switching: MACs, 802.1Q/802.1ad tags, ARP, IPv4, IPv6 and the L4 offset. It parses
 * the frame's head (the whole of a short frame, else its first {@link PacketEvent#HEADER_BYTES}), copied out of the
 * scatter list (a guest may split even the Ethernet header across descriptors) by the source's receive pass or else
 * here ({@link PacketEvent#takeHead}), and makes that copy the frame's first segment ({@link PacketEvent#commitHead}).
 * <p>
 * Why the commit: the source's buffers stay in its guest's memory until the frame is delivered, and nothing stops a
 * hostile guest from rewriting them from another vCPU in between. Were the head delivered from there, the bytes a
 * destination gets could differ from the bytes every stage judged: a trunk guest could flip the VLAN tag after the
 * switch chose that VLAN's ports (reaching a VLAN it is not in), or the L4 port after the ACL allowed it. Delivered
 * from the copy, the head is exactly what the stages read (the same reason DPDK's vhost copies a frame into an
 * mbuf before anything looks at it). The rest of a long frame, which no stage reads, is still copied once, straight
 * from the source.
 */
public final class ClassifyStage implements Stage
{
    public static final String NAME = "classify";

    @Override
    public String name()
    {
        return NAME;
    }

    @Override
    public void process(final PacketEvent e)
    {
        final int headLength = e.takeHead();   // the source's copy, else one made here
        if (headLength < ETH_HLEN)
        {
            e.drop(DropReason.RUNT);
            return;
        }
        if (!e.commitHead())
        {
            // The head could not be made the frame's first segment (a chain of 64 descriptors whose first is
            // longer than the head): it would be delivered from the source's memory, not as judged, so it is not.
            e.drop(DropReason.BAD_CHAIN);
            return;
        }
        final UnsafeBuffer head = e.head;
        e.dstMac = readMac(head, 0);
        e.srcMac = readMac(head, 6);
        int flags = 0;
        if ((e.dstMac & 0x0100_0000_0000L) != 0)
        {
            flags |= PacketEvent.FLAG_MULTICAST;
            if (e.dstMac == 0xFFFF_FFFF_FFFFL)
            {
                flags |= PacketEvent.FLAG_BROADCAST;
            }
        }

        int offset = ETHERTYPE_OFFSET;
        int etherType = head.getShort(offset, ByteOrder.BIG_ENDIAN) & 0xffff;
        int tags = 0;
        while ((etherType == ETHERTYPE_VLAN || etherType == ETHERTYPE_QINQ) && tags < MAX_VLAN_TAGS &&
            offset + (VLAN_HLEN + 2) <= headLength)   // the tag and the ethertype behind it
        {
            if (tags == 0)
            {
                e.vlanId = head.getShort(offset + 2, ByteOrder.BIG_ENDIAN) & 0x0fff;
                flags |= PacketEvent.FLAG_VLAN;
            }
            offset += VLAN_HLEN;
            tags++;
            etherType = head.getShort(offset, ByteOrder.BIG_ENDIAN) & 0xffff;
        }
        final int l3 = offset + 2;
        e.etherType = etherType;
        e.l3Offset = l3;

        if (etherType == ETHERTYPE_ARP)
        {
            flags |= PacketEvent.FLAG_ARP;
        }
        else if (etherType == ETHERTYPE_IPV4)
        {
            flags |= PacketEvent.FLAG_IPV4;
            if (l3 + IPV4_MIN_HLEN <= headLength)
            {
                final int ihl = (head.getByte(l3) & 0x0f) * 4;
                e.l4Protocol = head.getByte(l3 + IPV4_PROTOCOL_OFFSET) & 0xff;
                if (ihl >= IPV4_MIN_HLEN && l3 + ihl <= headLength)
                {
                    e.l4Offset = l3 + ihl;
                }
                else
                {
                    flags |= PacketEvent.FLAG_TRUNCATED_L3;   // IHL points past what we hold: no L4 to trust
                }
            }
            else
            {
                flags |= PacketEvent.FLAG_TRUNCATED_L3;
            }
        }
        else if (etherType == ETHERTYPE_IPV6)
        {
            flags |= PacketEvent.FLAG_IPV6;
            if (l3 + IPV6_HLEN <= headLength)
            {
                e.l4Protocol = head.getByte(l3 + IPV6_NEXT_HEADER_OFFSET) & 0xff;
                e.l4Offset = l3 + IPV6_HLEN;
            }
            else
            {
                flags |= PacketEvent.FLAG_TRUNCATED_L3;
            }
        }
        e.packetFlags = flags;
    }

    private static long readMac(final UnsafeBuffer head, final int offset)
    {
        return ((head.getInt(offset, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL) << 16) |
            (head.getShort(offset + 4, ByteOrder.BIG_ENDIAN) & 0xFFFFL);
    }
}
