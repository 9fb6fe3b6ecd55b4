package dev.vswitch.pipeline;

/**
 * A network function in the pipeline. Stages run in the configured order on the PMD thread, once per frame, and
 * must not allocate, block, or log per frame. A stage may drop ({@link PacketEvent#drop}), choose a destination
 * ({@link PacketEvent#outPort}), or rewrite the parsed fields. Frames a stage dropped skip the remaining stages.
 */
public interface Stage
{
    String name();

    void process(PacketEvent event);

    /** Called once when the switch stops; release off-heap or file resources here. */
    default void close()
    {
    }
}
