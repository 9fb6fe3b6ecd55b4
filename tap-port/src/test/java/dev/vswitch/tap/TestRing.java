package dev.vswitch.tap;

import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.Sequence;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.SwitchPort;

/**
 * The pipeline's producer side in miniature: a Disruptor ring of PacketEvents, a publisher over it, and a gating
 * sequence the test advances after looking at each event (and completing it at its port, as PipelineHandler does).
 */
final class TestRing
{
    interface Visitor
    {
        void accept(PacketEvent event);
    }

    final RingBuffer<PacketEvent> ring = RingBuffer.createSingleProducer(PacketEvent::new, 64);
    final Sequence consumed = new Sequence(-1);
    final PacketPublisher publisher = new PacketPublisher(ring);

    TestRing()
    {
        ring.addGatingSequences(consumed);
    }

    /** One PMD "round" for {@code port}: receive within the budget, visit and complete everything published. */
    int round(final SwitchPort port, final int burst, final Visitor visitor)
    {
        final int received = port.receive(publisher, Math.min(burst, publisher.remaining()));
        final long cursor = ring.getCursor();
        for (long sequence = consumed.get() + 1; sequence <= cursor; sequence++)
        {
            final PacketEvent event = ring.get(sequence);
            if (null != visitor)
            {
                visitor.accept(event);
            }
            port.complete(event);
        }
        consumed.set(cursor);
        return received;
    }
}
