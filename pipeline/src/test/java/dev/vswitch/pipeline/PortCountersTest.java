package dev.vswitch.pipeline;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PortCountersTest
{
    @Test
    void startsAtZero()
    {
        final PortCounters c = new PortCounters();
        for (int i = PortCounters.RX_PACKETS; i <= PortCounters.RX_RETRIES; i++)
        {
            assertEquals(0, c.get(i));
        }
        for (int r = 0; r < DropReason.COUNT; r++)
        {
            assertEquals(0, c.drops(r));
        }
        assertEquals(0, c.totalDrops());
        assertEquals("rx=0 tx=0 flooded=0 unicast=0 irqs=0 kicks=0 drops=0", c.summary());
    }

    @Test
    void incrementAddAndGet()
    {
        final PortCounters c = new PortCounters();
        c.increment(PortCounters.RX_PACKETS);
        c.increment(PortCounters.RX_PACKETS);
        c.add(PortCounters.RX_BYTES, 1514);
        c.add(PortCounters.RX_BYTES, 60);
        c.add(PortCounters.TX_BYTES, 5_000_000_000L);   // a long, not an int
        c.increment(PortCounters.INTERRUPTS);

        assertEquals(2, c.get(PortCounters.RX_PACKETS));
        assertEquals(1574, c.get(PortCounters.RX_BYTES));
        assertEquals(5_000_000_000L, c.get(PortCounters.TX_BYTES));
        assertEquals(1, c.get(PortCounters.INTERRUPTS));
        assertEquals(0, c.get(PortCounters.TX_PACKETS));
        assertEquals(0, c.get(PortCounters.FLOODED));
        assertEquals(0, c.totalDrops(), "traffic counters are not drops");
    }

    @Test
    void dropsPerReasonAndTotal()
    {
        final PortCounters c = new PortCounters();
        c.drop(DropReason.RUNT);
        c.drop(DropReason.RUNT);
        c.drop(DropReason.HAIRPIN);
        c.drop(DropReason.RATE_LIMITED);   // the last reason: must not spill into another counter

        assertEquals(2, c.drops(DropReason.RUNT));
        assertEquals(1, c.drops(DropReason.HAIRPIN));
        assertEquals(1, c.drops(DropReason.RATE_LIMITED));
        assertEquals(0, c.drops(DropReason.RING_FULL));
        assertEquals(4, c.totalDrops());
        for (int i = PortCounters.RX_PACKETS; i <= PortCounters.RX_RETRIES; i++)
        {
            assertEquals(0, c.get(i), "counter " + i);
        }
    }

    @Test
    void noneIsNotADrop()
    {
        final PortCounters c = new PortCounters();
        c.drop(DropReason.NONE);
        assertEquals(0, c.totalDrops());
        assertFalse(c.summary().contains("none"));
    }

    @Test
    void summaryNamesOnlyNonZeroDropReasons()
    {
        final PortCounters c = new PortCounters();
        c.add(PortCounters.RX_PACKETS, 10);
        c.add(PortCounters.TX_PACKETS, 7);
        c.add(PortCounters.FLOODED, 2);
        c.add(PortCounters.UNICAST, 8);
        c.add(PortCounters.INTERRUPTS, 3);
        c.drop(DropReason.RUNT);
        c.drop(DropReason.RING_FULL);
        c.drop(DropReason.RING_FULL);

        final String s = c.summary();
        assertEquals("rx=10 tx=7 flooded=2 unicast=8 irqs=3 kicks=0 drops=3 runt=1 ring-full=2", s);
        for (final String absent : new String[] { "bad-chain", "bad-header", "too-big", "port-down", "hairpin",
            "filtered", "none" })
        {
            assertFalse(s.contains(absent), absent);
        }
        assertTrue(s.contains("runt=1"));
    }

    @Test
    void valuesWrittenOnOneThreadAreReadOnAnother() throws Exception
    {
        final PortCounters c = new PortCounters();
        final Thread writer = new Thread(() ->
        {
            for (int i = 0; i < 100_000; i++)
            {
                c.increment(PortCounters.RX_PACKETS);
                c.add(PortCounters.RX_BYTES, 64);
            }
        });
        writer.start();
        writer.join();
        assertEquals(100_000, c.get(PortCounters.RX_PACKETS));
        assertEquals(6_400_000, c.get(PortCounters.RX_BYTES));
    }

    @Test
    void dropReasonNames()
    {
        assertEquals("none", DropReason.name(DropReason.NONE));
        assertEquals("bad-chain", DropReason.name(DropReason.BAD_CHAIN));
        assertEquals("bad-header", DropReason.name(DropReason.BAD_HEADER));
        assertEquals("runt", DropReason.name(DropReason.RUNT));
        assertEquals("ring-full", DropReason.name(DropReason.RING_FULL));
        assertEquals("too-big", DropReason.name(DropReason.TOO_BIG));
        assertEquals("port-down", DropReason.name(DropReason.PORT_DOWN));
        assertEquals("hairpin", DropReason.name(DropReason.HAIRPIN));
        assertEquals("filtered", DropReason.name(DropReason.FILTERED));
        assertEquals("rate-limited", DropReason.name(DropReason.RATE_LIMITED));
        assertEquals(DropReason.RATE_LIMITED + 1, DropReason.COUNT);
        assertEquals("unknown-12", DropReason.name(DropReason.COUNT));
        assertEquals("unknown--1", DropReason.name(-1));
    }
}
