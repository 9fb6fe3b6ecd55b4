package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Counters;
import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.spi.FdbView;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.SystemEpochClock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The forwarding database. Chronicle Map is the table of record: off-heap, optionally persisted to a file, and
 * safe to read from other threads (control API, stats). The PMD thread never pays a Chronicle Map call per frame:
 * it reads a primitive open-addressing cache ({@link MacCache}) and writes through to Chronicle Map only when an
 * entry changes (a new MAC, a move, an entry aged out).
 * <p>
 * Key: VLAN id in bits 48..59, MAC in bits 0..47. In the table of record the value is the port's NAME (port ids
 * change when the configuration is edited; names are what a restart can match), prefixed with {@code static:} for
 * an entry configured in YAML. In the cache the value packs the port id (bits 0..15), a static flag (bit 16) and
 * the second the entry was last seen (bits 32..63), so aging needs no write anywhere but the cache, and that only
 * once per second per live entry.
 * <p>
 * Limits: at most {@code capacity} entries in all; at most {@code portLimit} learned entries per port. A port at its
 * quota learns nothing more (new MACs and moves to it are rejected and counted) but never evicts another port's
 * entry, so a guest sending from random source MACs fills only its own quota. Static entries are never aged, never
 * moved by learning and not counted against a port's quota.
 * <p>
 * Threads: the PMD thread calls {@link #lookup}, {@link #learn}, {@link #age}, {@link #forgetPort}; any thread may
 * call {@link #size}, {@link #forEach} and read the counters (the switch's {@link Counters} scheme: the PMD writes).
 */
public final class MacTable implements FdbView, AutoCloseable
{
    /** Port ids must fit the 16 bits the cache value gives them. */
    public static final int MAX_PORTS = 0xFFFF;
    static final String STATIC_PREFIX = "static:";

    private static final String LOG = "fdb";
    private static final long PORT_MASK = 0xFFFF;
    private static final long STATIC_FLAG = 1L << 16;
    private static final int SEEN_SHIFT = 32;

    private final ChronicleMap<Long, String> table;
    private final MacCache cache;
    private final int capacity;
    private final int portLimit;
    private final long agingSeconds;
    private final String[] portNames;
    private final String[] staticValues;
    /** Read by any thread ({@link #forEach}); changed by the PMD ({@link #renamePort}). */
    private final Map<String, Integer> portIds = new java.util.concurrent.ConcurrentHashMap<>();
    private final int[] learnedOnPort;
    private final Counters rejectedOnPort;
    private int sweepIndex;
    private long now;

    private static final int LEARNED = 0;
    private static final int MOVED = 1;
    private static final int AGED = 2;
    private static final int REJECTED_PORT_LIMIT = 3;
    private static final int REJECTED_FULL = 4;
    private static final int DROPPED_ON_LOAD = 5;
    private final Counters totals = new Counters(6);

    private MacTable(final int capacity, final int portLimit, final int agingSeconds, final String[] portNames,
        final Path file, final EpochClock clock) throws IOException
    {
        if (capacity < 1 || portLimit < 1 || agingSeconds < 0 || portNames.length > MAX_PORTS)
        {
            throw new IllegalArgumentException("capacity " + capacity + ", port limit " + portLimit +
                ", aging " + agingSeconds + " s, " + portNames.length + " ports");
        }
        this.capacity = capacity;
        this.portLimit = portLimit;
        this.agingSeconds = agingSeconds;
        this.portNames = portNames.clone();
        this.staticValues = new String[portNames.length];
        for (int i = 0; i < portNames.length; i++)
        {
            portIds.put(portNames[i], i);
            staticValues[i] = STATIC_PREFIX + portNames[i];
        }
        this.learnedOnPort = new int[portNames.length];
        this.rejectedOnPort = new Counters(portNames.length);
        this.cache = new MacCache(capacity);
        this.now = clock.time() / 1000;
        this.table = file == null ? builder(capacity).create() : reload(file);
    }

    /** An in-memory table of at most {@code capacity} entries, ports "0".."255", no aging, no per-port quota. */
    public static MacTable inMemory(final int capacity)
    {
        try
        {
            return open(capacity, capacity, 0, numberedPorts(256), null, SystemEpochClock.INSTANCE);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);   // no file involved
        }
    }

    /**
     * Opens a table.
     *
     * @param capacity     most entries in all (learned and static)
     * @param portLimit    most learned entries per port
     * @param agingSeconds an entry not seen for longer is removed by {@link #age}; 0 = never
     * @param portNames    the current ports, indexed by port id
     * @param file         where the table is persisted, or {@code null}: entries whose port name is not in
     *                     {@code portNames} (and static entries, which come from the configuration) are dropped
     *                     when it is loaded; the rest count as seen now
     * @param clock        the time loaded entries were seen
     */
    public static MacTable open(final int capacity, final int portLimit, final int agingSeconds,
        final String[] portNames, final Path file, final EpochClock clock) throws IOException
    {
        return new MacTable(capacity, portLimit, agingSeconds, portNames, file, clock);
    }

    static String[] numberedPorts(final int count)
    {
        final String[] names = new String[count];
        for (int i = 0; i < count; i++)
        {
            names[i] = Integer.toString(i);
        }
        return names;
    }

    private static ChronicleMapBuilder<Long, String> builder(final int capacity)
    {
        return ChronicleMapBuilder.of(Long.class, String.class).name("fdb").entries(capacity)
            .averageValue(STATIC_PREFIX + "a-port-name1");
    }

    /**
     * Reads whatever a previous run left in {@code file}, then writes a fresh file with what still applies. A new
     * file (rather than editing the old one in place) means a changed capacity, or a file from an older version,
     * never leaves a table sized or shaped for another configuration.
     */
    private ChronicleMap<Long, String> reload(final Path file) throws IOException
    {
        final List<Long> keys = new ArrayList<>();
        final List<String> values = new ArrayList<>();
        if (Files.exists(file))
        {
            try (ChronicleMap<Long, String> old = builder(capacity).createPersistedTo(file.toFile()))
            {
                old.forEach((k, v) ->
                {
                    keys.add(k);
                    values.add(v);
                });
            }
            catch (final IOException | RuntimeException ex)
            {
                keys.clear();
                values.clear();
                Log.warn(LOG, "cannot read " + file + " (" + ex + "); starting with an empty table");
            }
            Files.delete(file);
        }
        final ChronicleMap<Long, String> created = builder(capacity).createPersistedTo(file.toFile());
        int kept = 0;
        int unknownPort = 0;
        int overLimit = 0;
        final long seen = now << SEEN_SHIFT;
        for (int i = 0; i < keys.size(); i++)
        {
            final String value = values.get(i);
            if (value.startsWith(STATIC_PREFIX))
            {
                continue;   // static entries are applied from the configuration, not remembered
            }
            final Integer port = portIds.get(value);
            if (port == null)
            {
                unknownPort++;
            }
            else if (cache.size() >= capacity || learnedOnPort[port] >= portLimit)
            {
                overLimit++;
            }
            else
            {
                final long key = keys.get(i);
                cache.put(key, seen | port);
                learnedOnPort[port]++;
                created.put(key, value);
                kept++;
            }
        }
        totals.add(DROPPED_ON_LOAD, unknownPort + overLimit);
        if (!keys.isEmpty())
        {
            Log.info(LOG, "loaded " + kept + " entries from " + file + "; dropped " + unknownPort +
                " of ports no longer configured" + (overLimit > 0 ? ", " + overLimit + " over the size/port limit" : ""));
        }
        return created;
    }

    public static long key(final int vlan, final long mac)
    {
        return ((long)(vlan & 0xfff) << 48) | (mac & 0xFFFF_FFFF_FFFFL);
    }

    /**
     * Adds a configured entry: never aged, never moved by learning, not counted against the port's quota. Replaces
     * a learned entry for the same key. Call before the data path starts, or on the PMD thread.
     *
     * @throws IllegalStateException if the table is full
     */
    public void addStatic(final int vlan, final long mac, final int port)
    {
        final long key = key(vlan, mac);
        final long known = cache.get(key);
        if (known == MacCache.MISSING && cache.size() >= capacity)
        {
            throw new IllegalStateException("fdb full (" + capacity + " entries): cannot add static entry");
        }
        if (known != MacCache.MISSING && (known & STATIC_FLAG) == 0)
        {
            learnedOnPort[(int)(known & PORT_MASK)]--;
        }
        cache.put(key, STATIC_FLAG | port);
        table.put(key, staticValues[port]);
    }

    /** Port the MAC was learned on, or {@link #NO_PORT}. PMD thread only. */
    public int lookup(final int vlan, final long mac)
    {
        final long value = cache.get(key(vlan, mac));
        return value == MacCache.MISSING ? NO_PORT : (int)(value & PORT_MASK);
    }

    /**
     * Learns, refreshes or moves a MAC. Cheap when nothing changes: one probe, and a cache store at most once per
     * second per entry (the last-seen time). PMD thread only.
     */
    public void learn(final int vlan, final long mac, final int port)
    {
        final long key = key(vlan, mac);
        final long known = cache.get(key);
        final long fresh = (now << SEEN_SHIFT) | port;
        if (known == fresh)
        {
            return;   // the steady state: same port, already seen this second
        }
        if (known == MacCache.MISSING)
        {
            if (learnedOnPort[port] >= portLimit)
            {
                rejectPortLimit(port);
                return;
            }
            if (cache.size() >= capacity)
            {
                totals.increment(REJECTED_FULL);
                return;
            }
            cache.put(key, fresh);
            learnedOnPort[port]++;
            table.put(key, portNames[port]);   // boxing only on change, never in the steady state
            totals.increment(LEARNED);
            return;
        }
        if ((known & STATIC_FLAG) != 0)
        {
            return;   // configured: learning never moves it
        }
        final int was = (int)(known & PORT_MASK);
        if (was == port)
        {
            cache.put(key, fresh);   // refresh the last-seen second; the table of record does not keep it
            return;
        }
        if (learnedOnPort[port] >= portLimit)
        {
            rejectPortLimit(port);   // a port at quota takes over no MAC either; the entry stays where it was
            return;
        }
        cache.put(key, fresh);
        learnedOnPort[was]--;
        learnedOnPort[port]++;
        table.put(key, portNames[port]);
        totals.increment(MOVED);
    }

    private void rejectPortLimit(final int port)
    {
        totals.increment(REJECTED_PORT_LIMIT);
        rejectedOnPort.increment(port);
    }

    /**
     * Sets the current time and checks the next {@code maxSlots} cache slots (continuing where the previous call
     * stopped) for learned entries not seen for more than the aging time; those are removed, so frames to them
     * flood again. Zero allocation unless an entry is removed. PMD thread only.
     *
     * @return the number of entries removed
     */
    public int age(final long nowSeconds, final int maxSlots)
    {
        now = nowSeconds;
        if (agingSeconds == 0)
        {
            return 0;
        }
        final MacCache cache = this.cache;
        final int slots = cache.slots();
        int index = sweepIndex;
        int removed = 0;
        int visited = 0;
        // Removals do not advance the sweep (the slot is looked at again) but are bounded by maxSlots too.
        while (visited < maxSlots && removed < maxSlots)
        {
            if (index >= slots)
            {
                index = 0;
            }
            if (cache.isUsed(index))
            {
                final long value = cache.valueAt(index);
                if ((value & STATIC_FLAG) == 0 && nowSeconds - (value >>> SEEN_SHIFT) > agingSeconds)
                {
                    final long key = cache.keyAt(index);
                    cache.removeAt(index);   // a later entry may shift into this slot: look at it again
                    learnedOnPort[(int)(value & PORT_MASK)]--;
                    table.remove(key);
                    totals.increment(AGED);
                    removed++;
                    continue;
                }
            }
            index++;
            visited++;
        }
        sweepIndex = index;
        return removed;
    }

    /** Slots a full aging sweep has to visit. */
    public int sweepSlots()
    {
        return cache.slots();
    }

    /**
     * Gives port id {@code port} a new name (a port added live in a free slot, or a removed port's slot). Call after
     * {@link #forgetPort} emptied the slot: entries are stored by name. PMD thread only.
     */
    public void renamePort(final int port, final String name)
    {
        portIds.remove(portNames[port], port);
        portNames[port] = name;
        staticValues[port] = STATIC_PREFIX + name;
        portIds.put(name, port);
    }

    /** Removes every learned or static entry of a port (e.g. when it is removed). PMD thread only. */
    public void forgetPort(final int port)
    {
        final MacCache cache = this.cache;
        int index = 0;
        while (index < cache.slots())
        {
            if (cache.isUsed(index) && (cache.valueAt(index) & PORT_MASK) == port)
            {
                final long value = cache.valueAt(index);
                final long key = cache.keyAt(index);
                cache.removeAt(index);
                if ((value & STATIC_FLAG) == 0)
                {
                    learnedOnPort[port]--;
                }
                table.remove(key);
                continue;   // re-examine the slot an entry may have shifted into
            }
            index++;
        }
    }

    /**
     * Removes the entry for (vlan, mac), learned or static. PMD thread only (or before the data path starts).
     *
     * @return the port it pointed to, or {@link #NO_PORT} if there was none
     */
    public int remove(final int vlan, final long mac)
    {
        final long key = key(vlan, mac);
        final long value = cache.get(key);
        if (value == MacCache.MISSING)
        {
            return NO_PORT;
        }
        cache.remove(key);
        if ((value & STATIC_FLAG) == 0)
        {
            learnedOnPort[(int)(value & PORT_MASK)]--;
        }
        table.remove(key);
        return (int)(value & PORT_MASK);
    }

    /**
     * Removes the learned entries of {@code port}, or of every port with {@link #NO_PORT}; static entries stay.
     * PMD thread only: one pass over the cache, which the caller runs between rounds.
     *
     * @return entries removed
     */
    public int flushLearned(final int port)
    {
        final MacCache cache = this.cache;
        int removed = 0;
        int index = 0;
        while (index < cache.slots())
        {
            if (cache.isUsed(index))
            {
                final long value = cache.valueAt(index);
                final int owner = (int)(value & PORT_MASK);
                if ((value & STATIC_FLAG) == 0 && (port == NO_PORT || owner == port))
                {
                    final long key = cache.keyAt(index);
                    cache.removeAt(index);
                    learnedOnPort[owner]--;
                    table.remove(key);
                    removed++;
                    continue;   // re-examine the slot an entry may have shifted into
                }
            }
            index++;
        }
        return removed;
    }

    /**
     * Seconds since each entry's key was last seen, from the PMD's cache (the table of record does not keep it); -1
     * for a static entry. PMD thread only: the caller copies {@code keys} into a request it answers off the PMD.
     */
    public void ages(final long[] keys, final int count, final long[] ages)
    {
        for (int i = 0; i < count; i++)
        {
            final long value = cache.get(keys[i]);
            ages[i] = value == MacCache.MISSING ? -2 : (value & STATIC_FLAG) != 0 ? -1 : now - (value >>> SEEN_SHIFT);
        }
    }

    /** Whether the table of record's value {@code value} marks a static entry. */
    public static boolean isStaticValue(final String value)
    {
        return value.startsWith(STATIC_PREFIX);
    }

    /** Visits the table of record: (key, port name, static). Any thread. */
    public void forEachEntry(final EntryVisitor visitor)
    {
        table.forEach((key, value) ->
        {
            final boolean isStatic = value.startsWith(STATIC_PREFIX);
            visitor.accept(key, isStatic ? value.substring(STATIC_PREFIX.length()) : value, isStatic);
        });
    }

    /** One entry of the table of record. */
    @FunctionalInterface
    public interface EntryVisitor
    {
        void accept(long key, String portName, boolean isStatic);
    }

    /** Number of entries in the table of record. Any thread. */
    public int size()
    {
        return table.size();
    }

    /** Visits the table of record: (key, port id). Any thread. */
    public void forEach(final BiConsumer<Long, Integer> visitor)
    {
        table.forEach((key, value) ->
        {
            final String name = value.startsWith(STATIC_PREFIX) ? value.substring(STATIC_PREFIX.length()) : value;
            visitor.accept(key, portIds.getOrDefault(name, NO_PORT));
        });
    }

    /** Ports the table keeps per-port counts for (ids 0..portCount-1). */
    public int portCount()
    {
        return learnedOnPort.length;
    }

    /** Learned (not static) entries on {@code port} now. Written by the PMD thread. */
    public int learnedOn(final int port)
    {
        return learnedOnPort[port];
    }

    /** New MACs and moves refused because {@code port} was at its quota. Written by the PMD thread. */
    public long rejectedOn(final int port)
    {
        return rejectedOnPort.get(port);
    }

    public int capacity()
    {
        return capacity;
    }

    public int portLimit()
    {
        return portLimit;
    }

    public long learnedTotal()
    {
        return totals.get(LEARNED);
    }

    public long movedTotal()
    {
        return totals.get(MOVED);
    }

    public long agedTotal()
    {
        return totals.get(AGED);
    }

    public long rejectedPortLimit()
    {
        return totals.get(REJECTED_PORT_LIMIT);
    }

    public long rejectedFull()
    {
        return totals.get(REJECTED_FULL);
    }

    /** Entries of the persisted file not loaded (port gone, or over the current limits). */
    public long droppedOnLoad()
    {
        return totals.get(DROPPED_ON_LOAD);
    }

    /** One line for the stats printer. Allocates; not for the PMD thread. */
    public String summary()
    {
        return "fdb " + size() + " entries, learned=" + learnedTotal() + " moved=" + movedTotal() + " aged=" +
            agedTotal() + " rejected-port-limit=" + rejectedPortLimit() + " rejected-full=" + rejectedFull();
    }

    @Override
    public void close()
    {
        table.close();
    }
}
