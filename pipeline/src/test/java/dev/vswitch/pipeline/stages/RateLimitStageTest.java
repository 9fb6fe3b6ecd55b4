package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import org.agrona.concurrent.NanoClock;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The token bucket against a manual clock: exact budgets, per-port buckets, unpoliced ports untouched. */
class RateLimitStageTest
{
    private long now = 1_000_000_000L;
    private final NanoClock clock = () -> now;
    private final PacketEvent e = new PacketEvent();

    private boolean passes(final RateLimitStage stage, final int inPort)
    {
        e.reset(inPort);
        stage.process(e);
        if (e.isDropped())
        {
            assertEquals(DropReason.RATE_LIMITED, e.dropReason);
        }
        return !e.isDropped();
    }

    private int passCount(final RateLimitStage stage, final int inPort, final int frames)
    {
        int passed = 0;
        for (int i = 0; i < frames; i++)
        {
            passed += passes(stage, inPort) ? 1 : 0;
        }
        return passed;
    }

    @Test
    void burstThenExactlyPpsPerSecond()
    {
        final RateLimitStage stage = new RateLimitStage("rate-limit", clock, 3, new int[] { 1 }, new String[] { "vm2" },
            1000, 50);
        assertEquals(50, passCount(stage, 1, 200), "a full bucket lets the burst through at once");
        now += 10_000_000L;   // 10 ms = 10 frames of credit
        assertEquals(10, passCount(stage, 1, 100));
        now += 999_999L;      // just under one frame
        assertFalse(passes(stage, 1));
        now += 1L;
        assertTrue(passes(stage, 1));
        // Over 1 s in 1 ms steps, flooding: exactly 1000 more.
        int passed = 0;
        for (int ms = 0; ms < 1000; ms++)
        {
            now += 1_000_000L;
            passed += passCount(stage, 1, 20);
        }
        assertEquals(1000, passed);
        assertEquals(50 + 10 + 1 + 1000, stage.passed(1));
        assertEquals(150 + 90 + 1 + 1000 * 19, stage.dropped(1));
        assertEquals(1000, passCount(stage, 0, 1000), "port 0 is not policed");
        assertEquals(0, stage.passed(0));
    }

    @Test
    void idleTimeRefillsOnlyUpToTheBurstAndPortsHaveTheirOwnBuckets()
    {
        final RateLimitStage stage = new RateLimitStage("rate-limit", clock, 2, new int[] { 0, 1 },
            new String[] { "vm1", "vm2" }, 100_000_000L, 32);
        assertEquals(32, passCount(stage, 0, 100));
        assertEquals(32, passCount(stage, 1, 100), "port 1's bucket is its own");
        now += 3_600_000_000_000L;   // an hour idle at the highest rate: still only the burst, no overflow
        assertEquals(32, passCount(stage, 0, 100));
        final StringBuilder sb = new StringBuilder();
        stage.report(sb);
        assertEquals("vm1 100000000 pps burst 32: passed=64 dropped=136; vm2 100000000 pps burst 32: passed=32 dropped=68",
            sb.toString());
    }

    @Test
    void refusesRatesOutOfRange()
    {
        assertThrows(IllegalArgumentException.class, () -> new RateLimitStage("r", clock, 1, new int[] { 0 },
            new String[] { "a" }, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new RateLimitStage("r", clock, 1, new int[] { 0 },
            new String[] { "a" }, 10, 0));
    }
}
