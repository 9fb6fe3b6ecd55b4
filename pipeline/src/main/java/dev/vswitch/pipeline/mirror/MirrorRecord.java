package dev.vswitch.pipeline.mirror;

import dev.vswitch.pipeline.PacketEvent;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.AtomicBuffer;

import java.nio.ByteOrder;

/**
 * Layout of one mirrored frame in the mirror ring (a message of an Agrona {@code OneToOneRingBuffer}; its type id
 * is the direction, {@link #IN} or {@link #OUT}). A fixed header, then the captured bytes of the frame:
 * <pre>
 *   0  long  capture time, nanoseconds since the epoch
 *   8  int   frame length on the wire (the original length; the captured part may be shorter)
 *  12  byte  virtio_net_hdr flags     13 byte gso_type     14 short (unused)
 *  16  short hdr_len   18 short gso_size   20 short csum_start   22 short csum_offset
 *  24  the first min(frame length, snaplen) bytes of the frame
 * </pre>
 * The virtio-net fields travel along so a TAP mirror can hand a GSO super-frame or a partial-checksum frame to the
 * kernel as what it is; a pcap file records the frame bytes as they are (see the README).
 */
public final class MirrorRecord
{
    /** Message type id of a frame the switch received from the mirrored port. */
    public static final int IN = 1;
    /** Message type id of a frame the switch delivered to the mirrored port. */
    public static final int OUT = 2;

    public static final int TIMESTAMP_OFFSET = 0;
    public static final int FRAME_LENGTH_OFFSET = 8;
    public static final int VNET_FLAGS_OFFSET = 12;
    public static final int GSO_TYPE_OFFSET = 13;
    public static final int HDR_LEN_OFFSET = 16;
    public static final int GSO_SIZE_OFFSET = 18;
    public static final int CSUM_START_OFFSET = 20;
    public static final int CSUM_OFFSET_OFFSET = 22;
    public static final int HEADER_LENGTH = 24;

    private MirrorRecord()
    {
    }

    /**
     * Writes the header and the first {@code captured} bytes of the event's frame at {@code index} of a claimed
     * region of {@code buffer} (off-heap): plain stores and one {@code copyMemory} per segment, no allocation.
     */
    public static void write(
        final AtomicBuffer buffer, final int index, final PacketEvent e, final long timestampNanos, final int captured)
    {
        buffer.putLong(index + TIMESTAMP_OFFSET, timestampNanos, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(index + FRAME_LENGTH_OFFSET, e.frameLength, ByteOrder.LITTLE_ENDIAN);
        buffer.putByte(index + VNET_FLAGS_OFFSET, (byte)e.vnetFlags);
        buffer.putByte(index + GSO_TYPE_OFFSET, (byte)e.gsoType);
        buffer.putShort(index + HDR_LEN_OFFSET, (short)e.hdrLen, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(index + GSO_SIZE_OFFSET, (short)e.gsoSize, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(index + CSUM_START_OFFSET, (short)e.csumStart, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(index + CSUM_OFFSET_OFFSET, (short)e.csumOffset, ByteOrder.LITTLE_ENDIAN);
        e.copyPrefix(buffer.addressOffset() + index + HEADER_LENGTH, captured);
    }

    public static long timestampNanos(final DirectBuffer buffer, final int index)
    {
        return buffer.getLong(index + TIMESTAMP_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    public static int frameLength(final DirectBuffer buffer, final int index)
    {
        return buffer.getInt(index + FRAME_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    /** Bytes of the frame captured in a message of {@code messageLength} bytes. */
    public static int captured(final int messageLength)
    {
        return messageLength - HEADER_LENGTH;
    }

    public static int vnetFlags(final DirectBuffer buffer, final int index)
    {
        return buffer.getByte(index + VNET_FLAGS_OFFSET) & 0xff;
    }

    public static int gsoType(final DirectBuffer buffer, final int index)
    {
        return buffer.getByte(index + GSO_TYPE_OFFSET) & 0xff;
    }

    public static int hdrLen(final DirectBuffer buffer, final int index)
    {
        return buffer.getShort(index + HDR_LEN_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xffff;
    }

    public static int gsoSize(final DirectBuffer buffer, final int index)
    {
        return buffer.getShort(index + GSO_SIZE_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xffff;
    }

    public static int csumStart(final DirectBuffer buffer, final int index)
    {
        return buffer.getShort(index + CSUM_START_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xffff;
    }

    public static int csumOffset(final DirectBuffer buffer, final int index)
    {
        return buffer.getShort(index + CSUM_OFFSET_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xffff;
    }
}
