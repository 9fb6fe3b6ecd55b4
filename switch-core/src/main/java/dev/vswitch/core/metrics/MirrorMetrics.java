package dev.vswitch.core.metrics;

import dev.vswitch.pipeline.mirror.Mirror;
import dev.vswitch.pipeline.mirror.MirrorCounters;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import java.util.List;
import java.util.function.Supplier;

/** Each configured mirror's counters, labelled by the mirrored port and the destination (pcap file or tap). */
final class MirrorMetrics implements MultiCollector
{
    private final Supplier<List<Mirror>> mirrors;

    MirrorMetrics(final Supplier<List<Mirror>> mirrors)
    {
        this.mirrors = mirrors;
    }

    @Override
    public MetricSnapshots collect()
    {
        final Family mirrored = Family.counter("vswitch_mirror_mirrored", "Frames copied into the mirror's ring");
        final Family dropped = Family.counter("vswitch_mirror_dropped",
            "Frames not mirrored because the mirror's ring was full (the frame itself went on)");
        final Family written = Family.counter("vswitch_mirror_written", "Frames the mirror wrote to its file or tap");
        final Family errors = Family.counter("vswitch_mirror_write_errors",
            "Frames (tap) or flushes (pcap) the mirror failed to write");
        for (final Mirror m : mirrors.get())
        {
            final Labels labels = Labels.of("port", m.from(), "to", m.to());
            final MirrorCounters c = m.counters();
            mirrored.add(c.get(MirrorCounters.MIRRORED), labels);
            dropped.add(c.get(MirrorCounters.DROPPED), labels);
            written.add(c.get(MirrorCounters.WRITTEN), labels);
            errors.add(c.get(MirrorCounters.WRITE_ERRORS), labels);
        }
        return MetricSnapshots.of(mirrored.build(), dropped.build(), written.build(), errors.build());
    }
}
