package dev.vswitch.vhost;

import dev.vswitch.vhost.testing.DeviceQueues;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Guest address translation: several real memfd regions mapped the way SET_MEM_TABLE does, chains that cross from one
 * region into the next, and unsigned / overflowing arithmetic at the edges of the 64-bit space.
 */
class GuestMemoryTableTest
{
    private static final long REGION = 64 * 1024;
    private static final long GPA_A = 0x1_0000_0000L;
    private static final long GPA_B = GPA_A + REGION;            // adjacent to A
    private static final long GPA_C = 0x2_0000_0000L;            // with a hole before it
    private static final long UVA_A = 0x7f00_0000_0000L;
    private static final long UVA_B = 0x7f10_0000_0000L;         // uva layout unrelated to gpa layout
    private static final long UVA_C = 0x7e00_0000_0000L;

    private GuestMemory a;
    private GuestMemory b;
    private GuestMemory c;
    private GuestMemoryTable table;

    @BeforeEach
    void setUp() throws VhostUserException
    {
        a = GuestMemory.create("a", REGION, GPA_A, UVA_A);
        b = GuestMemory.create("b", REGION, GPA_B, UVA_B);
        c = GuestMemory.create("c", REGION, GPA_C, UVA_C);
        table = GuestMemoryTable.map(3, new long[] {GPA_A, GPA_B, GPA_C}, new long[] {REGION, REGION, REGION},
            new long[] {UVA_A, UVA_B, UVA_C}, new long[] {0, 0, 0}, new int[] {a.dupFd(), b.dupFd(), c.dupFd()});
    }

    @AfterEach
    void tearDown()
    {
        table.close();
        a.close();
        b.close();
        c.close();
    }

    private static byte[] pattern(final int length, final int seed)
    {
        final byte[] p = new byte[length];
        for (int i = 0; i < length; i++)
        {
            p[i] = (byte)(seed + i * 13);
        }
        return p;
    }

    @Test
    void translatesEachRegionByGpaAndUva()
    {
        assertEquals(3, table.regionCount());
        final GuestMemory[] mems = {a, b, c};
        for (int r = 0; r < 3; r++)
        {
            final GuestMemory m = mems[r];
            final long gpa = m.gpa() + 1000;
            m.putBytes(gpa, pattern(16, r));
            assertEquals(r, table.regionOf(gpa));
            final long viaGpa = table.gpaToHost(gpa, 16);
            assertNotEquals(0, viaGpa);
            assertArrayEquals(pattern(16, r), GuestMemory.readHost(viaGpa, 16), "same memory through the table");
            assertEquals(viaGpa, table.uvaToHost(m.uva() + 1000, 16));
            assertEquals(viaGpa, table.hostAddress(r, gpa));
            assertEquals(REGION - 1000, table.remaining(r, gpa));
        }
        // The gpa of one region is not a uva and vice versa.
        assertEquals(0, table.uvaToHost(GPA_A, 1));
        assertEquals(0, table.gpaToHost(UVA_A, 1));
        assertEquals(-1, table.regionOf(UVA_A));
    }

    @Test
    void regionBoundaries()
    {
        assertEquals(-1, table.regionOf(GPA_A - 1));
        assertEquals(0, table.regionOf(GPA_A));
        assertEquals(0, table.regionOf(GPA_B - 1));
        assertEquals(1, table.regionOf(GPA_B));
        assertEquals(1, table.regionOf(GPA_B + REGION - 1));
        assertEquals(-1, table.regionOf(GPA_B + REGION), "hole between B and C");
        assertEquals(-1, table.regionOf(GPA_C - 1));
        assertEquals(2, table.regionOf(GPA_C + REGION - 1));
        assertEquals(-1, table.regionOf(GPA_C + REGION));

        // A range must lie wholly inside one region, even when regions are adjacent.
        assertNotEquals(0, table.gpaToHost(GPA_A, REGION));
        assertEquals(0, table.gpaToHost(GPA_A, REGION + 1));
        assertEquals(0, table.gpaToHost(GPA_B - 8, 16), "spans A and B");
        assertNotEquals(0, table.gpaToHost(GPA_B - 8, 8));
        assertNotEquals(0, table.gpaToHost(GPA_B - 1, 0), "empty range at the last byte");

        assertNotEquals(0, table.uvaToHost(UVA_A + REGION - 1, 1));
        assertEquals(0, table.uvaToHost(UVA_A + REGION - 1, 2));
        assertEquals(0, table.uvaToHost(UVA_A + REGION, 0));
        assertEquals(0, table.uvaToHost(UVA_A - 1, 1));
    }

