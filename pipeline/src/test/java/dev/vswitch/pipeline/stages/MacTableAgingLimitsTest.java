package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Delivery;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.testing.FakePort;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import org.agrona.concurrent.CachedEpochClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Aging, the global and per-port limits, moves, static entries and persistence by port name. */
class MacTableAgingLimitsTest
{
    static final long A = 0x5254_0000_000AL;
    static final long B = 0x5254_0000_000BL;
    static final long C = 0x5254_0000_000CL;
    static final long S = 0x0200_0000_5555L;

    private final CachedEpochClock clock = new CachedEpochClock();
    private final List<MacTable> open = new ArrayList<>();

    private MacTable open(final int capacity, final int portLimit, final int aging, final Path file,
        final String... ports) throws Exception
    {
        final MacTable table = MacTable.open(capacity, portLimit, aging, ports, file, clock);
        open.add(table);
        return table;
    }

    private void setSeconds(final long seconds)
    {
        clock.update(seconds * 1000);
    }

    @AfterEach
    void closeTables()
    {
        for (final MacTable t : open)
        {
            try
            {
                t.close();
            }
            catch (final RuntimeException ignored)
            {
                // closed by the test
            }
        }
    }

    private static int sweep(final MacTable table, final long now)
    {
        return table.age(now, table.sweepSlots());
    }

    private static Map<Long, Integer> contents(final MacTable table)
    {
        final Map<Long, Integer> map = new HashMap<>();
        table.forEach(map::put);
        return map;
    }

    /** Forwards a frame from {@code in} to {@code dst} (forward stage, then delivery); returns the verdict. */
    private static int forward(final MacTable table, final FakePort[] ports, final int in, final long dst)
    {
        final PacketEvent e = new PacketEvent();
        e.reset(in);
        e.srcMac = 0x0200_0000_0F00L + in;
        e.dstMac = dst;
        new ForwardStage(table, ports).process(e);
        new Delivery(ports, null).deliver(e);
        return e.outPort;
    }

    @Test
    void entryNotSeenForTheAgingTimeIsRemovedAndFramesToItFloodAgain() throws Exception
    {
        setSeconds(1000);
        final MacTable table = open(64, 64, 10, null, "vm1", "vm2");
        final FakePort[] ports = { new FakePort(0), new FakePort(1) };
        table.learn(0, A, 1);
        assertEquals(1, forward(table, ports, 0, A));

        assertEquals(0, sweep(table, 1005));
        assertEquals(0, sweep(table, 1010), "not seen for exactly 10 s: kept");
        assertEquals(1, table.lookup(0, A));

        assertEquals(1, sweep(table, 1011));
        assertEquals(MacTable.NO_PORT, table.lookup(0, A));
        assertEquals(0, table.size());
        assertEquals(1, table.agedTotal());
        assertEquals(0, table.learnedOn(1));
        assertEquals(PacketEvent.OUT_FLOOD, forward(table, ports, 0, A));
        assertEquals(1, ports[0].counters().get(PortCounters.FLOODED));
        assertEquals(1, ports[0].counters().get(PortCounters.UNICAST));

        table.learn(0, A, 1);   // the station speaks again: learned again, counted again
        assertEquals(1, table.lookup(0, A));
        assertEquals(2, table.learnedTotal());
        assertEquals(1, table.learnedOn(1));
    }

    @Test
    void aLiveEntryIsRefreshedAndKept() throws Exception
    {
        setSeconds(1000);
        final MacTable table = open(64, 64, 10, null, "vm1", "vm2");
        table.learn(0, A, 0);
        table.learn(0, B, 1);
        table.age(1008, 0);
        table.learn(0, A, 0);   // A speaks at 1008, B does not

        assertEquals(1, sweep(table, 1015));
        assertEquals(0, table.lookup(0, A));
        assertEquals(MacTable.NO_PORT, table.lookup(0, B));
        assertEquals(2, table.learnedTotal(), "a refresh is not a new entry");
        assertEquals(1, table.size());

        assertEquals(1, sweep(table, 1019));
        assertEquals(MacTable.NO_PORT, table.lookup(0, A));
    }

