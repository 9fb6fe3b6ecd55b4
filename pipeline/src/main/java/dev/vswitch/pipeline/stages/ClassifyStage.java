package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * Parses enough of a frame for switching: MACs, 802.1Q/802.1ad tags, ARP, IPv4, IPv6 and the L4 offset. It first
 * gathers the frame's head (at most {@link PacketEvent#HEADER_BYTES}) out of the scatter list, because a guest may
 * split even the Ethernet header across descriptors.
 */
public final class ClassifyStage implements Stage
{
    public static final String NAME = "classify";
    private static final int ETH_HLEN = 14;
    private static final int ETHERTYPE_VLAN = 0x8100;
    private static final int ETHERTYPE_QINQ = 0x88a8;
    private static final int ETHERTYPE_ARP = 0x0806;
    private static final int ETHERTYPE_IPV4 = 0x0800;
    private static final int ETHERTYPE_IPV6 = 0x86dd;

    @Override
    public String name()
    {
        return NAME;
    }

    @Override
    public void process(final PacketEvent e)
    {
        final int headLength = gatherHead(e);
        if (headLength < ETH_HLEN)
        {
            e.drop(DropReason.RUNT);
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

        int offset = 12;
        int etherType = head.getShort(offset, ByteOrder.BIG_ENDIAN) & 0xffff;
        int tags = 0;
        while ((etherType == ETHERTYPE_VLAN || etherType == ETHERTYPE_QINQ) && tags < 2 && offset + 6 <= headLength)
        {
            if (tags == 0)
            {
                e.vlanId = head.getShort(offset + 2, ByteOrder.BIG_ENDIAN) & 0x0fff;
                flags |= PacketEvent.FLAG_VLAN;
            }
            offset += 4;
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
            if (l3 + 20 <= headLength)
            {
                final int ihl = (head.getByte(l3) & 0x0f) * 4;
                e.l4Protocol = head.getByte(l3 + 9) & 0xff;
                if (ihl >= 20 && l3 + ihl <= headLength)
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
            if (l3 + 40 <= headLength)
            {
                e.l4Protocol = head.getByte(l3 + 6) & 0xff;
                e.l4Offset = l3 + 40;
            }
            else
            {
                flags |= PacketEvent.FLAG_TRUNCATED_L3;
            }
        }
        e.packetFlags = flags;
    }

    /** Copies the first bytes of the frame into the event's head buffer; plain loop, no allocation. */
    static int gatherHead(final PacketEvent e)
    {
        final int copied = e.copyPrefix(e.head.addressOffset(), Math.min(e.frameLength, PacketEvent.HEADER_BYTES));
        e.headLength = copied;
        return copied;
    }

    private static long readMac(final UnsafeBuffer head, final int offset)
    {
        return ((head.getInt(offset, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL) << 16) |
            (head.getShort(offset + 4, ByteOrder.BIG_ENDIAN) & 0xFFFFL);
    }
}
