package dev.vswitch.pipeline.stages;

import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import org.agrona.collections.Long2LongHashMap;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The forwarding database. Chronicle Map is the table of record: off-heap, optionally persisted to a file, and
 * safe to read from other threads (control API, stats). The PMD thread never pays a Chronicle Map call per frame:
 * it reads a primitive open-addressing cache and writes through to Chronicle Map only when an entry changes
 * (a new MAC, or a MAC that moved port).
 * <p>
 * Key: VLAN id in bits 48..59, MAC in bits 0..47. Value: port id.
 */
public final class MacTable implements AutoCloseable
{
    public static final int NO_PORT = -1;

    private final ChronicleMap<Long, Integer> table;
    private final Long2LongHashMap cache = new Long2LongHashMap(NO_PORT);
    private final int capacity;
    private long learnedTotal;
    private long rejectedFull;

    private MacTable(final ChronicleMap<Long, Integer> table, final int capacity)
    {
        this.table = table;
        this.capacity = capacity;
        for (final Map.Entry<Long, Integer> entry : table.entrySet())
        {
            cache.put(entry.getKey(), entry.getValue());
        }
    }

    /** An in-memory table (lost on restart) of at most {@code capacity} entries. */
    public static MacTable inMemory(final int capacity)
    {
        return new MacTable(builder(capacity).create(), capacity);
    }

    /** A table persisted to {@code file}, reloaded if the file exists. */
    public static MacTable persisted(final int capacity, final Path file) throws IOException
    {
        final File f = file.toFile();
        return new MacTable(builder(capacity).createPersistedTo(f), capacity);
    }

    private static ChronicleMapBuilder<Long, Integer> builder(final int capacity)
    {
        return ChronicleMapBuilder.of(Long.class, Integer.class).name("fdb").entries(capacity);
    }

    public static long key(final int vlan, final long mac)
    {
        return ((long)(vlan & 0xfff) << 48) | (mac & 0xFFFF_FFFF_FFFFL);
    }

    /** Port the MAC was learned on, or {@link #NO_PORT}. PMD thread only. */
    public int lookup(final int vlan, final long mac)
    {
        return (int)cache.get(key(vlan, mac));
    }

    /** Learns or moves a MAC. Cheap when nothing changes: one primitive map probe. PMD thread only. */
    public void learn(final int vlan, final long mac, final int port)
    {
        final long key = key(vlan, mac);
        final long known = cache.get(key);
        if (known == port)
        {
            return;
        }
        if (known == NO_PORT && cache.size() >= capacity)
        {
            rejectedFull++;
            return;
        }
        cache.put(key, port);
        table.put(key, port);   // boxing only on change, never in the steady state
        learnedTotal++;
    }

    /** Removes every entry of a port (e.g. when it is removed). PMD thread only. */
    public void forgetPort(final int port)
    {
        final Long2LongHashMap.KeyIterator it = cache.keySet().iterator();
        while (it.hasNext())
        {
            final long key = it.nextValue();
            if (cache.get(key) == port)
            {
                it.remove();
                table.remove(key);
            }
        }
    }

    /** Number of entries in the table of record. Any thread. */
    public int size()
    {
        return table.size();
    }

    /** Visits the table of record: (key, port). Any thread. */
    public void forEach(final BiConsumer<Long, Integer> visitor)
    {
        table.forEach(visitor);
    }

    public long learnedTotal()
    {
        return learnedTotal;
    }

    public long rejectedFull()
    {
        return rejectedFull;
    }

    @Override
    public void close()
    {
        table.close();
    }
}