    @Test
    void agingZeroNeverRemoves() throws Exception
    {
        setSeconds(1000);
        final MacTable table = open(64, 64, 0, null, "vm1");
        table.learn(0, A, 0);
        assertEquals(0, sweep(table, 1_000_000));
        assertEquals(0, table.lookup(0, A));
    }

    @Test
    void incrementalSweepRemovesEverythingStaleAcrossManyCalls() throws Exception
    {
        setSeconds(1000);
        final MacTable table = open(20_000, 20_000, 5, null, "vm1", "vm2");
        for (int i = 0; i < 10_000; i++)
        {
            table.learn(0, 0x0200_0000_0000L + i, i % 2);
        }
        table.age(1003, 0);
        for (int i = 0; i < 10_000; i += 2)
        {
            table.learn(0, 0x0200_0000_0000L + i, 0);   // port 0's stations stay alive
        }
        int removed = 0;
        for (int calls = 0; calls * 100 < table.sweepSlots(); calls++)
        {
            removed += table.age(1007, 100);
        }
        assertEquals(5000, removed);
        assertEquals(5000, table.size());
        assertEquals(5000, table.learnedOn(0));
        assertEquals(0, table.learnedOn(1));
        for (int i = 0; i < 10_000; i++)
        {
            assertEquals(i % 2 == 0 ? 0 : MacTable.NO_PORT, table.lookup(0, 0x0200_0000_0000L + i), "mac " + i);
        }
    }

    @Test
    void aMillionRandomSourcesFromOnePortFillOnlyItsQuota() throws Exception
    {
        final int quota = 1000;
        final MacTable table = open(65536, quota, 300, null, "flooder", "vm1", "vm2");
        final MacLearningStage learning = new MacLearningStage(table);
        final FakePort[] ports = { new FakePort(0), new FakePort(1), new FakePort(2) };
        for (int i = 0; i < 50; i++)
        {
            table.learn(0, 0x0200_0001_0000L + i, 1);
            table.learn(0, 0x0200_0002_0000L + i, 2);
        }

        final SplittableRandom random = new SplittableRandom(1);
        final PacketEvent e = new PacketEvent();
        for (int i = 0; i < 1_000_000; i++)
        {
            e.reset(0);
            e.srcMac = random.nextLong() & 0xFEFF_FFFF_FFFFL;   // any unicast source, including the victims' MACs
            if (i > quota && i % 1000 == 0)
            {
                e.srcMac = 0x0200_0001_0000L + (i / 1000) % 50;   // spoofing vm1's stations outright
            }
            learning.process(e);
        }

        assertEquals(quota, table.learnedOn(0));
        assertEquals(50, table.learnedOn(1));
        assertEquals(50, table.learnedOn(2));
        assertEquals(quota + 100, table.size());
        assertEquals(1_000_000 - quota, table.rejectedOn(0));
        assertEquals(1_000_000 - quota, table.rejectedPortLimit());
        assertEquals(0, table.rejectedOn(1));
        assertEquals(0, table.movedTotal(), "a port at quota takes over no MAC either");
        for (int i = 0; i < 50; i++)
        {
            assertEquals(1, forward(table, ports, 2, 0x0200_0001_0000L + i));
            assertEquals(2, forward(table, ports, 1, 0x0200_0002_0000L + i));
        }
        assertEquals(0, ports[1].counters().get(PortCounters.FLOODED));
        assertEquals(0, ports[2].counters().get(PortCounters.FLOODED));
        assertEquals(50, ports[1].counters().get(PortCounters.UNICAST));
        assertEquals(50, ports[2].counters().get(PortCounters.UNICAST));
        assertEquals(50, ports[1].transmitCount);
        assertEquals(50, ports[2].transmitCount);
    }

    @Test
    void globalLimitRejectsNewEntriesWithoutEvicting() throws Exception
    {
        final MacTable table = open(16, 8, 0, null, "a", "b", "c");
        for (int i = 0; i < 8; i++)
        {
            table.learn(0, A + i, 0);
            table.learn(0, 0x0200_0000_0100L + i, 1);
        }
        table.learn(0, C + 100, 2);
        assertEquals(1, table.rejectedFull());
        assertEquals(0, table.rejectedPortLimit());
        assertEquals(16, table.size());
        assertEquals(MacTable.NO_PORT, table.lookup(0, C + 100));
        table.learn(0, C + 200, 0);
        assertEquals(1, table.rejectedPortLimit(), "port 0 is at its quota before the table is full");
    }