    @Test
    void unsignedAndOverflowingLengths()
    {
        for (final long len : new long[] {-1L, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 32, -REGION})
        {
            assertEquals(0, table.gpaToHost(GPA_A, len), "len " + Long.toUnsignedString(len));
            assertEquals(0, table.gpaToHost(GPA_A + 100, len));
            assertEquals(0, table.uvaToHost(UVA_A, len), "len " + Long.toUnsignedString(len));
            assertEquals(0, table.uvaToHost(UVA_A + 100, len));
        }
        for (final long addr : new long[] {-1L, Long.MIN_VALUE, Long.MAX_VALUE, 0})
        {
            assertEquals(-1, table.regionOf(addr));
            assertEquals(0, table.gpaToHost(addr, 1));
            assertEquals(0, table.uvaToHost(addr, 1));
        }
    }

    @Test
    void regionEndingAtTheTopOfTheAddressSpace()
    {
        final long host = a.hostBase();
        final GuestMemoryTable top = GuestMemoryTable.ofHostMemory(-4096L, host, 4096);
        assertEquals(0, top.regionOf(-1L));
        assertEquals(0, top.regionOf(-4096L));
        assertEquals(-1, top.regionOf(-4097L));
        assertEquals(-1, top.regionOf(0));
        assertEquals(host + 4095, top.gpaToHost(-1L, 1));
        assertEquals(0, top.gpaToHost(-1L, 2), "would wrap past 2^64");
        assertEquals(host, top.gpaToHost(-4096L, 4096));
        assertEquals(0, top.gpaToHost(-4096L, 4097));
        assertEquals(0, top.gpaToHost(-4096L, -1L));
        // ofHostMemory uses gpa as uva.
        assertEquals(host + 4095, top.uvaToHost(-1L, 1));
        assertEquals(0, top.uvaToHost(-1L, 2));

        final GuestMemoryTable zero = GuestMemoryTable.ofHostMemory(0, host, 4096);
        assertEquals(host, zero.gpaToHost(0, 4096));
        assertEquals(0, zero.gpaToHost(-1L, 1));
        assertEquals(0, zero.gpaToHost(4096, 0));
        assertEquals(0, zero.gpaToHost(1, -1L));
    }

    // ------------------------------------------------------------------ chains across regions

    private final long[] segAddr = new long[16];
    private final int[] segLen = new int[16];

