package dev.vswitch.core.metrics;

import dev.vswitch.pipeline.PmdAgent;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.HdrHistogram.Histogram;

/**
 * A PMD thread's duty cycle (rounds, busy rounds, frames taken; the busy ratio is
 * {@code rate(busy_rounds) / rate(rounds)}) and its poll-to-publish latency as a Prometheus histogram, built at
 * scrape time from the HdrHistogram the PMD records into (through {@link PollLatency}, the recorder's one reader).
 */
final class PmdMetrics implements MultiCollector
{
    /** Bucket upper bounds in seconds: 1 us .. 100 ms, then +Inf. */
    static final double[] BOUNDS = {
        1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 100e-3,
        Double.POSITIVE_INFINITY };

    private final PmdAgent pmd;
    private final PollLatency latency;

    PmdMetrics(final PmdAgent pmd, final PollLatency latency)
    {
        this.pmd = pmd;
        this.latency = latency;
    }

    @Override
    public MetricSnapshots collect()
    {
        final Labels labels = Labels.of("pmd", pmd.roleName());
        final MetricSnapshots.Builder out = MetricSnapshots.builder();
        out.metricSnapshot(Family.counter("vswitch_pmd_rounds", "Polling rounds of the PMD thread")
            .add(pmd.rounds(), labels).build());
        out.metricSnapshot(Family.counter("vswitch_pmd_busy_rounds", "Polling rounds that took at least one frame")
            .add(pmd.busyRounds(), labels).build());
        out.metricSnapshot(Family.counter("vswitch_pmd_frames", "Frames the PMD thread took from all its ports")
            .add(pmd.framesTaken(), labels).build());
        // Busy time over frames is the PMD's cost per frame: the one figure that shows, live, a host whose memory
        // or cores got slower (bench/RESULTS.md: the same switch at 80 and at 130 ns per frame).
        out.metricSnapshot(Family.counter("vswitch_pmd_busy_seconds", "Time spent in rounds that took frames")
            .add(pmd.busyNanos() / 1e9, labels).build());
        out.metricSnapshot(HistogramSnapshot.builder().name("vswitch_pmd_poll_to_publish_seconds")
            .help("Time from the start of the polling round that took a frame to its used-ring publish")
            .dataPoint(histogram(latency.cumulative(), labels)).build());
        return out.build();
    }

    /** Prometheus classic buckets (counts per bucket, not cumulative) from an HdrHistogram of nanoseconds. */
    static HistogramSnapshot.HistogramDataPointSnapshot histogram(final Histogram h, final Labels labels)
    {
        final long[] counts = new long[BOUNDS.length];
        long below = 0;
        final long total = h.getTotalCount();
        for (int i = 0; i < BOUNDS.length - 1; i++)
        {
            final long upTo = Math.min(total, h.getCountBetweenValues(0, Math.round(BOUNDS[i] * 1e9)));
            counts[i] = Math.max(0, upTo - below);
            below += counts[i];
        }
        counts[BOUNDS.length - 1] = total - below;
        return HistogramSnapshot.HistogramDataPointSnapshot.builder()
            .classicHistogramBuckets(ClassicHistogramBuckets.of(BOUNDS, counts))
            // HdrHistogram keeps no exact sum; its mean is exact to the recorder's 3 significant digits.
            .sum(total == 0 ? 0 : h.getMean() * total / 1e9)
            .labels(labels)
            .build();
    }
}
