package dev.vswitch.pipeline;

/**
 * A port as the data path sees it. All methods except {@link #name()}, {@link #id()} and {@link #counters()} are
 * called only from the PMD thread that owns the port; implementations need no locking on them.
 * "Receive" is from the switch's point of view: frames the port hands to the switch (a guest's TX ring).
 */
public interface SwitchPort
{
    int id();

    String name();

    /**
     * Claims up to {@code budget} frames from the port and publishes them. The budget bounds the work one port can
     * do per round, so a busy or hostile peer cannot starve the others.
     *
     * @return frames published.
     */
    int receive(PacketPublisher publisher, int budget);

    /**
     * Copies the frame described by {@code event} into the port (a guest's RX ring). Called once per destination.
     *
     * @return true if delivered; false if dropped (and counted here).
     */
    boolean transmit(PacketEvent event);

    /**
     * A round has taken {@code frames} frames, the longest {@code longestFrame} bytes, and is about to run them
     * through the stages: a port may get ready for up to that many transmits (e.g. start pulling the destination
     * buffers' cache lines). Must not change what the port delivers.
     */
    default void prepareTransmit(int frames, int longestFrame)
    {
    }

    /** The pipeline is done with a frame this port received: give its buffers back to the source. */
    void complete(PacketEvent event);

    /** End of a PMD round: publish batched ring updates and send the notifications the peer asked for. */
    void flush();

    /**
     * PMD thread: adds what the port counts per round rather than per frame (a vhost-user port's delivered frames
     * and bytes) to its counters now, instead of at its next {@link #flush}. For a reader on the PMD thread that needs
     * them exact mid-round: the frame tracer, which reads the counters around one frame's delivery.
     */
    default void publishCounts()
    {
    }

    /** True when the port can currently take frames (used to skip it when flooding). */
    boolean isUp();

    /**
     * False for a port that never receives and has nothing to prepare or flush: a free slot kept for a port added
     * live, or a configured port that could not be opened. The PMD does not poll such a port, and does not count it
     * when it shares the round's ring among the ports; frames sent to it still reach {@link #transmit} (and are
     * counted as dropped there). Fixed for the port's life: the PMD reads it when the port is installed.
     */
    default boolean polled()
    {
        return true;
    }

    PortCounters counters();

    /**
     * Asked on the PMD thread after something was thrown while it served some port: true if this port's own state
     * explains it (e.g. its guest memory was truncated under the mappings). Must be cheap and must not throw.
     */
    default boolean isDamaged()
    {
        return false;
    }

    /**
     * Called on the PMD thread when {@link #receive} threw: the frames it claimed are published as dropped without
     * completions, so a port that had taken buffers from its peer must give them back (or take them again).
     */
    default void abortReceive()
    {
    }

    /**
     * Takes the port out of the data path after a fault, on the PMD thread: it must stop reading and writing the
     * peer's memory at once (the next rounds skip it) and leave the rest (reset, reconnect) to its control plane.
     */
    default void quarantine(String reason)
    {
    }
}