    @Test
    void moveAdjustsBothPortsCountsAndRespectsTheNewPortsQuota() throws Exception
    {
        setSeconds(1000);
        final MacTable table = open(64, 2, 10, null, "a", "b", "c");
        table.learn(0, A, 1);
        table.learn(0, B, 1);
        assertEquals(2, table.learnedOn(1));

        table.learn(0, A, 2);
        assertEquals(2, table.lookup(0, A));
        assertEquals(1, table.learnedOn(1));
        assertEquals(1, table.learnedOn(2));
        assertEquals(1, table.movedTotal());
        assertEquals(2, contents(table).get(MacTable.key(0, A)));

        table.learn(0, C, 2);   // port 2 now at quota
        table.learn(0, B, 2);
        assertEquals(1, table.lookup(0, B), "a move to a port at quota is refused: B stays on port 1");
        assertEquals(1, table.rejectedOn(2));
        assertEquals(1, table.movedTotal());

        // Port 1 has room again after the move, so it learns another MAC; aging then frees the right ports.
        table.learn(0, A + 100, 1);
        assertEquals(2, table.learnedOn(1));
        table.age(1005, 0);
        table.learn(0, A, 2);
        assertEquals(3, sweep(table, 1011));
        assertEquals(0, table.learnedOn(1));
        assertEquals(1, table.learnedOn(2));
        assertEquals(2, table.lookup(0, A));
    }

    @Test
    void staticEntriesAreNeitherMovedNorAgedNorCounted() throws Exception
    {
        setSeconds(1000);
        final MacTable table = open(64, 1, 10, null, "a", "b", "c");
        table.learn(0, B, 2);
        table.addStatic(0, S, 2);
        table.addStatic(0, B, 1);   // replaces a learned entry: port 2's quota is given back

        assertEquals(0, table.learnedOn(2));
        assertEquals(0, table.learnedOn(1));
        table.learn(0, S, 0);
        table.learn(0, B, 2);
        assertEquals(2, table.lookup(0, S));
        assertEquals(1, table.lookup(0, B));
        assertEquals(0, table.movedTotal());

        table.learn(0, A, 2);   // statics do not use the quota of 1
        assertEquals(2, table.lookup(0, A));
        assertEquals(1, sweep(table, 5000));
        assertEquals(2, table.lookup(0, S));
        assertEquals(1, table.lookup(0, B));
        assertEquals(Map.of(MacTable.key(0, S), 2, MacTable.key(0, B), 1), contents(table));
        assertEquals(2, table.size());

        final MacTable full = open(2, 2, 0, null, "a");
        full.addStatic(0, A, 0);
        full.addStatic(0, B, 0);
        assertThrows(IllegalStateException.class, () -> full.addStatic(0, C, 0));
    }

    @Test
    void persistedEntriesSurviveReopenByPortNameAndRemovedPortsAreDropped(@TempDir final Path dir) throws Exception
    {
        final Path file = dir.resolve("fdb.dat");
        setSeconds(1000);
        final MacTable first = MacTable.open(64, 64, 30, new String[] { "vm1", "vm2", "tap0" }, file, clock);
        first.learn(0, A, 0);
        first.learn(7, B, 1);
        first.learn(0, C, 2);
        first.addStatic(0, S, 1);
        assertEquals(4, first.size());
        first.close();

        // vm2 is gone, vm3 is new, and the order (so every id) changed.
        setSeconds(5000);
        final MacTable second = MacTable.open(64, 64, 30, new String[] { "tap0", "vm3", "vm1" }, file, clock);
        assertEquals(2, second.lookup(0, A), "vm1's entry, remapped from id 0 to id 2");
        assertEquals(0, second.lookup(0, C), "tap0's entry, remapped from id 2 to id 0");
        assertEquals(MacTable.NO_PORT, second.lookup(7, B), "vm2 no longer exists");
        assertEquals(MacTable.NO_PORT, second.lookup(0, S), "statics come from the configuration, not the file");
        assertEquals(2, second.size());
        assertEquals(1, second.droppedOnLoad());
        assertEquals(1, second.learnedOn(2));
        assertEquals(1, second.learnedOn(0));
        assertEquals(Map.of(MacTable.key(0, A), 2, MacTable.key(0, C), 0), contents(second));

        // Loaded entries count as seen at load time.
        assertEquals(0, sweep(second, 5030));
        second.learn(0, A, 2);
        second.close();

        // The dropped entry left the file too: vm2 coming back does not bring it back.
        setSeconds(5010);
        final MacTable third = MacTable.open(64, 1, 30, new String[] { "vm1", "vm2", "tap0" }, file, clock);
        assertEquals(0, third.lookup(0, A));
        assertEquals(2, third.lookup(0, C));
        assertEquals(MacTable.NO_PORT, third.lookup(7, B));
        assertEquals(0, third.droppedOnLoad());
        third.close();
    }

