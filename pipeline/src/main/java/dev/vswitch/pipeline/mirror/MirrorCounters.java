package dev.vswitch.pipeline.mirror;

import dev.vswitch.pipeline.Counters;

/**
 * Counters of one mirror, in the switch's one {@link Counters} scheme. MIRRORED and DROPPED have one writer, the
 * PMD thread (its {@link MirroredPort}); WRITTEN and WRITE_ERRORS have one writer, the mirror's writer thread.
 */
public final class MirrorCounters
{
    /** Frames copied into the mirror ring. */
    public static final int MIRRORED = 0;
    /** Frames not mirrored because the ring was full (the frame itself went on). */
    public static final int DROPPED = 1;
    /** Frames the writer took out of the ring and handed to the file or the tap. */
    public static final int WRITTEN = 2;
    /** Frames (tap) or flushes (pcap) the sink failed to write. */
    public static final int WRITE_ERRORS = 3;
    private static final int COUNT = 4;

    private final Counters values = new Counters(COUNT);

    public void increment(final int counter)
    {
        values.increment(counter);
    }

    public long get(final int counter)
    {
        return values.get(counter);
    }

    public String summary()
    {
        return "mirrored=" + get(MIRRORED) + " mirror-dropped=" + get(DROPPED) + " written=" + get(WRITTEN) +
            " write-errors=" + get(WRITE_ERRORS);
    }
}
