package dev.vswitch.bench.jmh;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.stages.RateLimitStage;
import org.agrona.concurrent.SystemNanoClock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Scope;

/**
 * {@link RateLimitStage#process} for a frame from a policed port: one clock read, refill, take or drop. At
 * benchmark speed the 1 Mpps bucket is nearly always empty, so this is mostly the drop path; the event's verdict
 * is cleared before each op.
 */
@State(Scope.Thread)
public class RateLimitBench extends DataPathBenchmark
{
    private RateLimitStage limit;
    private final PacketEvent event = new PacketEvent();

    @Setup(Level.Trial)
    public void setUp()
    {
        checkForkFlags();
        limit = new RateLimitStage(RateLimitStage.NAME, SystemNanoClock.INSTANCE, 2, new int[] { 1 },
            new String[] { "vm2" }, 1_000_000, 32);
        event.reset(1);
    }

    @Benchmark
    public int process()
    {
        event.outPort = PacketEvent.OUT_UNDECIDED;
        limit.process(event);
        return event.outPort;
    }
}
