package dev.vswitch.pipeline.mirror;

import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.SwitchPort;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.EpochNanoClock;
import org.agrona.concurrent.ringbuffer.RingBuffer;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * One port mirror, whole: the {@link MirroredPort} that stands in for the mirrored port on the data path, the
 * {@link MirrorRing} it copies into, and the writer thread ({@link MirrorAgent}) that drains the ring into its
 * {@link MirrorSink} (a pcap file, {@link PcapFileSink}, or a TAP, {@link PortMirrorSink}). Everything about
 * mirroring is in this package; the switch only maps its configuration onto this constructor.
 * <p>
 * Life cycle, driven by the switch: built before the PMD (which must be given the decorator); {@link #start()}
 * opens the sink and starts the writer before the PMD starts; {@link #close()} only after the PMD stopped, so the
 * writer drains every copy the PMD made before the sink is closed.
 */
public final class Mirror implements AutoCloseable
{
    /** Opens a mirror's sink when it starts (the file or tap is created then, not when the mirror is built). */
    @FunctionalInterface
    public interface SinkOpener
    {
        MirrorSink open() throws IOException;
    }

    /** The writer sleeps up to this long when the ring is empty: how stale the file can be. */
    private static final long MAX_IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final String from;
    private final String to;
    private final String description;
    private final SinkOpener opener;
    private final int snaplen;
    private final String name;
    private final RingBuffer ring;
    private final MirrorCounters counters = new MirrorCounters();
    private final MirroredPort port;
    private MirrorSink sink;
    private AgentRunner runner;

    /**
     * @param from        the mirrored port's name.
     * @param to          where the copies go, as metrics label it (a file path, a tap name).
     * @param description for logs, e.g. {@code vm1 -> pcap /tmp/vm1.pcap (both)}.
     * @param direction   {@link MirroredPort#IN}, {@link MirroredPort#OUT} or {@link MirroredPort#BOTH}.
     * @param snaplen     bytes kept per copy; 0 for whole frames (up to the ring's largest message).
     */
    public Mirror(final String from, final String to, final String description, final int direction,
        final int snaplen, final SwitchPort port, final EpochNanoClock clock, final SinkOpener opener)
    {
        this.from = from;
        this.to = to;
        this.description = description;
        this.opener = opener;
        this.snaplen = snaplen;
        this.name = "mirror-" + from;
        this.ring = MirrorRing.allocate(MirrorRing.DEFAULT_CAPACITY);
        // Whole frames: up to the largest a port can hand over (a 64 KiB super-frame plus headers).
        this.port = new MirroredPort(port, ring, direction, snaplen > 0 ? snaplen : ring.maxMsgLength() - 64,
            clock, counters);
    }

    /** The decorator to give the PMD and the forwarding stage in place of the mirrored port. */
    public MirroredPort port()
    {
        return port;
    }

    /** The mirrored port's name. */
    public String from()
    {
        return from;
    }

    /** Where the copies go (a file path, a tap name). */
    public String to()
    {
        return to;
    }

    public MirrorCounters counters()
    {
        return counters;
    }

    /** Opens the sink (replacing a pcap file) and starts the writer thread. */
    public void start() throws IOException
    {
        try
        {
            sink = opener.open();
        }
        catch (final IOException ex)
        {
            throw new IOException("mirror of " + from + ": cannot open " + to + ": " + ex.getMessage(), ex);
        }
        // Sleeps when idle, and is not pinned: the PMD's CPU stays the PMD's.
        runner = new AgentRunner(new BackoffIdleStrategy(1, 1, TimeUnit.MICROSECONDS.toNanos(10), MAX_IDLE_NANOS),
            t -> Log.error(name, "writer error: " + t), null, new MirrorAgent(name, ring, sink, counters));
        AgentRunner.startOnThread(runner);
        Log.info(name, description + (snaplen > 0 ? ", snaplen " + snaplen : "") + ": started");
    }

    /** One line for the stats: what is mirrored where, and the counters. */
    public String summary()
    {
        return description + " " + counters.summary();
    }

    /** Drains the ring and closes the file or tap. Only once the PMD has stopped. Idempotent. */
    @Override
    public void close()
    {
        if (runner != null)
        {
            runner.close();   // the agent's onClose drains the rest and closes the sink
            runner = null;
        }
        else if (sink != null)
        {
            try
            {
                sink.close();
            }
            catch (final IOException ex)
            {
                Log.error(name, "close failed: " + ex.getMessage());
            }
        }
        sink = null;
    }
}
