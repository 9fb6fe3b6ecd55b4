package dev.vswitch.pipeline.testing;

import dev.vswitch.pipeline.PacketEvent;
import org.agrona.BitUtil;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.Arrays;

/**
 * A test frame living off-heap, optionally scattered over several separately allocated direct buffers. Each
 * segment buffer is followed by {@link #GUARD} bytes of {@link #GUARD_BYTE}, so a reader that runs past a
 * segment's length picks up garbage and the head comparison in the tests fails.
 */
public final class OffHeapFrame
{
    public static final int GUARD = 64;
    public static final byte GUARD_BYTE = (byte)0xEE;

    private final byte[] bytes;
    private final UnsafeBuffer[] segments;   // keeps the direct buffers reachable
    private final int[] lengths;

    private OffHeapFrame(final byte[] bytes, final int[] lengths)
    {
        this.bytes = bytes.clone();
        this.lengths = lengths;
        this.segments = new UnsafeBuffer[lengths.length];
        int offset = 0;
        for (int i = 0; i < lengths.length; i++)
        {
            final UnsafeBuffer buffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(
                BitUtil.align(lengths[i] + GUARD, 64), 64));
            buffer.setMemory(0, buffer.capacity(), GUARD_BYTE);
            buffer.putBytes(0, bytes, offset, lengths[i]);
            segments[i] = buffer;
            offset += lengths[i];
        }
    }

    public static OffHeapFrame contiguous(final byte[] bytes)
    {
        return new OffHeapFrame(bytes, new int[] { bytes.length });
    }

    /** Splits into segments of the given lengths, then one segment holding the rest (if any is left). */
    public static OffHeapFrame split(final byte[] bytes, final int... firstLengths)
    {
        int sum = 0;
        for (final int l : firstLengths)
        {
            sum += l;
        }
        if (sum > bytes.length)
        {
            throw new IllegalArgumentException("segments longer than frame");
        }
        final int[] lengths = sum == bytes.length ? firstLengths.clone() :
            Arrays.copyOf(firstLengths, firstLengths.length + 1);
        if (sum < bytes.length)
        {
            lengths[lengths.length - 1] = bytes.length - sum;
        }
        return new OffHeapFrame(bytes, lengths);
    }

    /** Appends this frame's segments to an event (no reset). Does not allocate. */
    public void addTo(final PacketEvent event)
    {
        for (int i = 0; i < segments.length; i++)
        {
            if (!event.addSegment(segments[i].addressOffset(), lengths[i]))
            {
                throw new IllegalStateException("scatter list full");
            }
        }
    }

    /** {@code event.reset(inPort)} then {@link #addTo}. */
    public PacketEvent describe(final PacketEvent event, final int inPort)
    {
        event.reset(inPort);
        addTo(event);
        return event;
    }

    /**
     * Writes one byte of the frame where it lives, as a guest may rewrite its TX buffer from another vCPU while the
     * switch holds the frame. {@link #bytes} keeps the frame as it was built.
     */
    public void rewrite(final int frameOffset, final byte value)
    {
        int offset = frameOffset;
        for (int i = 0; i < segments.length; i++)
        {
            if (offset < lengths[i])
            {
                segments[i].putByte(offset, value);
                return;
            }
            offset -= lengths[i];
        }
        throw new IndexOutOfBoundsException("offset " + frameOffset + " beyond the frame");
    }

    public byte[] bytes()
    {
        return bytes.clone();
    }

    public int length()
    {
        return bytes.length;
    }

    public int segmentCount()
    {
        return segments.length;
    }

    /** Reads the frame an event describes back out of its segments (as a destination port would). */
    public static byte[] gather(final PacketEvent event)
    {
        final byte[] out = new byte[event.frameLength];
        int pos = 0;
        for (int i = 0; i < event.segCount; i++)
        {
            final int len = event.segLength[i];
            if (len > 0)
            {
                new UnsafeBuffer(event.segAddress[i], len).getBytes(0, out, pos, len);
            }
            pos += len;
        }
        return out;
    }
}
