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
    /** True between {@link #claim} and {@link #publish}: what {@link #abortBatch} must still publish. */
    private boolean claimOpen;
    private long batchFirst = 0;
    private long batchLast = -1;

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
        claimOpen = true;
        final PacketEvent event = ring.get(claimed);
        event.reset(inPort);
        return event;
    }

    public void publish()
    {
        claimOpen = false;
        ring.publish(claimed);
    }

    /**
     * Claims {@code n} (> 0) events at once, for a source that fills a whole burst before publishing any of it:
     * take each with {@link #batchEvent}, then {@link #publishBatch()} them together.
     */
    public void claimBatch(final int n)
    {
        batchLast = ring.next(n);
        batchFirst = batchLast - n + 1;
    }

    /** Event {@code i} of the batch, reset for {@code inPort}. */
    public PacketEvent batchEvent(final int i, final int inPort)
    {
        final PacketEvent event = ring.get(batchFirst + i);
        event.reset(inPort);
        return event;
    }

    public void publishBatch()
    {
        ring.publish(batchFirst, batchLast);
        batchLast = batchFirst - 1;
    }

    /**
     * After a port threw between {@link #claimBatch} and {@link #publishBatch}: the claimed sequences must still be
     * published (the consumer waits for each in turn), so they go out as frames already dropped at the source, with
     * no completion to hand back (the port is being taken out of service).
     *
     * @return how many events were published that way (0 if no batch was open).
     */
    public int abortBatch()
    {
        if (claimOpen)
        {
            final PacketEvent event = ring.get(claimed);
            event.sourceDropReason = DropReason.PORT_DOWN;
            event.completionToken = -1;
            publish();
            return 1;
        }
        final int n = (int)(batchLast - batchFirst + 1);
        if (n <= 0)
        {
            return 0;
        }
        for (long seq = batchFirst; seq <= batchLast; seq++)
        {
            final PacketEvent event = ring.get(seq);
            event.sourceDropReason = DropReason.PORT_DOWN;
            event.completionToken = -1;
        }
        publishBatch();
        return n;
    }
}
