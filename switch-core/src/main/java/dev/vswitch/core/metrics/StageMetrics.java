package dev.vswitch.core.metrics;

import dev.vswitch.pipeline.spi.StageCounters;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The counters stages registered through the stage SPI ({@code StageContext.counter}), built-in and user stages
 * alike: {@code vswitch_stage_NAME_total{stage="...", ...}}. Each reader runs here, at scrape time.
 */
final class StageMetrics implements MultiCollector
{
    private final StageCounters counters;

    StageMetrics(final StageCounters counters)
    {
        this.counters = counters;
    }

    @Override
    public MetricSnapshots collect()
    {
        final Map<String, Family> families = new LinkedHashMap<>();
        for (final StageCounters.Entry e : counters.entries())
        {
            final Family family = families.computeIfAbsent(e.name(),
                name -> Family.counter("vswitch_stage_" + name, e.help()));
            final List<String> names = new ArrayList<>(e.labelNames());
            final List<String> values = new ArrayList<>(e.labelValues());
            names.add(0, "stage");
            values.add(0, e.stage());
            final long value;
            try
            {
                value = e.reader().getAsLong();
            }
            catch (final RuntimeException ex)
            {
                continue;   // a broken user stage reader loses its own data point, not the scrape
            }
            family.add(value, Labels.of(names, values));
        }
        final MetricSnapshots.Builder out = MetricSnapshots.builder();
        families.values().forEach(f -> out.metricSnapshot(f.build()));
        return out.build();
    }
}
