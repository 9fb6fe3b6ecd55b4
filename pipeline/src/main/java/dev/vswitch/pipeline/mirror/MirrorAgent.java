package dev.vswitch.pipeline.mirror;

import dev.vswitch.pipeline.Log;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.ringbuffer.RingBuffer;

import java.io.IOException;

/**
 * A mirror's writer thread's duty cycle: drains the mirror ring into the sink (file or tap), then flushes the sink,
 * so a reader of the file is at most one pass behind. Runs on its own thread (an {@code AgentRunner} with an idle
 * strategy that sleeps), never the PMD's: file and tap I/O may block, the PMD must not.
 * <p>
 * {@link #onClose} drains whatever is still in the ring and closes the sink; the runner must be closed only after
 * the PMD that fills the ring has stopped, or the frames it adds afterwards are lost.
 */
public final class MirrorAgent implements Agent, MessageHandler
{
    /** Messages per pass at most, so the sink is flushed regularly under a steady stream. */
    private static final int PASS_LIMIT = 4096;

    private final String name;
    private final RingBuffer ring;
    private final MirrorSink sink;
    private final MirrorCounters counters;
    private boolean errorLogged;

    public MirrorAgent(final String name, final RingBuffer ring, final MirrorSink sink, final MirrorCounters counters)
    {
        this.name = name;
        this.ring = ring;
        this.sink = sink;
        this.counters = counters;
    }

    @Override
    public int doWork()
    {
        final int read = ring.read(this, PASS_LIMIT);
        if (read > 0)
        {
            flush();
        }
        return read;
    }

    @Override
    public void onMessage(final int msgTypeId, final MutableDirectBuffer buffer, final int index, final int length)
    {
        if (sink.write(msgTypeId, buffer, index, length))
        {
            counters.increment(MirrorCounters.WRITTEN);
        }
        else
        {
            counters.increment(MirrorCounters.WRITE_ERRORS);
        }
    }

    private void flush()
    {
        try
        {
            sink.flush();
        }
        catch (final IOException ex)
        {
            counters.increment(MirrorCounters.WRITE_ERRORS);
            if (!errorLogged)
            {
                errorLogged = true;   // once: a full disk would otherwise log every millisecond
                Log.error(name, sink.describe() + ": write failed: " + ex.getMessage() + "; counting write-errors");
            }
        }
    }

    @Override
    public void onClose()
    {
        while (ring.read(this, PASS_LIMIT) > 0)
        {
            flush();
        }
        try
        {
            sink.close();
        }
        catch (final IOException ex)
        {
            Log.error(name, sink.describe() + ": close failed: " + ex.getMessage());
        }
        Log.info(name, sink.describe() + " closed; " + counters.summary());
    }

    @Override
    public String roleName()
    {
        return name;
    }
}
