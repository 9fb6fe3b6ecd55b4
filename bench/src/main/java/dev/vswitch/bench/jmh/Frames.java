package dev.vswitch.bench.jmh;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_IPV4;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_VLAN;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETH_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPPROTO_UDP;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV4_CHECKSUM_OFFSET;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPV4_MIN_HLEN;
import static dev.vswitch.pipeline.offload.EthernetLayout.VLAN_HLEN;

/** Ethernet frames for the benchmarks (setup time only; allocates freely). */
final class Frames
{
    static final long MAC_A = 0x5254_0000_000AL;
    static final long MAC_B = 0x5254_0000_000BL;
    private static final int UDP_HLEN = 8;

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
        final int l2 = vlan >= 0 ? ETH_HLEN + VLAN_HLEN : ETH_HLEN;
        if (length < l2 + IPV4_MIN_HLEN + UDP_HLEN)
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
            .put((byte)64).put((byte)IPPROTO_UDP).putShort((short)0)
            .putInt(0x0a00_0001).putInt(0x0a00_0002);
        b.putShort(ip + IPV4_CHECKSUM_OFFSET, (short)ipv4Checksum(b.array(), ip));
        b.putShort((short)1024).putShort((short)1025).putShort((short)(ipLength - IPV4_MIN_HLEN)).putShort((short)0);
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
        for (int i = 0; i < IPV4_MIN_HLEN; i += 2)
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
