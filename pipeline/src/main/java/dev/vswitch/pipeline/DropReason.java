package dev.vswitch.pipeline;

/** Why a frame was dropped; indexes into per-port drop counters. */
public final class DropReason
{
    public static final int NONE = 0;
    /** Descriptor chain out of bounds, looped, too long, or too short for the virtio-net header. */
    public static final int BAD_CHAIN = 1;
    /** virtio_net_hdr asks for something not negotiated or points outside the frame. */
    public static final int BAD_HEADER = 2;
    /** Frame shorter than an Ethernet header. */
    public static final int RUNT = 3;
    /** Destination RX ring had no buffers after the bounded retries. */
    public static final int RING_FULL = 4;
    /** Frame larger than the destination's buffers or MTU. */
    public static final int TOO_BIG = 5;
    /** Destination port has no running receive ring. */
    public static final int PORT_DOWN = 6;
    /** Unicast destination is the ingress port itself. */
    public static final int HAIRPIN = 7;
    /** A user or built-in network function dropped it. */
    public static final int FILTERED = 8;
    /** The frame's VLAN is not carried by the ingress port (wrong or missing tag) or by the chosen egress port. */
    public static final int VLAN = 9;
    /** An ACL rule dropped it. */
    public static final int ACL = 10;
    /** Over a rate limiter's budget (token bucket empty). */
    public static final int RATE_LIMITED = 11;

    public static final int COUNT = 12;

    private static final String[] NAMES =
        { "none", "bad-chain", "bad-header", "runt", "ring-full", "too-big", "port-down", "hairpin", "filtered", "vlan", "acl",
          "rate-limited" };

    private DropReason()
    {
    }

    public static String name(final int reason)
    {
        return reason >= 0 && reason < NAMES.length ? NAMES[reason] : "unknown-" + reason;
    }
}
