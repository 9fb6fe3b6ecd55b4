package dev.vswitch.pipeline.stages;

import org.agrona.concurrent.SystemEpochClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MacTableTest
{
    static final long A = 0x5254_0000_000AL;
    static final long B = 0x5254_0000_000BL;
    static final long C = 0x5254_0000_000CL;

    private final List<MacTable> open = new ArrayList<>();

    private MacTable track(final MacTable table)
    {
        open.add(table);
        return table;
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
                // already closed by the test
            }
        }
    }

    /** The old behaviour: numbered ports, no quota, no aging. */
    private static MacTable persisted(final int capacity, final Path file) throws Exception
    {
        return MacTable.open(capacity, capacity, 0, MacTable.numberedPorts(256), file, SystemEpochClock.INSTANCE);
    }

    private static Map<Long, Integer> contents(final MacTable table)
    {
        final Map<Long, Integer> map = new HashMap<>();
        table.forEach(map::put);
        return map;
    }

    @Test
    void keyPacksVlanAbove48BitMac()
    {
        assertEquals(0x0123_5254_0000_000AL, MacTable.key(0x123, A));
        assertEquals(A, MacTable.key(0, A));
        assertEquals(0x0FFF_FFFF_FFFF_FFFFL, MacTable.key(4095, 0xFFFF_FFFF_FFFFL));
        // Only 12 bits of VLAN and 48 bits of MAC are used.
        assertEquals(MacTable.key(0x123, A), MacTable.key(0x7123, A));
        assertEquals(MacTable.key(5, A), MacTable.key(5, 0xABCD_0000_0000_0000L | A));
        assertEquals(0x0005_0000_0000_0000L, MacTable.key(5, 0) );
    }

    @Test
    void learnThenLookup()
    {
        final MacTable table = track(MacTable.inMemory(64));
        assertEquals(MacTable.NO_PORT, table.lookup(0, A));
        assertEquals(0, table.size());

        table.learn(0, A, 2);
        table.learn(0, B, 0);

        assertEquals(2, table.lookup(0, A));
        assertEquals(0, table.lookup(0, B), "port 0 is a valid port, not 'missing'");
        assertEquals(MacTable.NO_PORT, table.lookup(0, C));
        assertEquals(2, table.size());
        assertEquals(2, table.learnedTotal());
        assertEquals(0, table.rejectedFull());
        assertEquals(Map.of(MacTable.key(0, A), 2, MacTable.key(0, B), 0), contents(table));
    }

    @Test
    void sameMacInTwoVlansIsTwoEntries()
    {
        final MacTable table = track(MacTable.inMemory(64));
        table.learn(10, A, 1);
        table.learn(20, A, 2);

        assertEquals(1, table.lookup(10, A));
        assertEquals(2, table.lookup(20, A));
        assertEquals(MacTable.NO_PORT, table.lookup(0, A));
        assertEquals(2, table.size());
        assertEquals(Map.of(MacTable.key(10, A), 1, MacTable.key(20, A), 2), contents(table));
    }

    @Test
    void macMovesToNewPort()
    {
        final MacTable table = track(MacTable.inMemory(64));
        table.learn(0, A, 1);
        table.learn(0, A, 3);

        assertEquals(3, table.lookup(0, A));
        assertEquals(1, table.size());
        assertEquals(1, table.learnedTotal());
        assertEquals(1, table.movedTotal());
        assertEquals(Map.of(MacTable.key(0, A), 3), contents(table), "table of record follows the move");
    }

    @Test
    void relearningSamePortDoesNotWrite()
    {
        final MacTable table = track(MacTable.inMemory(64));
        table.learn(7, A, 1);
        assertEquals(1, table.learnedTotal());
        for (int i = 0; i < 1000; i++)
        {
            table.learn(7, A, 1);
        }
        assertEquals(1, table.learnedTotal());
        assertEquals(1, table.size());
        assertEquals(1, table.lookup(7, A));
    }

    @Test
    void seventeenthMacIsRejectedWhenCapacityIs16()
    {
        final MacTable table = track(MacTable.inMemory(16));
        for (int i = 0; i < 16; i++)
        {
            table.learn(0, A + i, i % 4);
        }
        assertEquals(16, table.size());
        assertEquals(0, table.rejectedFull());

        table.learn(0, 0x5254_00FF_FFFFL, 1);

        assertEquals(1, table.rejectedFull());
        assertEquals(16, table.size());
        assertEquals(16, table.learnedTotal());
        assertEquals(MacTable.NO_PORT, table.lookup(0, 0x5254_00FF_FFFFL));
        for (int i = 0; i < 16; i++)
        {
            assertEquals(i % 4, table.lookup(0, A + i), "existing entry " + i);
        }

        // A known MAC may still move while the table is full, and relearning it costs nothing.
        table.learn(0, A, 3);
        table.learn(0, A + 1, 1);
        assertEquals(3, table.lookup(0, A));
        assertEquals(1, table.rejectedFull());
        assertEquals(16, table.learnedTotal());
        assertEquals(1, table.movedTotal(), "A moved; A + 1 was already on port 1");
        assertEquals(16, table.size());

        // The same MAC in another VLAN is a new entry: also rejected.
        table.learn(9, A, 1);
        assertEquals(2, table.rejectedFull());
        assertEquals(MacTable.NO_PORT, table.lookup(9, A));
    }

    @Test
    void forgetPortRemovesOnlyThatPort()
    {
        final MacTable table = track(MacTable.inMemory(64));
        table.learn(0, A, 1);
        table.learn(0, B, 1);
        table.learn(5, A, 1);
        table.learn(0, C, 2);

        table.forgetPort(1);

        assertEquals(MacTable.NO_PORT, table.lookup(0, A));
        assertEquals(MacTable.NO_PORT, table.lookup(0, B));
        assertEquals(MacTable.NO_PORT, table.lookup(5, A));
        assertEquals(2, table.lookup(0, C));
        assertEquals(1, table.size());
        assertEquals(Map.of(MacTable.key(0, C), 2), contents(table));

        table.forgetPort(9);   // no such entries: nothing happens
        assertEquals(1, table.size());
    }

    @Test
    void forgetPortOnABusyTableKeepsCacheAndTableOfRecordInStep()
    {
        final int n = 3000;
        final MacTable table = track(MacTable.inMemory(4096));
        for (int i = 0; i < n; i++)
        {
            table.learn(i % 7, 0x0200_0000_0000L + i * 0x1_0001L, i % 3);
        }
        assertEquals(n, table.size());

        table.forgetPort(1);

        int kept = 0;
        for (int i = 0; i < n; i++)
        {
            final int expected = i % 3 == 1 ? MacTable.NO_PORT : i % 3;
            assertEquals(expected, table.lookup(i % 7, 0x0200_0000_0000L + i * 0x1_0001L), "entry " + i);
            kept += expected == MacTable.NO_PORT ? 0 : 1;
        }
        assertEquals(kept, table.size());
        contents(table).forEach((key, port) -> assertTrue(port != 1, "port 1 left in table of record"));

        // Freed capacity can be reused.
        final MacTable small = track(MacTable.inMemory(2));
        small.learn(0, A, 1);
        small.learn(0, B, 2);
        small.learn(0, C, 2);
        assertEquals(1, small.rejectedFull());
        small.forgetPort(1);
        small.learn(0, C, 2);
        assertEquals(2, small.lookup(0, C));
        assertEquals(2, small.size());
    }

    @Test
    void persistedTableReloadsEntries(@TempDir final Path dir) throws Exception
    {
        final Path file = dir.resolve("fdb.dat");
        final MacTable first = persisted(64, file);
        first.learn(0, A, 1);
        first.learn(7, B, 2);
        first.learn(0, C, 3);
        first.learn(0, C, 0);   // moved before the restart
        first.close();
        assertTrue(Files.size(file) > 0);

        final MacTable reopened = track(persisted(64, file));
        assertEquals(3, reopened.size());
        assertEquals(1, reopened.lookup(0, A));
        assertEquals(2, reopened.lookup(7, B));
        assertEquals(0, reopened.lookup(0, C));
        assertEquals(MacTable.NO_PORT, reopened.lookup(0, B));
        assertEquals(Map.of(MacTable.key(0, A), 1, MacTable.key(7, B), 2, MacTable.key(0, C), 0),
            contents(reopened));

        // The reloaded entries are in the fast-path cache: relearning them does not write.
        assertEquals(0, reopened.learnedTotal());
        reopened.learn(0, A, 1);
        assertEquals(0, reopened.learnedTotal());
    }

    @Test
    void reloadedEntriesCountAgainstCapacity(@TempDir final Path dir) throws Exception
    {
        final Path file = dir.resolve("fdb.dat");
        try (MacTable first = persisted(2, file))
        {
            first.learn(0, A, 1);
            first.learn(0, B, 2);
        }
        final MacTable reopened = track(persisted(2, file));
        reopened.learn(0, C, 3);
        assertEquals(1, reopened.rejectedFull());
        assertEquals(MacTable.NO_PORT, reopened.lookup(0, C));
        assertEquals(2, reopened.size());
    }

    @Test
    void closeReleasesTheTable(@TempDir final Path dir) throws Exception
    {
        final MacTable inMemory = MacTable.inMemory(16);
        inMemory.learn(0, A, 1);
        inMemory.close();
        assertThrows(RuntimeException.class, inMemory::size, "table of record is gone after close()");

        // A persisted table's file can be opened again (and again) once closed.
        final Path file = dir.resolve("fdb.dat");
        for (int round = 0; round < 3; round++)
        {
            final MacTable t = persisted(16, file);
            t.learn(0, A + round, round);
            assertEquals(round + 1, t.size());
            t.close();
            assertThrows(RuntimeException.class, t::size);
        }
    }
}
