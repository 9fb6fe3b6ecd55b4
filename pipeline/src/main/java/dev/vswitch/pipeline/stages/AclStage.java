package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Counters;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.List;

import static dev.vswitch.pipeline.offload.EthernetLayout.IPPROTO_TCP;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPPROTO_UDP;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV4_DESTINATION_OFFSET;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV4_FRAGMENT_OFFSET;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV4_MIN_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV4_SOURCE_OFFSET;

/**
 * An access list: rules in order, the first whose fields all match decides (drop or allow); a frame no rule matches
 * gets the default action. A rule that names a field the frame does not have (ports of a non-first IPv4 fragment,
 * IPv4 addresses of an ARP frame, ...) does not match. Rules are compiled into parallel primitive arrays so a
 * frame costs a loop of int compares; drops are counted as {@link DropReason#ACL} at the ingress port, and every
 * rule has a hit counter (the stats log shows them).
 */
public final class AclStage implements Stage
{
    public static final String NAME = "acl";
    /** Fields every classified frame has. */
    private static final int ALWAYS = AclRule.ETHERTYPE | AclRule.SRC_MAC | AclRule.DST_MAC | AclRule.VLAN |
        AclRule.IN_PORT;

    private final String name;
    private final int ruleCount;
    private final boolean[] drop;
    private final int[] fields;
    private final int[] etherType;
    private final long[] srcMac;
    private final long[] dstMac;
    private final int[] vlan;
    private final int[] ipProto;
    private final int[] srcIp;
    private final int[] srcIpMask;
    private final int[] dstIp;
    private final int[] dstIpMask;
    private final int[] srcPort;
    private final int[] dstPort;
    private final int[] inPort;
    private final String[] descriptions;
    private final boolean defaultDrop;
    /** Counter i for rule i, ruleCount for the default (the {@link Counters} scheme: the PMD writes). */
    private final Counters hits;

    public AclStage(final List<AclRule> rules, final boolean defaultDrop)
    {
        this(NAME, rules, defaultDrop);
    }

    public AclStage(final String name, final List<AclRule> rules, final boolean defaultDrop)
    {
        this.name = name;
        this.defaultDrop = defaultDrop;
        final int n = rules.size();
        ruleCount = n;
        drop = new boolean[n];
        fields = new int[n];
        etherType = new int[n];
        srcMac = new long[n];
        dstMac = new long[n];
        vlan = new int[n];
        ipProto = new int[n];
        srcIp = new int[n];
        srcIpMask = new int[n];
        dstIp = new int[n];
        dstIpMask = new int[n];
        srcPort = new int[n];
        dstPort = new int[n];
        inPort = new int[n];
        descriptions = new String[n];
        hits = new Counters(n + 1);
        for (int i = 0; i < n; i++)
        {
            final AclRule r = rules.get(i);
            drop[i] = r.drop;
            fields[i] = r.fields;
            etherType[i] = r.etherType;
            srcMac[i] = r.srcMac;
            dstMac[i] = r.dstMac;
            vlan[i] = r.vlan;
            ipProto[i] = r.ipProto;
            srcIp[i] = r.srcIp;
            srcIpMask[i] = r.srcIpMask;
            dstIp[i] = r.dstIp;
            dstIpMask[i] = r.dstIpMask;
            srcPort[i] = r.srcPort;
            dstPort[i] = r.dstPort;
            inPort[i] = r.inPort;
            descriptions[i] = r.description;
        }
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public void process(final PacketEvent e)
    {
        // What the frame offers, read once: IPv4 addresses and TCP/UDP ports only where classify found them whole.
        final UnsafeBuffer head = e.head;
        int available = ALWAYS;
        int frameSrcIp = 0;
        int frameDstIp = 0;
        int frameSrcPort = 0;
        int frameDstPort = 0;
        final int l3 = e.l3Offset;
        final int l4 = e.l4Offset;
        boolean firstFragment = true;
        if ((e.packetFlags & PacketEvent.FLAG_IPV4) != 0 && l3 + IPV4_MIN_HLEN <= e.headLength)
        {
            available |= AclRule.SRC_IP | AclRule.DST_IP;
            frameSrcIp = head.getInt(l3 + IPV4_SOURCE_OFFSET, ByteOrder.BIG_ENDIAN);
            frameDstIp = head.getInt(l3 + IPV4_DESTINATION_OFFSET, ByteOrder.BIG_ENDIAN);
            firstFragment = (head.getShort(l3 + IPV4_FRAGMENT_OFFSET, ByteOrder.BIG_ENDIAN) & 0x1fff) == 0;
        }
        if (l4 > 0)
        {
            available |= AclRule.IP_PROTO;
            final int proto = e.l4Protocol;
            if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && firstFragment && l4 + 4 <= e.headLength)
            {
                available |= AclRule.SRC_PORT | AclRule.DST_PORT;
                frameSrcPort = head.getShort(l4, ByteOrder.BIG_ENDIAN) & 0xffff;
                frameDstPort = head.getShort(l4 + 2, ByteOrder.BIG_ENDIAN) & 0xffff;
            }
        }

        final int[] fields = this.fields;
        for (int i = 0; i < ruleCount; i++)
        {
            final int f = fields[i];
            if ((f & ~available) != 0 ||
                ((f & AclRule.ETHERTYPE) != 0 && etherType[i] != e.etherType) ||
                ((f & AclRule.IN_PORT) != 0 && inPort[i] != e.inPort) ||
                ((f & AclRule.IP_PROTO) != 0 && ipProto[i] != e.l4Protocol) ||
                ((f & AclRule.DST_PORT) != 0 && dstPort[i] != frameDstPort) ||
                ((f & AclRule.SRC_PORT) != 0 && srcPort[i] != frameSrcPort) ||
                ((f & AclRule.DST_IP) != 0 && ((frameDstIp & dstIpMask[i]) != dstIp[i])) ||
                ((f & AclRule.SRC_IP) != 0 && ((frameSrcIp & srcIpMask[i]) != srcIp[i])) ||
                ((f & AclRule.VLAN) != 0 && vlan[i] != e.vlanId) ||
                ((f & AclRule.DST_MAC) != 0 && dstMac[i] != e.dstMac) ||
                ((f & AclRule.SRC_MAC) != 0 && srcMac[i] != e.srcMac))
            {
                continue;
            }
            count(i);
            if (drop[i])
            {
                e.drop(DropReason.ACL);
            }
            return;
        }
        count(ruleCount);
        if (defaultDrop)
        {
            e.drop(DropReason.ACL);
        }
    }

    private void count(final int index)
    {
        hits.increment(index);
    }

    public int ruleCount()
    {
        return ruleCount;
    }

    /** Frames rule {@code index} decided so far. */
    public long hits(final int index)
    {
        return hits.get(index);
    }

    /** Frames no rule matched (they got the default action). */
    public long defaultHits()
    {
        return hits(ruleCount);
    }

    @Override
    public void report(final StringBuilder out)
    {
        for (int i = 0; i < ruleCount; i++)
        {
            out.append(i == 0 ? "" : "; ").append("rule ").append(i).append(" (").append(descriptions[i])
                .append(") hits=").append(hits(i));
        }
        out.append(ruleCount == 0 ? "" : "; ").append("default ").append(defaultDrop ? "drop" : "allow")
            .append(" hits=").append(defaultHits());
    }
}
