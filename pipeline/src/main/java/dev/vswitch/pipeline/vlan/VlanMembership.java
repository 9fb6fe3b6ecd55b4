package dev.vswitch.pipeline.vlan;

import dev.vswitch.pipeline.spi.VlanView;

/**
 * Which VLANs each port carries, and how (the stages see it as a {@link VlanView}). Built once from the configuration before the data path starts; read-only
 * afterwards, so the PMD thread reads it without synchronisation (it is published by the thread start).
 * <ul>
 *   <li>{@link #UNTAGGED}: the port is in VLAN 0 only and passes frames unchanged; a tag a peer adds there is
 *   opaque payload.</li>
 *   <li>{@link #ACCESS}: one VLAN; frames leave the port untagged and untagged frames entering it belong to it.</li>
 *   <li>{@link #TRUNK}: a set of VLANs carried as 802.1Q tags (TPID 0x8100).</li>
 * </ul>
 * The allowed set of a trunk is a 4096-bit set per port (64 longs): one load and a mask per membership test.
 */
public final class VlanMembership implements VlanView
{
    public static final int MIN_VLAN = 1;
    public static final int MAX_VLAN = 4094;
    private static final int WORDS_PER_PORT = 4096 / 64;

    private final int[] mode;
    private final int[] accessVlan;
    private final long[] allowed;

    /** Every port starts untagged: with nothing configured the switch behaves as one VLAN-unaware bridge. */
    public VlanMembership(final int portCount)
    {
        mode = new int[portCount];
        accessVlan = new int[portCount];
        allowed = new long[portCount * WORDS_PER_PORT];
    }

    public int portCount()
    {
        return mode.length;
    }

    public VlanMembership untagged(final int port)
    {
        clear(port);
        mode[port] = UNTAGGED;
        return this;
    }

    public VlanMembership access(final int port, final int vlan)
    {
        checkVlan(vlan);
        clear(port);
        mode[port] = ACCESS;
        accessVlan[port] = vlan;
        return this;
    }

    public VlanMembership trunk(final int port, final int... vlans)
    {
        if (vlans.length == 0)
        {
            throw new IllegalArgumentException("a trunk needs at least one VLAN");
        }
        clear(port);
        mode[port] = TRUNK;
        for (final int vlan : vlans)
        {
            checkVlan(vlan);
            allowed[port * WORDS_PER_PORT + (vlan >>> 6)] |= 1L << (vlan & 63);
        }
        return this;
    }

    public int mode(final int port)
    {
        return mode[port];
    }

    /** The access port's VLAN; 0 for other modes. */
    public int accessVlan(final int port)
    {
        return accessVlan[port];
    }

    /** True when frames of switching VLAN {@code vlan} may enter or leave {@code port}. */
    public boolean carries(final int port, final int vlan)
    {
        switch (mode[port])
        {
            case ACCESS:
                return vlan == accessVlan[port];
            case TRUNK:
                return vlan >= MIN_VLAN && vlan <= MAX_VLAN &&
                    (allowed[port * WORDS_PER_PORT + (vlan >>> 6)] & (1L << (vlan & 63))) != 0;
            default:
                return vlan == NATIVE_VLAN;
        }
    }

    /** "trunk [10, 20]", "access 10" or "untagged", for logs. */
    public String describe(final int port)
    {
        switch (mode[port])
        {
            case ACCESS:
                return "access " + accessVlan[port];
            case TRUNK:
                final StringBuilder sb = new StringBuilder("trunk [");
                for (int vlan = MIN_VLAN; vlan <= MAX_VLAN; vlan++)
                {
                    if (carries(port, vlan))
                    {
                        sb.append(sb.charAt(sb.length() - 1) == '[' ? "" : ", ").append(vlan);
                    }
                }
                return sb.append(']').toString();
            default:
                return "untagged";
        }
    }

    /** True when some port is not untagged (the pipeline then needs its VLAN stage). */
    public boolean anyVlans()
    {
        for (final int m : mode)
        {
            if (m != UNTAGGED)
            {
                return true;
            }
        }
        return false;
    }

    private void clear(final int port)
    {
        accessVlan[port] = 0;
        for (int i = 0; i < WORDS_PER_PORT; i++)
        {
            allowed[port * WORDS_PER_PORT + i] = 0;
        }
    }

    private static void checkVlan(final int vlan)
    {
        if (vlan < MIN_VLAN || vlan > MAX_VLAN)
        {
            throw new IllegalArgumentException("VLAN id must be " + MIN_VLAN + ".." + MAX_VLAN + ", got " + vlan);
        }
    }
}
