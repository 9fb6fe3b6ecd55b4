package dev.vswitch.pipeline.stages;

import org.agrona.concurrent.CachedEpochClock;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The control plane's FDB writes (run by the PMD): remove one entry, flush learned entries, look up ages. */
class MacTableControlTest
{
    private static final long A = 0x5254_0000_000AL;
    private static final long B = 0x5254_0000_000BL;
    private static final long C = 0x5254_0000_000CL;
    private static final long S = 0x0200_0000_5555L;

    @Test
    void removeFlushAndAges() throws Exception
    {
        final CachedEpochClock clock = new CachedEpochClock();
        clock.update(100_000);
        try (MacTable t = MacTable.open(64, 8, 300, new String[] { "vm1", "vm2" }, null, clock))
        {
            t.age(100, 1);
            t.learn(0, A, 0);
            t.learn(0, B, 1);
            t.learn(10, C, 1);
            t.addStatic(0, S, 1);
            assertEquals(1, t.learnedOn(0));
            assertEquals(2, t.learnedOn(1));

            t.age(107, 1);
            final long[] keys = { MacTable.key(0, A), MacTable.key(0, S), MacTable.key(0, C) };
            final long[] ages = new long[3];
            t.ages(keys, 3, ages);
            assertArrayEquals(new long[] { 7, -1, -2 }, ages, "seen 7 s ago, static, absent (C is in VLAN 10)");

            assertEquals(1, t.remove(10, C));
            assertEquals(MacTable.NO_PORT, t.remove(10, C));
            assertEquals(1, t.learnedOn(1), "quota given back");
            assertEquals(MacTable.NO_PORT, t.lookup(10, C));

            assertEquals(1, t.flushLearned(1), "learned B goes, static S stays");
            assertEquals(1, t.lookup(0, S));
            assertEquals(0, t.lookup(0, A));
            assertEquals(1, t.flushLearned(MacTable.NO_PORT));
            assertEquals(1, t.size());
            assertEquals(0, t.learnedOn(0));

            final List<String> seen = new ArrayList<>();
            t.forEachEntry((key, port, isStatic) -> seen.add(Long.toHexString(key) + " " + port + " " + isStatic));
            assertEquals(List.of("20000005555 vm2 true"), seen);
            assertEquals(1, t.remove(0, S), "static entries can be removed too");
            assertEquals(0, t.size());
        }
    }
}
