package dev.vswitch.pipeline.mirror;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/** The off-heap ring between a {@link MirroredPort} (PMD thread, producer) and its {@link MirrorAgent} (consumer). */
public final class MirrorRing
{
    /** Default capacity: room for ~70k minimum-size frames, or ~120 full 64 KiB super-frames. */
    public static final int DEFAULT_CAPACITY = 8 << 20;

    private MirrorRing()
    {
    }

    /** A single-producer single-consumer ring of {@code capacity} bytes (a power of two) plus its trailer. */
    public static RingBuffer allocate(final int capacity)
    {
        final int bytes = capacity + RingBufferDescriptor.TRAILER_LENGTH;
        return new OneToOneRingBuffer(new UnsafeBuffer(BufferUtil.allocateDirectAligned(bytes, 64)));
    }
}
