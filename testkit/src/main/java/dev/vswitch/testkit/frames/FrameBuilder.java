package dev.vswitch.testkit.frames;

import java.io.ByteArrayOutputStream;
import java.util.function.Function;

/**
 * Builds Ethernet frames byte by byte (network byte order): MACs, VLAN tags, EtherType, IPv4/IPv6, TCP/UDP/ARP
 * headers with fixed, recognisable field values, and padding. {@link #bytes()} gives the frame; {@link #as} hands
 * it to whatever holds frames in the module under test (e.g. {@code as(OffHeapFrame::contiguous)} in pipeline).
 */
public final class FrameBuilder
{
    public static final long BROADCAST = 0xFFFF_FFFF_FFFFL;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private FrameBuilder()
    {
    }

    /** Starts a frame with destination and source MAC (48-bit values, first octet in bits 40..47). */
    public static FrameBuilder ethernet(final long dst, final long src)
    {
        return new FrameBuilder().mac(dst).mac(src);
    }

    public FrameBuilder mac(final long mac)
    {
        for (int shift = 40; shift >= 0; shift -= 8)
        {
            out.write((int)(mac >>> shift) & 0xff);
        }
        return this;
    }

    public FrameBuilder u8(final int value)
    {
        out.write(value & 0xff);
        return this;
    }

    public FrameBuilder u16(final int value)
    {
        return u8(value >>> 8).u8(value);
    }

    public FrameBuilder u32(final int value)
    {
        return u16(value >>> 16).u16(value);
    }

    /** A VLAN tag: TPID (0x8100 or 0x88a8) and TCI (PCP | DEI | VID). */
    public FrameBuilder tag(final int tpid, final int tci)
    {
        return u16(tpid).u16(tci);
    }

    public FrameBuilder etherType(final int etherType)
    {
        return u16(etherType);
    }

    /** An IPv4 header of {@code ihlWords} 32-bit words (5 = no options). */
    public FrameBuilder ipv4(final int ihlWords, final int protocol)
    {
        u8(0x40 | (ihlWords & 0x0f)).u8(0).u16(ihlWords * 4 + 20).u16(0x1234).u16(0x4000).u8(64).u8(protocol).u16(0);
        u32(0x0a00_0001).u32(0x0a00_0002);
        for (int i = 5; i < ihlWords; i++)
        {
            u32(0x0101_0101);   // NOP options
        }
        return this;
    }

    public FrameBuilder ipv6(final int nextHeader)
    {
        u32(0x6000_0000).u16(8).u8(nextHeader).u8(64);
        for (int i = 0; i < 4; i++)
        {
            u32(0xfe80_0000 + i);
        }
        for (int i = 0; i < 4; i++)
        {
            u32(0xfe80_1000 + i);
        }
        return this;
    }

    public FrameBuilder tcp()
    {
        return u16(40000).u16(80).u32(1).u32(0).u16(0x5002).u16(65535).u16(0).u16(0);
    }

    public FrameBuilder udp()
    {
        return u16(5353).u16(5353).u16(8).u16(0);
    }

    /** ARP for IPv4 over Ethernet (28 bytes). */
    public FrameBuilder arp(final int op, final long senderMac, final long targetMac)
    {
        u16(1).u16(0x0800).u8(6).u8(4).u16(op);
        mac(senderMac).u32(0x0a00_0001);
        return mac(targetMac).u32(0x0a00_0002);
    }

    /** {@code n} bytes of a recognisable pattern. */
    public FrameBuilder pad(final int n)
    {
        for (int i = 0; i < n; i++)
        {
            out.write((i * 7 + 3) & 0xff);
        }
        return this;
    }

    /** Bytes of {@code value} up to a frame length of {@code length} (e.g. 60 with zeros, as a NIC pads). */
    public FrameBuilder fillTo(final int length, final int value)
    {
        while (out.size() < length)
        {
            out.write(value & 0xff);
        }
        return this;
    }

    public int length()
    {
        return out.size();
    }

    public byte[] bytes()
    {
        return out.toByteArray();
    }

    /** The frame's bytes turned into what the test needs, e.g. {@code as(OffHeapFrame::contiguous)}. */
    public <T> T as(final Function<byte[], T> holder)
    {
        return holder.apply(bytes());
    }
}
