package dev.vswitch.pipeline.stages;

/**
 * One ACL rule as configured: an action and the fields it matches (only the fields whose bit is in {@link #fields}
 * are compared). Built once at start; {@link AclStage} compiles a list of them into primitive arrays.
 */
public final class AclRule
{
    public static final int ETHERTYPE = 1;
    public static final int SRC_MAC = 1 << 1;
    public static final int DST_MAC = 1 << 2;
    public static final int VLAN = 1 << 3;
    public static final int IP_PROTO = 1 << 4;
    public static final int SRC_IP = 1 << 5;
    public static final int DST_IP = 1 << 6;
    public static final int SRC_PORT = 1 << 7;
    public static final int DST_PORT = 1 << 8;
    public static final int IN_PORT = 1 << 9;

    public final boolean drop;
    /** Human-readable form for the stats log, e.g. {@code drop ip-proto=17 dst-port=53}. */
    public final String description;
    int fields;
    int etherType;
    long srcMac;
    long dstMac;
    int vlan;
    int ipProto;
    int srcIp;
    int srcIpMask;
    int dstIp;
    int dstIpMask;
    int srcPort;
    int dstPort;
    int inPort;

    public AclRule(final boolean drop, final String description)
    {
        this.drop = drop;
        this.description = description;
    }

    public AclRule etherType(final int etherType)
    {
        fields |= ETHERTYPE;
        this.etherType = etherType;
        return this;
    }

    public AclRule srcMac(final long mac)
    {
        fields |= SRC_MAC;
        srcMac = mac;
        return this;
    }

    public AclRule dstMac(final long mac)
    {
        fields |= DST_MAC;
        dstMac = mac;
        return this;
    }

    /** VLAN id of the outer tag; 0 matches untagged frames. */
    public AclRule vlan(final int vlan)
    {
        fields |= VLAN;
        this.vlan = vlan;
        return this;
    }

    public AclRule ipProto(final int protocol)
    {
        fields |= IP_PROTO;
        ipProto = protocol;
        return this;
    }

    /** IPv4 source in {@code address/prefixLength}. */
    public AclRule srcIp(final int address, final int prefixLength)
    {
        fields |= SRC_IP;
        srcIpMask = mask(prefixLength);
        srcIp = address & srcIpMask;
        return this;
    }

    public AclRule dstIp(final int address, final int prefixLength)
    {
        fields |= DST_IP;
        dstIpMask = mask(prefixLength);
        dstIp = address & dstIpMask;
        return this;
    }

    public AclRule srcPort(final int port)
    {
        fields |= SRC_PORT;
        srcPort = port;
        return this;
    }

    public AclRule dstPort(final int port)
    {
        fields |= DST_PORT;
        dstPort = port;
        return this;
    }

    public AclRule inPort(final int portId)
    {
        fields |= IN_PORT;
        inPort = portId;
        return this;
    }

    private static int mask(final int prefixLength)
    {
        return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
    }
}
