package dev.vswitch.pipeline.testing;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;

import java.util.ArrayList;
import java.util.List;

/**
 * A {@link SwitchPort} for tests.
 * <ul>
 *   <li>As a source it publishes queued {@link OffHeapFrame}s through the {@link PacketPublisher} it is given,
 *   within the budget; {@link #loop} makes the queue endless (a peer that always has frames).</li>
 *   <li>As a destination it records what it was asked to transmit (a copy, since events are reused).</li>
 * </ul>
 * With {@code recording == false} nothing is allocated per call (counters only), for the allocation tests.
 * The plain counters are volatile so another thread can watch a port driven by a PMD thread.
 */
public final class FakePort implements SwitchPort
{
    /** What a destination saw: a copy of the frame and the classifier's view of it. */
    public record Delivery(int inPort, int token, long srcMac, long dstMac, int vlanId, byte[] bytes)
    {
    }

    private final int id;
    private final String name;
    private final boolean recording;
    private final PortCounters counters = new PortCounters();
    private volatile boolean up = true;

    // --- source side
    private final List<OffHeapFrame> frames = new ArrayList<>();
    private final List<Integer> sourceDrops = new ArrayList<>();
    private int nextFrame;
    private boolean loop;
    private int nextToken;

    // --- observations
    public final List<Integer> budgets = new ArrayList<>();
    public final List<Integer> remainingAtReceive = new ArrayList<>();
    public final List<Delivery> delivered = new ArrayList<>();
    public final List<Integer> completedTokens = new ArrayList<>();
    /** Shared across ports when set: "tx p1 t3", "complete p0 t3", "flush p0". */
    public List<String> journal;
    public volatile int receiveCalls;
    public volatile int transmitCount;
    public volatile int completeCount;
    public volatile int flushCount;
    public volatile int maxBudget;
    /** receive() calls whose budget exceeded the publisher's remaining capacity at that moment. */
    public volatile int budgetOverRemaining;
    /** Runs on the calling (PMD) thread at the start of every flush(). */
    public volatile Runnable onFlush;

    public FakePort(final int id, final boolean recording)
    {
        this.id = id;
        this.name = "fake" + id;
        this.recording = recording;
    }

    public FakePort(final int id)
    {
        this(id, true);
    }

    public FakePort enqueue(final OffHeapFrame frame)
    {
        return enqueue(frame, 0);
    }

    /** Queues a frame the source itself already decided to drop ({@link PacketEvent#sourceDropReason}). */
    public FakePort enqueue(final OffHeapFrame frame, final int sourceDropReason)
    {
        frames.add(frame);
        sourceDrops.add(sourceDropReason);
        return this;
    }

    /** The queued frames repeat forever. */
    public FakePort loop()
    {
        loop = true;
        return this;
    }

    public FakePort down()
    {
        up = false;
        return this;
    }

    public void setUp(final boolean up)
    {
        this.up = up;
    }

    public int pending()
    {
        return loop && !frames.isEmpty() ? Integer.MAX_VALUE : frames.size() - nextFrame;
    }

    @Override
    public int id()
    {
        return id;
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public int receive(final PacketPublisher publisher, final int budget)
    {
        receiveCalls++;
        if (budget > maxBudget)
        {
            maxBudget = budget;
        }
        final int remaining = publisher.remaining();
        if (budget > remaining)
        {
            budgetOverRemaining++;
        }
        if (recording)
        {
            budgets.add(budget);
            remainingAtReceive.add(remaining);
        }
        // Never claim more than the ring holds even if the budget says so: PmdAgent is the ring's only consumer
        // and runs on this thread, so an over-claim would spin forever instead of failing the test.
        final int n = Math.min(Math.min(budget, remaining), pending());
        for (int i = 0; i < n; i++)
        {
            if (loop && nextFrame == frames.size())
            {
                nextFrame = 0;
            }
            final int index = nextFrame++;
            final PacketEvent event = publisher.claim(id);
            frames.get(index).addTo(event);
            event.sourceDropReason = sourceDrops.get(index);
            event.completionToken = nextToken++;
            publisher.publish();
        }
        return n;
    }

    @Override
    public boolean transmit(final PacketEvent event)
    {
        transmitCount++;
        counters.increment(PortCounters.TX_PACKETS);
        counters.add(PortCounters.TX_BYTES, event.frameLength);
        if (recording)
        {
            delivered.add(new Delivery(event.inPort, event.completionToken, event.srcMac, event.dstMac,
                event.vlanId, OffHeapFrame.gather(event)));
            if (journal != null)
            {
                journal.add("tx p" + id + " from p" + event.inPort + " t" + event.completionToken);
            }
        }
        return true;
    }

    @Override
    public void complete(final PacketEvent event)
    {
        completeCount++;
        if (recording)
        {
            completedTokens.add(event.completionToken);
            if (journal != null)
            {
                journal.add("complete p" + id + " t" + event.completionToken);
            }
        }
    }

    @Override
    public void flush()
    {
        final Runnable hook = onFlush;
        if (hook != null)
        {
            hook.run();
        }
        flushCount++;
        if (recording && journal != null)
        {
            journal.add("flush p" + id);
        }
    }

    @Override
    public boolean isUp()
    {
        return up;
    }

    @Override
    public PortCounters counters()
    {
        return counters;
    }
}
