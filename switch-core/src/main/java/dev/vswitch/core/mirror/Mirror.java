package dev.vswitch.core.mirror;

import dev.vswitch.core.config.MirrorConfig;
import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.mirror.MirrorAgent;
import dev.vswitch.pipeline.mirror.MirrorCounters;
import dev.vswitch.pipeline.mirror.MirrorRing;
import dev.vswitch.pipeline.mirror.MirrorSink;
import dev.vswitch.pipeline.mirror.MirroredPort;
import dev.vswitch.pipeline.mirror.PcapFileSink;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.EpochNanoClock;
import org.agrona.concurrent.ringbuffer.RingBuffer;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * One configured mirror: the {@link MirroredPort} that stands in for the mirrored port on the data path, the ring
 * it copies into, and the writer thread that drains the ring into a pcap file or a tap.
 * <p>
 * Life cycle, driven by the switch: built before the PMD (which must be given the decorator); {@link #start()}
 * opens the file or tap and starts the writer before the PMD starts; {@link #close()} only after the PMD stopped,
 * so the writer drains every copy the PMD made before the file is closed.
 */
public final class Mirror implements AutoCloseable
{
    /** The writer sleeps up to this long when the ring is empty: how stale the file can be. */
    private static final long MAX_IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final MirrorConfig config;
    private final String name;
    private final RingBuffer ring;
    private final MirrorCounters counters = new MirrorCounters();
    private final MirroredPort port;
    private MirrorSink sink;
    private AgentRunner runner;

    public Mirror(final MirrorConfig config, final SwitchPort port, final EpochNanoClock clock)
    {
        this.config = config;
        this.name = "mirror-" + config.from();
        this.ring = MirrorRing.allocate(MirrorRing.DEFAULT_CAPACITY);
        final int direction = switch (config.direction())
        {
            case IN -> MirroredPort.IN;
            case OUT -> MirroredPort.OUT;
            case BOTH -> MirroredPort.BOTH;
        };
        // A tap gets whole frames: up to the largest a port can hand over (a 64 KiB super-frame plus headers).
        final int snaplen = config.toPcap() != null ? config.snaplen() : ring.maxMsgLength() - 64;
        this.port = new MirroredPort(port, ring, direction, snaplen, clock, counters);
    }

    /** The decorator to give the PMD and the forwarding stage in place of the mirrored port. */
    public MirroredPort port()
    {
        return port;
    }

    public MirrorConfig config()
    {
        return config;
    }

    public MirrorCounters counters()
    {
        return counters;
    }

    /** Opens the pcap file (replacing it) or the tap, and starts the writer thread. */
    public void start() throws IOException
    {
        try
        {
            sink = config.toPcap() != null ? PcapFileSink.create(config.toPcap(), config.snaplen()) :
                TapMirrorSink.open(name, config.toTap());
        }
        catch (final IOException ex)
        {
            throw new IOException("mirror of " + config.from() + ": cannot open " +
                (config.toPcap() != null ? "pcap file " + config.toPcap() : "tap " + config.toTap()) + ": " +
                ex.getMessage(), ex);
        }
        // Sleeps when idle, and is not pinned: the PMD's CPU stays the PMD's.
        runner = new AgentRunner(new BackoffIdleStrategy(1, 1, TimeUnit.MICROSECONDS.toNanos(10), MAX_IDLE_NANOS),
            t -> Log.error(name, "writer error: " + t), null, new MirrorAgent(name, ring, sink, counters));
        AgentRunner.startOnThread(runner);
        Log.info(name, config.describe() + (config.toPcap() != null ? ", snaplen " + config.snaplen() : "") +
            ": started");
    }

    /** One line for the stats: what is mirrored where, and the counters. */
    public String summary()
    {
        return config.describe() + " " + counters.summary();
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