    private byte[] gather(final int segs)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < segs; i++)
        {
            out.writeBytes(GuestMemory.readHost(segAddr[i], segLen[i]));
        }
        return out.toByteArray();
    }

    @Test
    void bufferSpanningAdjacentRegionsIsSplitIntoTwoSegments()
    {
        final DriverRing drv = DriverRing.allocate(a, 8);
        final SplitVirtqueue q = DeviceQueues.of(drv, table, false, -1);
        final byte[] data = pattern(300, 9);
        final long start = GPA_B - 100;
        a.putBytes(start, data, 0, 100);
        b.putBytes(GPA_B, data, 100, 200);
        drv.writeDesc(0, start, 300, 0, 0);
        drv.publishAvail(0);

        assertEquals(1, q.available());
        assertEquals(2, q.walk(q.pop(), segAddr, segLen, 0, false));
        assertEquals(table.gpaToHost(start, 100), segAddr[0]);
        assertEquals(100, segLen[0]);
        assertEquals(table.gpaToHost(GPA_B, 200), segAddr[1]);
        assertEquals(200, segLen[1]);
        assertEquals(300, q.chainBytes());
        assertArrayEquals(data, gather(2));
    }

    @Test
    void bufferCoveringAWholeRegionAndMoreIsSplitAtEachBoundary()
    {
        final DriverRing drv = DriverRing.allocate(a, 8);
        final SplitVirtqueue q = DeviceQueues.of(drv, table, false, -1);
        drv.writeDesc(0, GPA_A + REGION - 10, 10 + (int)REGION, 0, 0);   // 10 bytes of A, all of B
        drv.publishAvail(0);
        assertEquals(1, q.available());
        assertEquals(2, q.walk(q.pop(), segAddr, segLen, 0, false));
        assertEquals(10, segLen[0]);
        assertEquals(REGION, segLen[1]);
    }

    @Test
    void bufferRunningIntoAHoleIsRejected()
    {
        final DriverRing drv = DriverRing.allocate(a, 8);
        final SplitVirtqueue q = DeviceQueues.of(drv, table, false, -1);
        drv.writeDesc(0, GPA_B + REGION - 10, 20, 0, 0);   // B's last 10 bytes, then the hole
        drv.publishAvail(0);
        assertEquals(1, q.available());
        assertEquals(SplitVirtqueue.ERR_ADDRESS, q.walk(q.pop(), segAddr, segLen, 0, false));
    }

    @Test
    void indirectTableSpanningTwoRegionsIsRejected()
    {
        final DriverRing drv = DriverRing.allocate(a, 8);
        final SplitVirtqueue q = DeviceQueues.of(drv, table, false, -1);
        a.putDesc(GPA_B - 16, GPA_A + 8192, 8, VirtioNet.DESC_F_NEXT, 1);
        b.putDesc(GPA_B, GPA_A + 8192, 8, 0, 0);
        drv.writeDesc(0, GPA_B - 16, 32, VirtioNet.DESC_F_INDIRECT, 0);
        drv.publishAvail(0);
        assertEquals(1, q.available());
        assertEquals(SplitVirtqueue.ERR_ADDRESS, q.walk(q.pop(), segAddr, segLen, 0, false));
    }

    /**
     * A buffer whose gpa range wraps past 2^64 must be rejected even when a region happens to start at gpa 0: the
     * front end's regions [2^64 - 4096, 2^64) and [0, 4096) are not one contiguous range.
     * <p>
     * EXPECTED TO FAIL (bug in SplitVirtqueue.walk): the segment loop adds the translated length to {@code address}
     * without checking for wrap-around, so the chain is accepted as two segments, the second one at gpa 0.
     */
    @Test
    void bufferWrappingPastTwoToTheSixtyFourIntoARegionAtZeroIsRejected() throws VhostUserException
    {
        try (GuestMemory top = GuestMemory.create("top", 4096, -4096L, 0x7000_0000_0000L);
             GuestMemory low = GuestMemory.create("low", 4096, 0, 0x7100_0000_0000L);
             GuestMemoryTable wrap = GuestMemoryTable.map(2, new long[] {-4096L, 0}, new long[] {4096, 4096},
                 new long[] {top.uva(), low.uva()}, new long[] {0, 0}, new int[] {top.dupFd(), low.dupFd()}))
        {
            final DriverRing drv = DriverRing.allocate(a, 8);
            final SplitVirtqueue q = new SplitVirtqueue(8, drv.descHost(), drv.availHost(), drv.usedHost(), wrap,
                false, -1, 0);
            drv.writeDesc(0, -16L, 32, 0, 0);
            drv.publishAvail(0);
            assertEquals(1, q.available());
            assertEquals(SplitVirtqueue.ERR_ADDRESS, q.walk(q.pop(), segAddr, segLen, 0, false),
                "BUG: a buffer from 2^64-16 of 32 bytes was accepted by wrapping into the region at gpa 0");
        }
    }

    // ------------------------------------------------------------------ map() validation

    @Test
    void mapRejectsBadTablesAndAlwaysClosesTheFds()
    {
        // Warm up first (class loading and the JDK's first NIO file access keep an fd open for good), then the fd
        // count must not move.
        assertThrows(VhostUserException.class, () -> GuestMemoryTable.map(0, new long[0], new long[0],
            new long[0], new long[0], new int[0]));
        Fds.mappingCount();
        final int baseline = Fds.openCount();
        assertThrows(VhostUserException.class, () -> GuestMemoryTable.map(GuestMemoryTable.MAX_REGIONS + 1,
            new long[9], new long[9], new long[9], new long[9], new int[] {a.dupFd(), -1, -1, -1, -1, -1, -1, -1, -1}));
        // gpa + size wraps past 2^64.
        assertThrows(VhostUserException.class, () -> GuestMemoryTable.map(1, new long[] {-4095L},
            new long[] {4096}, new long[] {UVA_A}, new long[] {0}, new int[] {a.dupFd()}));
        // uva + size wraps.
        assertThrows(VhostUserException.class, () -> GuestMemoryTable.map(1, new long[] {GPA_A},
            new long[] {4096}, new long[] {-1L}, new long[] {0}, new int[] {a.dupFd()}));
        // Region larger than the file (would SIGBUS on touch).
        assertThrows(VhostUserException.class, () -> GuestMemoryTable.map(1, new long[] {GPA_A},
            new long[] {REGION + 4096}, new long[] {UVA_A}, new long[] {0}, new int[] {a.dupFd()}));
        // mmap_offset + size past the file.
        assertThrows(VhostUserException.class, () -> GuestMemoryTable.map(1, new long[] {GPA_A},
            new long[] {REGION}, new long[] {UVA_A}, new long[] {4096}, new int[] {a.dupFd()}));
        // Size 0 and "negative" sizes.
        assertThrows(VhostUserException.class, () -> GuestMemoryTable.map(1, new long[] {GPA_A},
            new long[] {0}, new long[] {UVA_A}, new long[] {0}, new int[] {a.dupFd()}));
        assertThrows(VhostUserException.class, () -> GuestMemoryTable.map(1, new long[] {GPA_A},
            new long[] {-4096L}, new long[] {UVA_A}, new long[] {0}, new int[] {a.dupFd()}));
        // Second region fails after the first was mapped: first is unmapped again, both fds closed.
        final int maps = Fds.mappingCount();
        assertThrows(VhostUserException.class, () -> GuestMemoryTable.map(2, new long[] {GPA_A, GPA_B},
            new long[] {REGION, REGION * 2}, new long[] {UVA_A, UVA_B}, new long[] {0, 0},
            new int[] {a.dupFd(), b.dupFd()}));
        assertEquals(maps, Fds.mappingCount(), "no mapping left behind");
        assertEquals(baseline, Fds.openCount(), "every fd handed to map() was closed");
    }

    @Test
    void mmapOffsetSelectsThePartOfTheFile() throws VhostUserException
    {
        // A region that starts 8 KB into the memfd, as QEMU does when one file backs several regions.
        a.putBytes(GPA_A + 8192, pattern(32, 3));
        try (GuestMemoryTable t = GuestMemoryTable.map(1, new long[] {0x5000_0000L}, new long[] {REGION - 8192},
            new long[] {UVA_C}, new long[] {8192}, new int[] {a.dupFd()}))
        {
            assertArrayEquals(pattern(32, 3), GuestMemory.readHost(t.gpaToHost(0x5000_0000L, 32), 32));
            assertArrayEquals(pattern(32, 3), GuestMemory.readHost(t.uvaToHost(UVA_C, 32), 32));
            assertEquals(0, t.gpaToHost(0x5000_0000L + REGION - 8192, 1));
        }
    }
}
