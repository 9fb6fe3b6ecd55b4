package dev.vswitch.pipeline.stages;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MacCacheTest
{
    @Test
    void randomPutsAndRemovesAgreeWithAHashMap()
    {
        final int max = 1000;
        final MacCache cache = new MacCache(max);
        final Map<Long, Long> reference = new HashMap<>();
        final List<Long> keys = new ArrayList<>();
        final SplittableRandom random = new SplittableRandom(7);
        // Few distinct key values in a small table: long probe chains that wrap around the end of the array.
        for (int i = 0; i < 3000; i++)
        {
            keys.add(random.nextLong(0, 1L << 60));
        }
        for (int op = 0; op < 200_000; op++)
        {
            final long key = keys.get(random.nextInt(keys.size()));
            if (random.nextBoolean() && (reference.size() < max || reference.containsKey(key)))
            {
                final long value = random.nextLong(0, Long.MAX_VALUE);
                cache.put(key, value);
                reference.put(key, value);
            }
            else
            {
                final Long expected = reference.remove(key);
                assertEquals(expected == null ? MacCache.MISSING : expected, cache.remove(key), "op " + op);
            }
            assertEquals(reference.size(), cache.size());
        }
        for (final long key : keys)
        {
            assertEquals(reference.getOrDefault(key, MacCache.MISSING), cache.get(key));
        }
        int used = 0;
        for (int i = 0; i < cache.slots(); i++)
        {
            used += cache.isUsed(i) ? 1 : 0;
        }
        assertEquals(reference.size(), used);
    }

    @Test
    void slotsAtLeastTwiceTheEntries()
    {
        assertEquals(32, new MacCache(16).slots());
        assertEquals(64, new MacCache(17).slots());
        assertEquals(131072, new MacCache(65536).slots());
    }
}
