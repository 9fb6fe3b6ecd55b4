package dev.vswitch.pipeline.offload;

import dev.vswitch.pipeline.PacketEvent;
import org.agrona.UnsafeAccess;

import java.nio.ByteOrder;

/**
 * Flyweight over a {@code struct virtio_net_hdr} in memory (virtio 1.2, 5.1.6), and the one owner of its layout:
 * <pre>
 *   0  u8   flags        NEEDS_CSUM, DATA_VALID
 *   1  u8   gso_type     NONE, TCPV4, UDP, TCPV6, UDP_L4, | ECN
 *   2  le16 hdr_len      Ethernet + IP + TCP header bytes of a super-frame
 *   4  le16 gso_size     TCP payload bytes per segment
 *   6  le16 csum_start   where the partial checksum's range starts
 *   8  le16 csum_offset  where, from csum_start, its result goes
 *  10  le16 num_buffers  (VERSION_1 or MRG_RXBUF only) RX buffers the frame spans
 * </pre>
 * Little-endian, as a VERSION_1 device and Linux's tun on the little-endian hosts the switch runs on use it.
 * Used by the vhost-user port (the guest's header, split or not, copied to a scratch buffer) and by the TAP port (the
 * kernel's header at the front of each read, and the one written in front of each frame). Like Agrona's flyweights,
 * it is {@link #wrap wrapped} over an address and reused: no allocation, no bounds checks (the caller owns the
 * {@link #LENGTH} bytes).
 */
public final class VirtioNetHdr
{
    public static final int FLAGS_OFFSET = 0;
    public static final int GSO_TYPE_OFFSET = 1;
    public static final int HDR_LEN_OFFSET = 2;
    public static final int GSO_SIZE_OFFSET = 4;
    public static final int CSUM_START_OFFSET = 6;
    public static final int CSUM_OFFSET_OFFSET = 8;
    public static final int NUM_BUFFERS_OFFSET = 10;
    /** Header size with VERSION_1 or MRG_RXBUF (with num_buffers), and as the TAP port sets it (TUNSETVNETHDRSZ). */
    public static final int LENGTH = 12;
    /** Header size of a legacy device without VERSION_1 and MRG_RXBUF (no num_buffers). */
    public static final int LENGTH_LEGACY = 10;

    /** flags: the checksum from csum_start to the end of the frame is still to be computed and put at csum_offset. */
    public static final int F_NEEDS_CSUM = 1;
    /** flags (receive only): the sender validated the checksum. Speaks for the sender only; never passed on. */
    public static final int F_DATA_VALID = 2;

    public static final int GSO_NONE = 0;
    public static final int GSO_TCPV4 = 1;
    public static final int GSO_UDP = 3;
    public static final int GSO_TCPV6 = 4;
    public static final int GSO_UDP_L4 = 5;
    /** gso_type bit: the super-frame has CWR set, to be kept on the first segment only (TSO_ECN). */
    public static final int GSO_ECN = 0x80;

    private static final sun.misc.Unsafe U = UnsafeAccess.UNSAFE;
    private static final boolean NATIVE_LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private long address;

    /** Points the flyweight at a header; returns this. */
    public VirtioNetHdr wrap(final long address)
    {
        this.address = address;
        return this;
    }

    public long address()
    {
        return address;
    }

    /** gso_type without the ECN bit. */
    public static int gsoBase(final int gsoType)
    {
        return gsoType & ~GSO_ECN;
    }

    /** TCPV4 or TCPV6, optionally with the ECN bit: the only super-frames the switch takes (no UDP, no tunnels). */
    public static boolean isTcpGso(final int gsoType)
    {
        final int base = gsoBase(gsoType);
        return base == GSO_TCPV4 || base == GSO_TCPV6;
    }

    public int flags()
    {
        return U.getByte(address + FLAGS_OFFSET) & 0xff;
    }

    public VirtioNetHdr flags(final int value)
    {
        U.putByte(address + FLAGS_OFFSET, (byte)value);
        return this;
    }

    public int gsoType()
    {
        return U.getByte(address + GSO_TYPE_OFFSET) & 0xff;
    }

    public VirtioNetHdr gsoType(final int value)
    {
        U.putByte(address + GSO_TYPE_OFFSET, (byte)value);
        return this;
    }

