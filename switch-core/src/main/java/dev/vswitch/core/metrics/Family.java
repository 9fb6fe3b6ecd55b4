package dev.vswitch.core.metrics;

import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;

/**
 * A metric family being filled at scrape time: a counter or a gauge with its name and help, and one data point per
 * label set. Counter names are given without {@code _total}; the exposition format adds it.
 */
final class Family
{
    private final CounterSnapshot.Builder counter;
    private final GaugeSnapshot.Builder gauge;

    private Family(final CounterSnapshot.Builder counter, final GaugeSnapshot.Builder gauge)
    {
        this.counter = counter;
        this.gauge = gauge;
    }

    static Family counter(final String name, final String help)
    {
        return new Family(CounterSnapshot.builder().name(name).help(help), null);
    }

    static Family gauge(final String name, final String help)
    {
        return new Family(null, GaugeSnapshot.builder().name(name).help(help));
    }

    Family add(final double value, final Labels labels)
    {
        if (counter != null)
        {
            counter.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().value(value).labels(labels).build());
        }
        else
        {
            gauge.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().value(value).labels(labels).build());
        }
        return this;
    }

    Family add(final double value)
    {
        return add(value, Labels.EMPTY);
    }

    io.prometheus.metrics.model.snapshots.MetricSnapshot build()
    {
        return counter != null ? counter.build() : gauge.build();
    }
}
