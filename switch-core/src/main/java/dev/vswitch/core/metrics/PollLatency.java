package dev.vswitch.core.metrics;

import dev.vswitch.pipeline.PmdAgent;
import org.HdrHistogram.Histogram;

/**
 * The one reader of a PMD's poll-to-publish {@link org.HdrHistogram.SingleWriterRecorder}. A recorder hands each
 * interval to whoever asks first, so several readers (the stats printer, the metrics endpoint, {@code show pmd})
 * would each see part of the frames;
 * instead both ask this class, which moves every interval into two accumulators: one since the switch started (the
 * Prometheus histogram, cumulative as Prometheus wants) and one since the stats printer last asked (its p50/p99).
 * Housekeeping threads only; the PMD thread keeps recording into the recorder as before.
 */
public final class PollLatency
{
    private final PmdAgent pmd;
    private final Histogram sinceStart;
    private final Histogram sincePrint;

    public PollLatency(final PmdAgent pmd)
    {
        this.pmd = pmd;
        final Histogram first = pmd.intervalLatency();   // empty; gives the recorder's range and precision
        sinceStart = new Histogram(first.getHighestTrackableValue(), first.getNumberOfSignificantValueDigits());
        sincePrint = sinceStart.copy();
    }

    private void drain()
    {
        final Histogram interval = pmd.intervalLatency();
        sinceStart.add(interval);
        sincePrint.add(interval);
    }

    /** Everything recorded since start (a copy). */
    public synchronized Histogram cumulative()
    {
        drain();
        return sinceStart.copy();
    }

    /**
     * What was recorded since {@code mark}, a {@link #cumulative} taken at the start of a window ({@code vswitchctl
     * show pmd}'s). Reads through this class like the other two readers, so a window takes no frames from the
     * histogram or the stats line.
     */
    public synchronized Histogram since(final Histogram mark)
    {
        final Histogram window = cumulative();
        window.subtract(mark);
        return window;
    }

    /** What was recorded since the previous call (for the periodic stats line). */
    public synchronized Histogram sinceLastCall()
    {
        drain();
        final Histogram interval = sincePrint.copy();
        sincePrint.reset();
        return interval;
    }
}
