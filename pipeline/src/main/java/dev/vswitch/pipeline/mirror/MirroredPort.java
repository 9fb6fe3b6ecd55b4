package dev.vswitch.pipeline.mirror;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.EpochNanoClock;
import org.agrona.concurrent.ringbuffer.RingBuffer;

/**
 * A switch port whose traffic is also copied into a mirror ring, for a writer thread to put into a pcap file or a
 * TAP. It stands in for the port everywhere the data path sees it (PMD polling, forwarding), and passes every call
 * through unchanged; it only adds copies:
 * <ul>
 *   <li>direction {@link #IN}: a frame the switch received from the port, copied in {@link #complete} (the last
 *   moment its buffers are valid, after the stages ran) unless the port itself dropped it as malformed;</li>
 *   <li>direction {@link #OUT}: a frame the switch delivered to the port, copied after {@link #transmit} said it was
 *   delivered (the source's buffers stay valid until the source's complete()).</li>
 * </ul>
 * The copy is one {@code tryClaim}, stores, and a {@code copyMemory} per segment into the claimed region, then
 * {@code commit}: no allocation, no lock, no system call on the PMD thread. A full ring drops the copy, never the
 * frame, and counts it ({@link MirrorCounters#DROPPED}).
 */
public final class MirroredPort implements SwitchPort
{
    public static final int IN = 1;
    public static final int OUT = 2;
    public static final int BOTH = IN | OUT;

    private final SwitchPort port;
    private final RingBuffer ring;
    private final AtomicBuffer ringBuffer;
    private final int direction;
    private final int snaplen;
    private final EpochNanoClock clock;
    private final MirrorCounters counters;

    /**
     * @param snaplen   frame bytes kept per copy at most; {@link MirrorRecord#HEADER_LENGTH} + snaplen must fit the
     *                  ring's largest message.
     * @param direction {@link #IN}, {@link #OUT} or {@link #BOTH}.
     */
    public MirroredPort(final SwitchPort port, final RingBuffer ring, final int direction, final int snaplen,
        final EpochNanoClock clock, final MirrorCounters counters)
    {
        if (direction < IN || direction > BOTH)
        {
            throw new IllegalArgumentException("direction must be IN, OUT or BOTH, got " + direction);
        }
        if (snaplen < 1 || MirrorRecord.HEADER_LENGTH + snaplen > ring.maxMsgLength())
        {
            throw new IllegalArgumentException("snaplen " + snaplen + " does not fit the mirror ring (largest message " +
                ring.maxMsgLength() + " bytes)");
        }
        this.port = port;
        this.ring = ring;
        this.ringBuffer = ring.buffer();
        this.direction = direction;
        this.snaplen = snaplen;
        this.clock = clock;
        this.counters = counters;
    }

    /** The port this one mirrors. */
    public SwitchPort port()
    {
        return port;
    }

    public MirrorCounters mirrorCounters()
    {
        return counters;
    }

    @Override
    public int id()
    {
        return port.id();
    }

    @Override
    public String name()
    {
        return port.name();
    }

    @Override
    public void prepareTransmit(final int frames, final int longestFrame)
    {
        port.prepareTransmit(frames, longestFrame);
    }

    @Override
    public int receive(final PacketPublisher publisher, final int budget)
    {
        return port.receive(publisher, budget);
    }

    @Override
    public boolean transmit(final PacketEvent event)
    {
        final boolean delivered = port.transmit(event);
        if (delivered && (direction & OUT) != 0)
        {
            copy(event, MirrorRecord.OUT);
        }
        return delivered;
    }

    @Override
    public void complete(final PacketEvent event)
    {
        if ((direction & IN) != 0 && event.sourceDropReason == DropReason.NONE)
        {
            copy(event, MirrorRecord.IN);
        }
        port.complete(event);
    }

    private void copy(final PacketEvent event, final int type)
    {
        final int captured = Math.min(event.frameLength, snaplen);
        final int index = ring.tryClaim(type, MirrorRecord.HEADER_LENGTH + captured);
        if (index < 0)
        {
            counters.increment(MirrorCounters.DROPPED);
            return;
        }
        MirrorRecord.write(ringBuffer, index, event, clock.nanoTime(), captured);
        ring.commit(index);
        counters.increment(MirrorCounters.MIRRORED);
    }

    @Override
    public void flush()
    {
        port.flush();
    }

    @Override
    public void publishCounts()
    {
        port.publishCounts();
    }

    @Override
    public boolean isUp()
    {
        return port.isUp();
    }

    @Override
    public boolean polled()
    {
        return port.polled();
    }

    @Override
    public PortCounters counters()
    {
        return port.counters();
    }

    @Override
    public String toString()
    {
        return "mirrored " + port;
    }
}