    public int hdrLen()
    {
        return getLe16(HDR_LEN_OFFSET);
    }

    public VirtioNetHdr hdrLen(final int value)
    {
        putLe16(HDR_LEN_OFFSET, value);
        return this;
    }

    public int gsoSize()
    {
        return getLe16(GSO_SIZE_OFFSET);
    }

    public VirtioNetHdr gsoSize(final int value)
    {
        putLe16(GSO_SIZE_OFFSET, value);
        return this;
    }

    public int csumStart()
    {
        return getLe16(CSUM_START_OFFSET);
    }

    public VirtioNetHdr csumStart(final int value)
    {
        putLe16(CSUM_START_OFFSET, value);
        return this;
    }

    public int csumOffset()
    {
        return getLe16(CSUM_OFFSET_OFFSET);
    }

    public VirtioNetHdr csumOffset(final int value)
    {
        putLe16(CSUM_OFFSET_OFFSET, value);
        return this;
    }

    /** Only in a header of {@link #LENGTH} bytes. */
    public int numBuffers()
    {
        return getLe16(NUM_BUFFERS_OFFSET);
    }

    /** Only in a header of {@link #LENGTH} bytes. */
    public VirtioNetHdr numBuffers(final int value)
    {
        putLe16(NUM_BUFFERS_OFFSET, value);
        return this;
    }

    /**
     * Moves a header of {@code length} bytes ({@link #LENGTH} or {@link #LENGTH_LEGACY}) from one address to another
     * with two plain 8 + 4 (or 8 + 2) byte moves: every frame a vhost-user port takes or delivers moves one, and a
     * call to Unsafe.copyMemory costs several times more at 12 bytes. Either side may be guest memory: the values
     * are only stored, never used by the mover, so a load that faults on truncated guest memory (which compiled code
     * skips, leaving a stale register) can put wrong bytes in the header but never a wild address anywhere.
     */
    public static void move(final long from, final long to, final int length)
    {
        U.putLong(to, U.getLong(from));
        if (length == LENGTH)
        {
            U.putInt(to + 8, U.getInt(from + 8));
        }
        else
        {
            U.putShort(to + 8, U.getShort(from + 8));
        }
    }

    /**
     * Zeroes the first {@code length} bytes ({@link #LENGTH} or {@link #LENGTH_LEGACY}): a header asking for nothing.
     * Two or three plain stores, not a memset call: this runs for every frame a vhost-user port delivers, and a
     * call to Unsafe.setMemory for 12 bytes measured ~8 ns per frame slower in BurstBench.
     */
    public VirtioNetHdr clear(final int length)
    {
        if (length == LENGTH)
        {
            U.putLong(address, 0L);
            U.putInt(address + 8, 0);
        }
        else if (length == LENGTH_LEGACY)
        {
            U.putLong(address, 0L);
            U.putShort(address + 8, (short)0);
        }
        else
        {
            U.setMemory(address, length, (byte)0);
        }
        return this;
    }

    /** Writes all fields but num_buffers in one go. */
    public VirtioNetHdr set(final int flags, final int gsoType, final int hdrLen, final int gsoSize,
        final int csumStart, final int csumOffset)
    {
        flags(flags);
        gsoType(gsoType);
        putLe16(HDR_LEN_OFFSET, hdrLen);
        putLe16(GSO_SIZE_OFFSET, gsoSize);
        putLe16(CSUM_START_OFFSET, csumStart);
        putLe16(CSUM_OFFSET_OFFSET, csumOffset);
        return this;
    }

    /** Copies the offload request (all fields but num_buffers) into the frame's event, where it travels with it. */
    public void copyTo(final PacketEvent e)
    {
        e.vnetFlags = flags();
        e.gsoType = gsoType();
        e.hdrLen = hdrLen();
        e.gsoSize = gsoSize();
        e.csumStart = csumStart();
        e.csumOffset = csumOffset();
    }

    private int getLe16(final int offset)
    {
        final short raw = U.getShort(address + offset);
        return (NATIVE_LITTLE_ENDIAN ? raw : Short.reverseBytes(raw)) & 0xffff;
    }

    private void putLe16(final int offset, final int value)
    {
        final short raw = (short)value;
        U.putShort(address + offset, NATIVE_LITTLE_ENDIAN ? raw : Short.reverseBytes(raw));
    }
}
