package dev.vswitch.pipeline.offload;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.testing.OffHeapFrame;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Test frames (byte arrays in network order) for the offload tests, plus straightforward reference checksums
 * written independently of {@link InternetChecksum}: 16-bit words, one at a time, end-around carry at every step.
 */
final class Frames
{
    static final long DST_MAC = 0x5254_0000_0002L;
    static final long SRC_MAC = 0x5254_0000_0001L;
    static final int IPV4_SRC = 0x0a00_0001;
    static final int IPV4_DST = 0x0a00_0002;
    static final int TCP = 6;
    static final int UDP = 17;

    static final int FIN = 0x01;
    static final int SYN = 0x02;
    static final int PSH = 0x08;
    static final int ACK = 0x10;
    static final int ECE = 0x40;
    static final int CWR = 0x80;

    private Frames()
    {
    }

    // ------------------------------------------------------------------ reference checksum

    /** Folded one's-complement sum of big-endian 16-bit words over b[off, off+len), the simple way. */
    static int refSum(final byte[] b, final int off, final int len, final int initial)
    {
        int s = initial;
        for (int i = 0; i < len; i += 2)
        {
            final int hi = b[off + i] & 0xff;
            final int lo = i + 1 < len ? b[off + i + 1] & 0xff : 0;
            s += (hi << 8) | lo;
            if (s > 0xffff)
            {
                s = (s & 0xffff) + 1;
            }
        }
        return s;
    }

    static int refSum(final byte[] b, final int off, final int len)
    {
        return refSum(b, off, len, 0);
    }

    static int u16(final byte[] b, final int off)
    {
        return ((b[off] & 0xff) << 8) | (b[off + 1] & 0xff);
    }

    static int u32(final byte[] b, final int off)
    {
        return (u16(b, off) << 16) | u16(b, off + 2);
    }

    static void put16(final byte[] b, final int off, final int v)
    {
        b[off] = (byte)(v >>> 8);
        b[off + 1] = (byte)v;
    }

    /** Folded (not complemented) pseudo-header sum, as Linux seeds a NEEDS_CSUM field. */
    static int pseudoHeader(final byte[] f, final int l3, final boolean ipv6, final int protocol, final int l4Length)
    {
        int s;
        if (ipv6)
        {
            s = refSum(f, l3 + 8, 32);
            s = refSum(new byte[] { (byte)(l4Length >>> 24), (byte)(l4Length >>> 16), (byte)(l4Length >>> 8),
                (byte)l4Length, 0, 0, 0, (byte)protocol }, 0, 8, s);
        }
        else
        {
            s = refSum(f, l3 + 12, 8);
            s = refSum(new byte[] { 0, (byte)protocol, (byte)(l4Length >>> 8), (byte)l4Length }, 0, 4, s);
        }
        return s;
    }

    /** Full verification of an L4 checksum: pseudo-header + whole L4 segment must fold to 0xffff. */
    static boolean l4ChecksumOk(final byte[] f, final int l3, final boolean ipv6, final int protocol,
        final int l4, final int l4Length)
    {
        return refSum(f, l4, l4Length, pseudoHeader(f, l3, ipv6, protocol, l4Length)) == 0xffff;
    }

    static boolean ipv4HeaderChecksumOk(final byte[] f, final int l3)
    {
        return refSum(f, l3, (f[l3] & 0x0f) * 4) == 0xffff;
    }

    // ------------------------------------------------------------------ frame building

    static byte[] payload(final int length, final long seed)
    {
        final byte[] p = new byte[length];
        new Random(seed).nextBytes(p);
        return p;
    }

    /** Description of a built frame: where things are. */
    static final class Layout
    {
        byte[] bytes;
        int l3;
        int l4;
        int headers;   // Ethernet + tags + IP + TCP/UDP
        boolean ipv6;
    }

    private static final class Out
    {
        final ByteArrayOutputStream b = new ByteArrayOutputStream();

        Out u8(final int v)
        {
            b.write(v & 0xff);
            return this;
        }

        Out u16(final int v)
        {
            return u8(v >>> 8).u8(v);
        }

        Out u32(final int v)
        {
            return u16(v >>> 16).u16(v);
        }

        Out mac(final long m)
        {
            for (int s = 40; s >= 0; s -= 8)
            {
                u8((int)(m >>> s));
            }
            return this;
        }

        Out bytes(final byte[] p)
        {
            b.write(p, 0, p.length);
            return this;
        }

        int size()
        {
            return b.size();
        }
    }

    private static Out ethernet(final int[] tpids, final int etherType)
    {
        final Out o = new Out().mac(DST_MAC).mac(SRC_MAC);
        for (int i = 0; i < tpids.length; i++)
        {
            o.u16(tpids[i]).u16(0x2000 | (100 + i));
        }
        return o.u16(etherType);
    }

    private static void tcpHeader(final Out o, final int seq, final int flags, final int optionWords,
        final int checksum)
    {
        o.u16(40000).u16(5201).u32(seq).u32(0x1122_3344).u8((5 + optionWords) << 4).u8(flags).u16(502)
            .u16(checksum).u16(0);
        for (int i = 0; i < optionWords; i++)
        {
            if (i == 0 && optionWords >= 3)
            {
                o.u8(1).u8(1).u8(8).u8(10);   // NOP NOP timestamp(kind 8, len 10)
            }
            else
            {
                o.u32(0x0102_0304 + i);
            }
        }
    }

