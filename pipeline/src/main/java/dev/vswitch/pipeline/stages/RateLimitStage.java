package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Counters;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import org.agrona.concurrent.NanoClock;

/**
 * Ingress policing: a token bucket per policed port limits the frames the switch takes from that port to
 * {@code pps} per second, with bursts of up to {@code burst} frames after an idle spell. A frame over budget is
 * dropped as {@link DropReason#RATE_LIMITED}; frames from other ports pass untouched.
 *
 * <p>Credit is kept in integer "frame-nanoseconds" so refilling is exact without floating point: one frame costs
 * 10^9 units, a port earns {@code pps} units per elapsed nanosecond, and holds at most {@code burst * 10^9}. The
 * clock is read once per frame (System.nanoTime by default, no allocation). A full bucket at start.
 */
public final class RateLimitStage implements Stage
{
    public static final String NAME = "rate-limit";
    public static final long MAX_PPS = 100_000_000L;
    public static final long MAX_BURST = 10_000_000L;
    private static final long FRAME_COST = 1_000_000_000L;

    private final String name;
    private final NanoClock clock;
    /** Bucket index per port id, -1 when the port is not policed. */
    private final int[] bucketOfPort;
    private final String[] bucketPortNames;
    private final long[] pps;
    private final long[] capacity;
    private final long[] credit;
    private final long[] lastRefill;
    /** Per bucket, in the {@link Counters} scheme (the PMD writes). */
    private final Counters passed;
    private final Counters dropped;

    /**
     * @param portCount    ports in the switch (ids 0..portCount-1).
     * @param policedPorts ids of the policed ports, each with its own bucket.
     * @param portNames    names of the policed ports, for the stats line.
     */
    public RateLimitStage(final String name, final NanoClock clock, final int portCount, final int[] policedPorts,
        final String[] portNames, final long pps, final long burst)
    {
        if (pps < 1 || pps > MAX_PPS || burst < 1 || burst > MAX_BURST)
        {
            throw new IllegalArgumentException("pps must be 1.." + MAX_PPS + " and burst 1.." + MAX_BURST);
        }
        this.name = name;
        this.clock = clock;
        bucketOfPort = new int[portCount];
        java.util.Arrays.fill(bucketOfPort, -1);
        final int n = policedPorts.length;
        bucketPortNames = portNames.clone();
        this.pps = new long[n];
        capacity = new long[n];
        credit = new long[n];
        lastRefill = new long[n];
        passed = new Counters(n);
        dropped = new Counters(n);
        final long now = clock.nanoTime();
        for (int b = 0; b < n; b++)
        {
            bucketOfPort[policedPorts[b]] = b;
            this.pps[b] = pps;
            capacity[b] = burst * FRAME_COST;
            credit[b] = capacity[b];
            lastRefill[b] = now;
        }
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public void process(final PacketEvent e)
    {
        final int b = bucketOfPort[e.inPort];
        if (b < 0)
        {
            return;
        }
        final long now = clock.nanoTime();
        final long cap = capacity[b];
        final long rate = pps[b];
        // Elapsed time is capped at what refills an empty bucket, so elapsed * rate cannot overflow.
        final long elapsed = Math.min(now - lastRefill[b], cap / rate + 1);
        lastRefill[b] = now;
        long c = credit[b];
        if (elapsed > 0)
        {
            c = Math.min(cap, c + elapsed * rate);
        }
        if (c >= FRAME_COST)
        {
            credit[b] = c - FRAME_COST;
            passed.increment(b);
        }
        else
        {
            credit[b] = c;
            dropped.increment(b);
            e.drop(DropReason.RATE_LIMITED);
        }
    }

    /** Frames from {@code portId} that were within budget; 0 for a port this stage does not police. */
    public long passed(final int portId)
    {
        final int b = bucketOfPort[portId];
        return b < 0 ? 0 : passed.get(b);
    }

    /** Frames from {@code portId} dropped over budget. */
    public long dropped(final int portId)
    {
        final int b = bucketOfPort[portId];
        return b < 0 ? 0 : dropped.get(b);
    }

    @Override
    public void report(final StringBuilder out)
    {
        for (int b = 0; b < pps.length; b++)
        {
            out.append(b == 0 ? "" : "; ").append(bucketPortNames[b]).append(' ').append(pps[b]).append(" pps burst ")
                .append(capacity[b] / FRAME_COST).append(": passed=").append(passed.get(b))
                .append(" dropped=").append(dropped.get(b));
        }
    }
}
