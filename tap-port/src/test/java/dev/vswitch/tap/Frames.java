package dev.vswitch.tap;

import dev.vswitch.pipeline.PacketEvent;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;

/** Builds Ethernet/IPv4/ICMP frames for the tests, and holds frames off-heap as a source port would. */
final class Frames
{
    static final int ETHERTYPE_IPV4 = 0x0800;
    static final int ETHERTYPE_VLAN = 0x8100;
    /** IEEE 802 local experimental ethertype: the host stack has no handler for it and silently drops it. */
    static final int ETHERTYPE_EXPERIMENTAL = 0x88b5;
    static final int IPPROTO_ICMP = 1;
    static final int ICMP_ECHO_REPLY = 0;
    static final int ICMP_ECHO_REQUEST = 8;

    private Frames()
    {
    }

    static int ipv4(final int a, final int b, final int c, final int d)
    {
        return a << 24 | b << 16 | c << 8 | d;
    }

    /** Internet checksum (RFC 1071) of {@code length} bytes at {@code offset}. */
    static int checksum(final byte[] data, final int offset, final int length)
    {
        long sum = 0;
        for (int i = 0; i + 1 < length; i += 2)
        {
            sum += ((data[offset + i] & 0xff) << 8) | (data[offset + i + 1] & 0xff);
        }
        if ((length & 1) != 0)
        {
            sum += (data[offset + length - 1] & 0xff) << 8;
        }
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (int)(~sum & 0xffff);
    }

    /** An ICMP echo request or reply in Ethernet + IPv4 (20-byte header, valid checksums). */
    static byte[] icmpEcho(final byte[] dstMac, final byte[] srcMac, final int srcIp, final int dstIp, final int type,
        final int identifier, final int sequence, final byte[] payload)
    {
        final int ipLength = 20 + 8 + payload.length;
        final byte[] f = new byte[14 + ipLength];
        System.arraycopy(dstMac, 0, f, 0, 6);
        System.arraycopy(srcMac, 0, f, 6, 6);
        put16(f, 12, ETHERTYPE_IPV4);
        f[14] = 0x45;                       // IPv4, 5 words
        put16(f, 16, ipLength);
        put16(f, 18, 0x1234);               // identification
        put16(f, 20, 0x4000);               // don't fragment
        f[22] = 64;                         // ttl
        f[23] = IPPROTO_ICMP;
        put32(f, 26, srcIp);
        put32(f, 30, dstIp);
        put16(f, 24, checksum(f, 14, 20));
        f[34] = (byte)type;
        put16(f, 38, identifier);
        put16(f, 40, sequence);
        System.arraycopy(payload, 0, f, 42, payload.length);
        put16(f, 36, checksum(f, 34, 8 + payload.length));
        return f;
    }

    static final int IPPROTO_TCP = 6;
    static final int TCP_FIN = 0x01;
    static final int TCP_SYN = 0x02;
    static final int TCP_RST = 0x04;
    static final int TCP_PSH = 0x08;
    static final int TCP_ACK = 0x10;
    /** Offset of the TCP checksum in a frame built by {@link #tcp}: Ethernet 14 + IPv4 20 + 16. */
    static final int TCP_CSUM_AT = 14 + 20 + 16;