    @Test
    void reloadDropsWhatNoLongerFitsTheLimits(@TempDir final Path dir) throws Exception
    {
        final Path file = dir.resolve("fdb.dat");
        try (MacTable first = MacTable.open(64, 64, 0, new String[] { "vm1", "vm2" }, file, clock))
        {
            for (int i = 0; i < 10; i++)
            {
                first.learn(0, A + i, 0);
                first.learn(0, 0x0200_0000_0100L + i, 1);
            }
        }
        final MacTable smaller = open(16, 6, 0, file, "vm1", "vm2");
        assertEquals(6, smaller.learnedOn(0));
        assertEquals(6, smaller.learnedOn(1));
        assertEquals(12, smaller.size());
        assertEquals(8, smaller.droppedOnLoad());
    }

    @Test
    void anUnreadableFileIsReplacedByAnEmptyTable(@TempDir final Path dir) throws Exception
    {
        final Path file = dir.resolve("fdb.dat");
        java.nio.file.Files.writeString(file, "not a chronicle map ".repeat(1000));
        final MacTable table = open(64, 64, 0, file, "vm1");
        assertEquals(0, table.size());
        table.learn(0, A, 0);
        table.close();
        final MacTable again = open(64, 64, 0, file, "vm1");
        assertEquals(0, again.lookup(0, A));
        assertTrue(again.size() == 1);
    }

    @Test
    void aFileOfThePreviousFormatIsReplacedByAnEmptyTable(@TempDir final Path dir) throws Exception
    {
        // Before port names, the file mapped keys to Integer port ids.
        final Path file = dir.resolve("fdb.dat");
        try (ChronicleMap<Long, Integer> old = ChronicleMapBuilder.of(Long.class, Integer.class).name("fdb")
            .entries(64).createPersistedTo(file.toFile()))
        {
            old.put(MacTable.key(0, A), 1);
        }
        final MacTable table = open(64, 64, 0, file, "vm1", "vm2");
        assertEquals(0, table.size());
        assertEquals(MacTable.NO_PORT, table.lookup(0, A));
        table.learn(0, B, 1);
        table.close();
        assertEquals(1, open(64, 64, 0, file, "vm1", "vm2").lookup(0, B));
    }

    @Test
    void agerSweepsOnThePmdCadence() throws Exception
    {
        setSeconds(1000);
        final MacTable table = open(64, 64, 2, null, "vm1");
        final MacAger ager = new MacAger(table, clock);
        table.learn(0, A, 0);
        for (int i = 0; i < 100; i++)
        {
            ager.doWork();
        }
        assertEquals(0, table.lookup(0, A));
        setSeconds(1003);
        int removed = 0;
        for (int i = 0; i < 100; i++)
        {
            removed += ager.doWork();
        }
        assertEquals(1, removed);
        assertEquals(MacTable.NO_PORT, table.lookup(0, A));
        table.learn(0, B, 0);
        setSeconds(1004);
        for (int i = 0; i < 100; i++)
        {
            ager.doWork();
        }
        assertEquals(0, table.lookup(0, B), "stamped with the ager's second (1003), not the construction time");
    }

    @Test
    void monotonicClockIsWallTimeThatNeverGoesBack()
    {
        final org.agrona.concurrent.EpochClock monotonic = MacAger.monotonicClock();
        long previous = monotonic.time();
        assertTrue(Math.abs(previous - System.currentTimeMillis()) < 1000);
        for (int i = 0; i < 100_000; i++)
        {
            final long now = monotonic.time();
            assertTrue(now >= previous);
            previous = now;
        }
    }
}
