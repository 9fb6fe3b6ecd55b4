package dev.vswitch.vhost.testing;

import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.Sequence;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;

import java.util.ArrayList;
import java.util.List;

/**
 * A {@link PacketPublisher} over a small single-producer Disruptor ring with no consumer threads: the test is the
 * consumer. {@link #take()} returns the events published since the last take; they stay valid (the producer cannot
 * overwrite them) until {@link #release()} moves the gating sequence past them.
 */
public final class TestPublisher
{
    private final RingBuffer<PacketEvent> ring;
    private final Sequence gate = new Sequence(-1);
    private final PacketPublisher publisher;
    private long taken = -1;

    public TestPublisher(final int ringSize)
    {
        ring = RingBuffer.createSingleProducer(PacketEvent::new, ringSize);
        ring.addGatingSequences(gate);
        publisher = new PacketPublisher(ring);
    }

    public TestPublisher()
    {
        this(64);
    }

    public PacketPublisher publisher()
    {
        return publisher;
    }

    /** Events published and not yet taken, oldest first. */
    public List<PacketEvent> take()
    {
        final long cursor = ring.getCursor();
        final List<PacketEvent> out = new ArrayList<>();
        for (long s = taken + 1; s <= cursor; s++)
        {
            out.add(ring.get(s));
        }
        taken = cursor;
        return out;
    }

    /** Lets the producer reuse every event taken so far. */
    public void release()
    {
        gate.set(taken);
    }

    public int remaining()
    {
        return publisher.remaining();
    }
}
