package dev.vswitch.pipeline.spi;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * The counters stages export, registered while the switch builds its pipeline and read when metrics are scraped.
 * A stage's factory registers each counter once, by name and labels, through {@link StageContext#counter} (which
 * fills in the stage's name); the stage increments the {@link StageCounter} it got back on the PMD thread. A stage
 * that already keeps its own counters registers a reader instead ({@link StageContext#counter(String, String,
 * LongSupplier, String...)}), called only at scrape time. Nothing here runs per frame.
 * <p>
 * Exported as {@code vswitch_stage_NAME_total{stage="STAGE", LABELS}}: NAME is lower-case {@code [a-z][a-z0-9_]*}
 * without the {@code _total} suffix; label names follow the same rule and may not be {@code stage}.
 */
public final class StageCounters
{
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,63}");

    /** One registered counter: its metric name (without prefix or suffix), help, stage, labels and reader. */
    public record Entry(String name, String help, String stage, List<String> labelNames, List<String> labelValues,
        LongSupplier reader)
    {
    }

    private final List<Entry> entries = new CopyOnWriteArrayList<>();

    /** Registers a counter the stage increments on the PMD thread. */
    public StageCounter counter(final String stage, final String name, final String help, final String... labels)
    {
        final OpaqueStageCounter counter = new OpaqueStageCounter();
        register(stage, name, help, counter::get, labels);
        return counter;
    }

    /** Registers a reader of a count the stage keeps itself; called from the scraping thread only. */
    public void register(final String stage, final String name, final String help, final LongSupplier reader,
        final String... labels)
    {
        if (name == null || !NAME.matcher(name).matches() || name.endsWith("_total"))
        {
            throw new IllegalArgumentException("stage counter name must be [a-z][a-z0-9_]* (up to 64) without the " +
                "_total suffix, got '" + name + "'");
        }
        if (help == null || help.isBlank())
        {
            throw new IllegalArgumentException("stage counter " + name + " needs a help text");
        }
        if (labels.length % 2 != 0)
        {
            throw new IllegalArgumentException("stage counter " + name + ": labels are name/value pairs, got " +
                Arrays.toString(labels));
        }
        final List<String> labelNames = new ArrayList<>();
        final List<String> labelValues = new ArrayList<>();
        for (int i = 0; i < labels.length; i += 2)
        {
            final String label = labels[i];
            if (label == null || !NAME.matcher(label).matches() || label.equals("stage") || labelNames.contains(label))
            {
                throw new IllegalArgumentException("stage counter " + name + ": bad or repeated label name '" + label +
                    "' (lower-case [a-z][a-z0-9_]*, not 'stage')");
            }
            if (labels[i + 1] == null)
            {
                throw new IllegalArgumentException("stage counter " + name + ": label " + label + " has no value");
            }
            labelNames.add(label);
            labelValues.add(labels[i + 1]);
        }
        for (final Entry e : entries)
        {
            if (e.name.equals(name) && e.stage.equals(stage) && e.labelNames.equals(labelNames) &&
                e.labelValues.equals(labelValues))
            {
                throw new IllegalArgumentException("stage " + stage + " registered counter " + name + labelNames +
                    labelValues + " twice");
            }
        }
        entries.add(new Entry(name, help, stage, List.copyOf(labelNames), List.copyOf(labelValues), reader));
    }

    /** Everything registered so far, in registration order. Any thread. */
    public List<Entry> entries()
    {
        return Collections.unmodifiableList(entries);
    }
}
