package dev.vswitch.pipeline.stages;

import java.util.Arrays;

/**
 * The PMD's view of the forwarding database: a fixed-size open-addressing map from a primitive key to a primitive
 * value (linear probing, backward-shift deletion, no tombstones). The number of entries is bounded by the FDB's
 * capacity, so the slot array is sized once (load factor at most 1/2) and never rehashes: no allocation after
 * construction, and slot indexes stay stable enough for an incremental sweep ({@link #keyAt}/{@link #valueAt}).
 * <p>
 * Single-threaded: only the PMD thread touches it.
 */
final class MacCache
{
    static final long MISSING = -1;
    private static final long EMPTY_KEY = -1;   // never a valid key: keys use bits 0..59 only

    private final long[] keys;
    private final long[] values;
    private final int mask;
    private final int shift;
    private int size;

    MacCache(final int maxEntries)
    {
        final int slots = Integer.highestOneBit(Math.max(16, maxEntries) * 2 - 1) << 1;
        keys = new long[slots];
        values = new long[slots];
        mask = slots - 1;
        shift = 64 - Integer.numberOfTrailingZeros(slots);
        Arrays.fill(keys, EMPTY_KEY);
    }

    private int home(final long key)
    {
        // Fibonacci hashing, top bits: the MAC's low bits are often sequential (02:00:00:00:00:01, ...:02).
        return (int)((key * 0x9E37_79B9_7F4A_7C15L) >>> shift);
    }

    long get(final long key)
    {
        int i = home(key);
        long k;
        while ((k = keys[i]) != EMPTY_KEY)
        {
            if (k == key)
            {
                return values[i];
            }
            i = (i + 1) & mask;
        }
        return MISSING;
    }

    /** Inserts or replaces. The caller keeps the entry count within the size given at construction. */
    void put(final long key, final long value)
    {
        int i = home(key);
        long k;
        while ((k = keys[i]) != EMPTY_KEY)
        {
            if (k == key)
            {
                values[i] = value;
                return;
            }
            i = (i + 1) & mask;
        }
        keys[i] = key;
        values[i] = value;
        size++;
    }

    /** Removes {@code key}; returns its value or {@link #MISSING}. */
    long remove(final long key)
    {
        int i = home(key);
        long k;
        while ((k = keys[i]) != EMPTY_KEY)
        {
            if (k == key)
            {
                final long value = values[i];
                removeAt(i);
                return value;
            }
            i = (i + 1) & mask;
        }
        return MISSING;
    }

    /**
     * Empties slot {@code index} and shifts later members of its probe chain back so lookups still find them.
     * The only slot at or before {@code index} that can receive a not-yet-visited entry is {@code index} itself
     * (others fill from slots after them), so a sweep that re-examines {@code index} after a removal misses nothing.
     */
    void removeAt(final int index)
    {
        int hole = index;
        int i = (index + 1) & mask;
        long k;
        while ((k = keys[i]) != EMPTY_KEY)
        {
            final int home = home(k);
            // Move k into the hole when its home is not cyclically within (hole, i].
            if (((i - home) & mask) >= ((i - hole) & mask))
            {
                keys[hole] = k;
                values[hole] = values[i];
                hole = i;
            }
            i = (i + 1) & mask;
        }
        keys[hole] = EMPTY_KEY;
        values[hole] = 0;
        size--;
    }

    int slots()
    {
        return keys.length;
    }

    boolean isUsed(final int index)
    {
        return keys[index] != EMPTY_KEY;
    }

    long keyAt(final int index)
    {
        return keys[index];
    }

    long valueAt(final int index)
    {
        return values[index];
    }

    void setValueAt(final int index, final long value)
    {
        values[index] = value;
    }

    int size()
    {
        return size;
    }
}