    /**
     * TCP over IPv4: {@code tpids} VLAN tags, IHL {@code ihlWords}, TCP options {@code tcpOptionWords} words. The TCP
     * checksum field holds {@code tcpChecksumField} (e.g. a pseudo-header seed or garbage). IPv4 total length is
     * the real length, or 0 if it does not fit 16 bits.
     */
    static Layout tcpIpv4(final int[] tpids, final int ihlWords, final int tcpOptionWords, final byte[] payload,
        final int seq, final int flags, final int ipId, final int tcpChecksumField)
    {
        final Out o = ethernet(tpids, 0x0800);
        final Layout l = new Layout();
        l.l3 = o.size();
        final int tcpLength = (5 + tcpOptionWords) * 4 + payload.length;
        final int total = ihlWords * 4 + tcpLength;
        o.u8(0x40 | ihlWords).u8(0x02).u16(total > 0xffff ? 0 : total).u16(ipId).u16(0x4000).u8(64).u8(TCP)
            .u16(0xbeef).u32(IPV4_SRC).u32(IPV4_DST);
        for (int i = 5; i < ihlWords; i++)
        {
            o.u32(0x0101_0101);
        }
        l.l4 = o.size();
        tcpHeader(o, seq, flags, tcpOptionWords, tcpChecksumField);
        l.headers = o.size();
        o.bytes(payload);
        l.bytes = o.b.toByteArray();
        return l;
    }

    static Layout tcpIpv6(final int[] tpids, final int nextHeader, final int tcpOptionWords, final byte[] payload,
        final int seq, final int flags, final int tcpChecksumField)
    {
        final Out o = ethernet(tpids, 0x86dd);
        final Layout l = new Layout();
        l.ipv6 = true;
        l.l3 = o.size();
        final int tcpLength = (5 + tcpOptionWords) * 4 + payload.length;
        o.u32(0x6001_2345).u16(tcpLength > 0xffff ? 0 : tcpLength).u8(nextHeader).u8(64);
        o.u32(0x2001_0db8).u32(0).u32(0x0000_00ff).u32(0xfe00_0001);
        o.u32(0x2001_0db8).u32(0).u32(0x0000_00ff).u32(0xfe00_0002);
        l.l4 = o.size();
        tcpHeader(o, seq, flags, tcpOptionWords, tcpChecksumField);
        l.headers = o.size();
        o.bytes(payload);
        l.bytes = o.b.toByteArray();
        return l;
    }

    static Layout udpIpv4(final byte[] payload)
    {
        final Out o = ethernet(new int[0], 0x0800);
        final Layout l = new Layout();
        l.l3 = o.size();
        o.u8(0x45).u8(0).u16(28 + payload.length).u16(7).u16(0x4000).u8(64).u8(UDP).u16(0)
            .u32(IPV4_SRC).u32(IPV4_DST);
        l.l4 = o.size();
        o.u16(5353).u16(5353).u16(8 + payload.length).u16(0);
        l.headers = o.size();
        o.bytes(payload);
        l.bytes = o.b.toByteArray();
        return l;
    }

    static Layout udpIpv6(final byte[] payload)
    {
        final Out o = ethernet(new int[0], 0x86dd);
        final Layout l = new Layout();
        l.ipv6 = true;
        l.l3 = o.size();
        o.u32(0x6000_0000).u16(8 + payload.length).u8(UDP).u8(64);
        o.u32(0xfd00_0000).u32(0x1234).u32(0x5678).u32(0x0000_0001);
        o.u32(0xfd00_0000).u32(0x1234).u32(0x5678).u32(0x0000_0002);
        l.l4 = o.size();
        o.u16(4789).u16(53).u16(8 + payload.length).u16(0);
        l.headers = o.size();
        o.bytes(payload);
        l.bytes = o.b.toByteArray();
        return l;
    }

    // ------------------------------------------------------------------ scatter lists

    /**
     * Splits {@code length} bytes into at most {@code maxSegments} pieces: first the given odd-sized cuts (those that
     * still fit), then repeating odd pieces; the last piece takes the rest.
     */
    static int[] oddCuts(final int length, final int maxSegments, final int... head)
    {
        final List<Integer> cuts = new ArrayList<>();
        int used = 0;
        for (final int c : head)
        {
            if (used + c < length && cuts.size() < maxSegments - 1)
            {
                cuts.add(c);
                used += c;
            }
        }
        final int[] pattern = { 1021, 3, 4095, 777, 1, 2049, 8191, 13 };
        for (int i = 0; cuts.size() < maxSegments - 1; i++)
        {
            final int c = pattern[i % pattern.length];
            if (used + c >= length)
            {
                break;
            }
            cuts.add(c);
            used += c;
        }
        return cuts.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The frame off-heap, split at odd offsets (headers included) over several separately allocated segments. */
    static OffHeapFrame scattered(final byte[] frame)
    {
        return OffHeapFrame.split(frame, oddCuts(frame.length, PacketEvent.MAX_SEGMENTS / 2, 7, 13, 1, 30, 5, 21));
    }
}
