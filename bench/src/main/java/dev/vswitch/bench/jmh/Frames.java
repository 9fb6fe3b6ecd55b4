package dev.vswitch.bench.jmh;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Ethernet frames for the benchmarks (setup time only; allocates freely). */
final class Frames
{
    static final long MAC_A = 0x5254_0000_000AL;
    static final long MAC_B = 0x5254_0000_000BL;
    static final int ETHERTYPE_VLAN = 0x8100;
    static final int ETHERTYPE_IPV4 = 0x0800;
    static final int UDP = 17;

    private Frames()
    {
    }

    /**
     * An Ethernet / [802.1Q tag] / IPv4 / UDP frame of exactly {@code length} bytes (no FCS), valid IPv4 header
     * checksum, UDP checksum 0 (none), payload a byte pattern.
     *
     * @param vlan 802.1Q VLAN id, or -1 for an untagged frame.
     */
    static byte[] udp4(final long dst, final long src, final int vlan, final int length)
    {
        final int l2 = vlan >= 0 ? 18 : 14;
        if (length < l2 + 28)
        {
            throw new IllegalArgumentException("frame of " + length + " bytes cannot hold Ethernet/IPv4/UDP");
        }
        final ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.BIG_ENDIAN);
        putMac(b, dst);
        putMac(b, src);
        if (vlan >= 0)
        {
            b.putShort((short)ETHERTYPE_VLAN).putShort((short)(vlan & 0x0fff));
        }
        b.putShort((short)ETHERTYPE_IPV4);
        final int ip = b.position();
        final int ipLength = length - l2;
        b.put((byte)0x45).put((byte)0).putShort((short)ipLength).putShort((short)1).putShort((short)0x4000)
            .put((byte)64).put((byte)UDP).putShort((short)0)
            .putInt(0x0a00_0001).putInt(0x0a00_0002);
        b.putShort(ip + 10, (short)ipv4Checksum(b.array(), ip));
        b.putShort((short)1024).putShort((short)1025).putShort((short)(ipLength - 20)).putShort((short)0);
        for (int i = b.position(); i < length; i++)
        {
            b.put((byte)i);
        }
        return b.array();
    }

    private static void putMac(final ByteBuffer b, final long mac)
    {
        for (int shift = 40; shift >= 0; shift -= 8)
        {
            b.put((byte)(mac >>> shift));
        }
    }

    private static int ipv4Checksum(final byte[] frame, final int offset)
    {
        long sum = 0;
        for (int i = 0; i < 20; i += 2)
        {
            sum += ((frame[offset + i] & 0xff) << 8) | (frame[offset + i + 1] & 0xff);
        }
        while ((sum >>> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int)(~sum & 0xffff);
    }
}
