package dev.vswitch.bench.jmh;

import dev.vswitch.pipeline.stages.MacTable;
import org.agrona.concurrent.CachedEpochClock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The forwarding database as the PMD uses it, on a table holding {@code entries} MACs (a full table: capacity =
 * entries). Each op takes the next MAC of a shuffled walk over all of them, so the larger table also pays the cache
 * misses a real station population would.
 * <ul>
 * <li>{@code lookup}: {@link MacTable#lookup}, always a hit (forward stage, known unicast).</li>
 * <li>{@code learn}: {@link MacTable#learn} of a MAC on the port it is already on: the steady state of the
 * mac-learning stage (same MAC, same port, same second: one primitive probe, no write at all).</li>
 * <li>{@code ageSweep}: one {@link MacTable#age} step as the PMD's ager runs it ({@link #SWEEP_SLOTS} slots) over a
 * table with aging on and nothing stale: the per-round price of aging.</li>
 * </ul>
 * The table is configured as the switch runs it: aging on (300 s), a per-port quota (here the whole table).
 */
@State(Scope.Thread)
public class FdbBench extends DataPathBenchmark
{
    @Param({"1024", "65536"})
    int entries;

    private static final int VLAN = 0;
    private static final int PORTS = 8;
    private static final int SWEEP_SLOTS = 1024;

    private MacTable table;
    private long[] macs;
    private int[] ports;
    private int mask;
    private int next;
    private long learnedAtStart;
    private long now;

    @Setup(Level.Trial)
    public void setUp()
    {
        checkForkFlags();
        check(Integer.bitCount(entries) == 1, "entries must be a power of two");
        mask = entries - 1;
        final String[] names = new String[PORTS];
        for (int p = 0; p < PORTS; p++)
        {
            names[p] = "port" + p;
        }
        try
        {
            // A clock frozen at one second: the table and the sweep agree on "now" for the whole trial.
            final CachedEpochClock clock = new CachedEpochClock();
            clock.update(System.currentTimeMillis());
            now = clock.time() / 1000;
            table = MacTable.open(entries, entries, 300, names, null, clock);
        }
        catch (final java.io.IOException ex)
        {
            throw new IllegalStateException(ex);
        }
        macs = new long[entries];
        ports = new int[entries];
        final SplittableRandom random = new SplittableRandom(42);
        final Set<Long> seen = new HashSet<>();
        for (int i = 0; i < entries; i++)
        {
            long mac;
            do
            {
                // locally administered unicast: bit 1 of the first octet set, bit 0 clear
                mac = (random.nextLong() & 0xFEFF_FFFF_FFFFL) | 0x0200_0000_0000L;
            }
            while (!seen.add(mac));
            macs[i] = mac;
            ports[i] = i % PORTS;
            table.learn(VLAN, mac, ports[i]);
        }
        check(table.size() == entries && table.learnedTotal() == entries && table.rejectedFull() == 0,
            "fdb fill: size=" + table.size() + " rejected=" + table.rejectedFull());
        // Shuffle the probe order (Fisher-Yates) so consecutive ops hit unrelated cache lines.
        for (int i = entries - 1; i > 0; i--)
        {
            final int j = random.nextInt(i + 1);
            final long m = macs[i];
            macs[i] = macs[j];
            macs[j] = m;
            final int p = ports[i];
            ports[i] = ports[j];
            ports[j] = p;
        }
        for (int i = 0; i < entries; i++)
        {
            check(table.lookup(VLAN, macs[i]) == ports[i], "lookup miss after fill");
        }
        learnedAtStart = table.learnedTotal();
        closeAtExit(table);
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        if (table.learnedTotal() != learnedAtStart || table.rejectedFull() != 0 || table.agedTotal() != 0 ||
            table.movedTotal() != 0)
        {
            throw new IllegalStateException("learn was not steady state: learned " +
                (table.learnedTotal() - learnedAtStart) + " more, rejected " + table.rejectedFull() + ", aged " +
                table.agedTotal() + ", moved " + table.movedTotal());
        }
    }

    @Benchmark
    public int lookup()
    {
        final int i = next++ & mask;
        return table.lookup(VLAN, macs[i]);
    }

    @Benchmark
    public int learn()
    {
        final int i = next++ & mask;
        table.learn(VLAN, macs[i], ports[i]);
        return i;
    }

    @Benchmark
    public int ageSweep()
    {
        return table.age(now, SWEEP_SLOTS);
    }
}
