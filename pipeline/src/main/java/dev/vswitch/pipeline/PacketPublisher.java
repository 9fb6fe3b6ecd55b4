package dev.vswitch.pipeline;

import com.lmax.disruptor.RingBuffer;

/**
 * The producer side of the pipeline ring for one PMD thread. Ports call {@link #claim} then {@link #publish}; the
 * budget handed to a port never exceeds {@link #remaining()}, so claiming never blocks.
 */
public final class PacketPublisher
{
    private final RingBuffer<PacketEvent> ring;
    private long claimed = -1;

    public PacketPublisher(final RingBuffer<PacketEvent> ring)
    {
        this.ring = ring;
    }

    public int remaining()
    {
        return (int)ring.remainingCapacity();
    }

    /** Claims the next event; the caller must fill it and call {@link #publish()} before claiming again. */
    public PacketEvent claim(final int inPort)
    {
        claimed = ring.next();
        final PacketEvent event = ring.get(claimed);
        event.reset(inPort);
        return event;
    }

    public void publish()
    {
        ring.publish(claimed);
    }
}
