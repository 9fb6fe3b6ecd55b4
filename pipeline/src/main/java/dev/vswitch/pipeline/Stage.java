package dev.vswitch.pipeline;

/**
 * A network function in the pipeline. Stages run in the configured order on the PMD thread, once per frame, and
 * must not allocate, block, or log per frame. A stage may drop ({@link PacketEvent#drop}), redirect (set
 * {@link PacketEvent#outPort}; forward honours it), or modify the frame (edit {@link PacketEvent#head}; after
 * classify, which commits the head, the edit is what the destinations get; {@link PacketEvent#commitHead} is
 * idempotent); it may also rewrite the parsed fields. Frames a stage dropped skip the remaining
 * stages. Stages are made by a {@link dev.vswitch.pipeline.spi.StageFactory} named in the YAML.
 */
public interface Stage
{
    String name();

    void process(PacketEvent event);

    /**
     * Appends this stage's statistics (one line, no trailing newline) for the periodic stats log; called from the
     * stats thread, so read counters written by the PMD thread with opaque or volatile loads. Nothing by default.
     */
    default void report(final StringBuilder out)
    {
    }

    /** Called once when the switch stops; release off-heap or file resources here. */
    default void close()
    {
    }
}