    /**
     * A TCP segment in Ethernet + IPv4 (20-byte header with a valid checksum, TCP header without options). The TCP
     * checksum is complete, or, with {@code partial}, what a NEEDS_CSUM sender leaves in the field: the folded
     * pseudo-header sum, not complemented ({@code csum_start} 34, {@code csum_offset} 16).
     */
    static byte[] tcp(final byte[] dstMac, final byte[] srcMac, final int srcIp, final int dstIp, final int srcPort,
        final int dstPort, final int seq, final int flags, final byte[] payload, final boolean partial)
    {
        final int tcpLength = 20 + payload.length;
        final int ipLength = 20 + tcpLength;
        final byte[] f = new byte[14 + ipLength];
        System.arraycopy(dstMac, 0, f, 0, 6);
        System.arraycopy(srcMac, 0, f, 6, 6);
        put16(f, 12, ETHERTYPE_IPV4);
        f[14] = 0x45;
        put16(f, 16, ipLength);
        put16(f, 18, 0x4321);
        put16(f, 20, 0x4000);
        f[22] = 64;
        f[23] = IPPROTO_TCP;
        put32(f, 26, srcIp);
        put32(f, 30, dstIp);
        put16(f, 24, checksum(f, 14, 20));
        put16(f, 34, srcPort);
        put16(f, 36, dstPort);
        put32(f, 38, seq);
        put32(f, 42, 0);
        f[46] = 0x50;                       // data offset 5
        f[47] = (byte)flags;
        put16(f, 48, 65535);                // window
        System.arraycopy(payload, 0, f, 54, payload.length);
        long pseudo = (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + IPPROTO_TCP +
            tcpLength;
        while ((pseudo >> 16) != 0)
        {
            pseudo = (pseudo & 0xffff) + (pseudo >> 16);
        }
        put16(f, TCP_CSUM_AT, (int)pseudo);
        if (!partial)
        {
            put16(f, TCP_CSUM_AT, checksum(f, 34, tcpLength));
        }
        return f;
    }

    /** {@code length} bytes to {@code dstMac} with the experimental ethertype (optionally behind an 802.1Q tag). */
    static byte[] experimental(final byte[] dstMac, final byte[] srcMac, final int length, final boolean vlan)
    {
        final byte[] f = new byte[length];
        System.arraycopy(dstMac, 0, f, 0, 6);
        System.arraycopy(srcMac, 0, f, 6, 6);
        if (vlan)
        {
            put16(f, 12, ETHERTYPE_VLAN);
            put16(f, 14, 42);
            put16(f, 16, ETHERTYPE_EXPERIMENTAL);
        }
        else
        {
            put16(f, 12, ETHERTYPE_EXPERIMENTAL);
        }
        for (int i = vlan ? 18 : 14; i < length; i++)
        {
            f[i] = (byte)i;
        }
        return f;
    }

    static int get16(final byte[] f, final int at)
    {
        return (f[at] & 0xff) << 8 | (f[at + 1] & 0xff);
    }

    static int get32(final byte[] f, final int at)
    {
        return get16(f, at) << 16 | get16(f, at + 2);
    }

    static void put16(final byte[] f, final int at, final int value)
    {
        f[at] = (byte)(value >> 8);
        f[at + 1] = (byte)value;
    }

    static void put32(final byte[] f, final int at, final int value)
    {
        put16(f, at, value >>> 16);
        put16(f, at + 2, value & 0xffff);
    }

    /** The bytes an event describes (copied out of its segments). */
    static byte[] bytesOf(final PacketEvent e)
    {
        final byte[] out = new byte[e.frameLength];
        int at = 0;
        for (int i = 0; i < e.segCount; i++)
        {
            new UnsafeBuffer(e.segAddress[i], e.segLength[i]).getBytes(0, out, at, e.segLength[i]);
            at += e.segLength[i];
        }
        return out;
    }

    /** A frame in off-heap memory, the way a source port's buffer or guest memory holds it. */
    static final class OffHeap
    {
        private final ByteBuffer memory;
        private final long address;
        private final int length;

        OffHeap(final byte[] frame)
        {
            memory = BufferUtil.allocateDirectAligned(Math.max(64, frame.length), 64);
            final UnsafeBuffer buffer = new UnsafeBuffer(memory);
            buffer.putBytes(0, frame);
            address = buffer.addressOffset();
            length = frame.length;
        }

        /** Describes the frame in {@code event} as consecutive segments cut at {@code cuts} (ascending offsets). */
        PacketEvent describe(final PacketEvent event, final int... cuts)
        {
            event.reset(0);
            int from = 0;
            for (final int cut : cuts)
            {
                event.addSegment(address + from, cut - from);
                from = cut;
            }
            event.addSegment(address + from, length - from);
            return event;
        }
    }
}
