package dev.vswitch.vhost;

import dev.vswitch.vhost.testing.DeviceQueues;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.vswitch.vhost.VirtioNet.DESC_F_INDIRECT;
import static dev.vswitch.vhost.VirtioNet.DESC_F_NEXT;
import static dev.vswitch.vhost.VirtioNet.DESC_F_WRITE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Device-side split ring processing (virtio 1.2, 2.7): index arithmetic across the 16-bit wrap, indirect tables
 * (2.7.5.3) and chains a hostile driver builds.
 */
class SplitVirtqueueTest
{
    private static final int SIZE = 8;

    private GuestMemory mem;
    private final long[] segAddr = new long[64];
    private final int[] segLen = new int[64];

    @BeforeEach
    void setUp()
    {
        mem = GuestMemory.create(1 << 20);
    }

    @AfterEach
    void tearDown()
    {
        mem.close();
    }

    private static byte[] pattern(final int length, final int seed)
    {
        final byte[] b = new byte[length];
        for (int i = 0; i < length; i++)
        {
            b[i] = (byte)(seed * 31 + i * 7);
        }
        return b;
    }

    private byte[] gather(final int from, final int to)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = from; i < to; i++)
        {
            out.writeBytes(GuestMemory.readHost(segAddr[i], segLen[i]));
        }
        return out.toByteArray();
    }

    /** A hand-written single-descriptor chain at descriptor {@code i}, made available. */
    private void publishRaw(final DriverRing drv, final int i, final long addr, final int len, final int flags,
        final int next)
    {
        drv.writeDesc(i, addr, len, flags, next);
        drv.publishAvail(i);
    }

    private int popAndWalk(final SplitVirtqueue q, final boolean writable)
    {
        assertEquals(1, q.available());
        final int head = q.pop();
        assertTrue(head >= 0, "pop " + head);
        return q.walk(head, segAddr, segLen, 0, writable);
    }

    // ------------------------------------------------------------------ wrap-around

    @Test
    void twentyChainsAcrossTheSixteenBitWrap()
    {
        final int base = 65530;
        final DriverRing drv = DriverRing.allocate(mem, 16, base);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        assertEquals(base, q.lastAvailIndex());
        assertEquals(0, q.available());

        int chain = 0;
        for (int batch = 0; batch < 4; batch++)
        {
            final List<Integer> heads = new ArrayList<>();
            final List<byte[]> frames = new ArrayList<>();
            for (int k = 0; k < 5; k++, chain++)
            {
                final byte[] payload = pattern(100 + chain, chain);
                final int[] split = switch (chain % 3)
                {
                    case 0 -> new int[] {12 + payload.length};
                    case 1 -> new int[] {12, payload.length};
                    default -> new int[] {7, 5 + 40, payload.length - 40};
                };
                heads.add(drv.addTx(DriverRing.netHeader(), payload, chain % 4 == 3, split));
                final byte[] all = new byte[12 + payload.length];
                System.arraycopy(payload, 0, all, 12, payload.length);
                frames.add(all);
            }
            final int before = q.lastAvailIndex();
            assertEquals(5, q.available(), "batch " + batch);
            for (int k = 0; k < 5; k++)
            {
                final int head = q.pop();
                assertEquals(heads.get(k), head);
                final int segs = q.walk(head, segAddr, segLen, 0, false);
                assertTrue(segs > 0, "walk " + segs);
                assertArrayEquals(frames.get(k), gather(0, segs));
                assertEquals(frames.get(k).length, q.chainBytes());
                q.putUsed(head, (int)q.chainBytes());
            }
            assertEquals((before + 5) & 0xffff, q.lastAvailIndex());
            assertEquals(0, q.available());
            assertEquals((base + 5 * batch) & 0xffff, drv.usedIdx(), "used->idx moves only at flush");
            q.flush();
            assertEquals((base + 5 * (batch + 1)) & 0xffff, drv.usedIdx());
            final List<DriverRing.Used> used = drv.drainUsed();
            assertEquals(5, used.size());
            for (int k = 0; k < 5; k++)
            {
                assertEquals(heads.get(k), used.get(k).id());
                assertEquals(frames.get(k).length, used.get(k).len());
            }
        }
        assertEquals((base + 20) & 0xffff, q.lastAvailIndex());
        assertEquals(14, q.lastAvailIndex());
        assertEquals(14, drv.usedIdx());
        assertEquals(16, drv.freeDescriptors(), "every descriptor came back");
        assertFalse(q.isBroken());
    }

    @Test
    void availableCountsAcrossWrapAndFullRingIsNotBroken()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE, 65533);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        drv.addRxBuffers(SIZE, 64);   // avail->idx 65533 -> 5
        assertEquals(5, drv.availIdx());
        assertEquals(SIZE, q.available(), "exactly size available is legal");
        assertFalse(q.isBroken());
        for (int i = 0; i < SIZE; i++)
        {
            assertEquals(i, q.pop());
            assertEquals(SIZE - i - 1, q.available());
        }
        assertEquals(5, q.lastAvailIndex());
    }

    @Test
    void checkpointAndRewindAcrossWrap()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE, 65535);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        final int[] heads = drv.addRxBuffers(3, 64);
        final int cp = q.checkpoint();
        assertEquals(65535, cp);
        assertEquals(heads[0], q.pop());
        assertEquals(heads[1], q.pop());
        assertEquals(1, q.lastAvailIndex());
        q.rewind(cp);
        assertEquals(3, q.available());
        assertEquals(heads[0], q.pop());
    }

    // ------------------------------------------------------------------ indirect descriptors

    @Test
    void indirectTxChainWalksEveryEntry()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        final byte[] payload = pattern(300, 5);
        final int head = drv.addTx(DriverRing.netHeader(), payload, true, 12, 100, 200);
        assertEquals(SIZE - 1, drv.freeDescriptors(), "indirect chain uses one ring descriptor");
        final int segs = popAndWalk(q, false);
        assertEquals(3, segs);
        assertEquals(12, segLen[0]);
        assertEquals(100, segLen[1]);
        assertEquals(200, segLen[2]);
        assertArrayEquals(payload, Arrays.copyOfRange(gather(0, 3), 12, 312));
        assertEquals(312, q.chainBytes());
        q.putUsed(head, 0);
    }

    @Test
    void indirectRxChainIgnoresWriteFlagOfTheTableDescriptor()
    {
        // 2.7.5.3.2: the device MUST ignore the write-only flag of the descriptor that refers to the table; the
        // driver here leaves it clear, and the entries carry WRITE.
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        drv.addRxIndirect(64, 64);
        assertEquals(2, popAndWalk(q, true));
        assertEquals(128, q.chainBytes());
    }

    /** An indirect table of {@code n} entries in guest memory, plus a buffer for entries to point at. */
    private long table(final int n)
    {
        return mem.alloc(16L * n, 16);
    }

    @Test
    void nestedIndirectIsRejected()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        final long buf = drv.allocBuffer(64);
        final long inner = table(1);
        mem.putDesc(inner, buf, 64, 0, 0);
        final long outer = table(2);
        mem.putDesc(outer, buf, 32, DESC_F_NEXT, 1);
        mem.putDesc(outer + 16, inner, 16, DESC_F_INDIRECT, 0);
        publishRaw(drv, 0, outer, 32, DESC_F_INDIRECT, 0);
        assertEquals(SplitVirtqueue.ERR_INDIRECT, popAndWalk(q, false));
        assertFalse(q.isBroken(), "a bad chain costs the packet, not the ring");
    }

    @Test
    void indirectWithNextIsRejected()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        final long buf = drv.allocBuffer(64);
        final long t = table(1);
        mem.putDesc(t, buf, 64, 0, 0);
        drv.writeDesc(1, buf, 64, 0, 0);
        publishRaw(drv, 0, t, 16, DESC_F_INDIRECT | DESC_F_NEXT, 1);
        assertEquals(SplitVirtqueue.ERR_INDIRECT, popAndWalk(q, false));
    }

    @Test
    void indirectLengthZeroOrNotMultipleOf16OrTooLargeIsRejected()
    {
        final long buf = mem.alloc(64);
        final long t = mem.alloc(16L * (SplitVirtqueue.MAX_INDIRECT + 1), 16);
        for (int i = 0; i <= SplitVirtqueue.MAX_INDIRECT; i++)
        {
            mem.putDesc(t + 16L * i, buf, 1, i < SplitVirtqueue.MAX_INDIRECT ? DESC_F_NEXT : 0, i + 1);
        }
        for (final int len : new int[] {0, 8, 24, 17, 16 * (SplitVirtqueue.MAX_INDIRECT + 1)})
        {
            final DriverRing drv = DriverRing.allocate(mem, SIZE);
            final SplitVirtqueue q = DeviceQueues.of(drv, false);
            publishRaw(drv, 0, t, len, DESC_F_INDIRECT, 0);
            assertEquals(SplitVirtqueue.ERR_INDIRECT, popAndWalk(q, false), "indirect len " + len);
        }
    }

    @Test
    void indirectTableOfMaximumSizeIsAccepted()
    {
        final long buf = mem.alloc(64);
        final int n = SplitVirtqueue.MAX_INDIRECT;
        final long t = mem.alloc(16L * n, 16);
        for (int i = 0; i < n; i++)
        {
            mem.putDesc(t + 16L * i, buf, 1, i < n - 1 ? DESC_F_NEXT : 0, i + 1);
        }
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        publishRaw(drv, 0, t, 16 * n, DESC_F_INDIRECT, 0);
        final long[] addr = new long[n];
        final int[] len = new int[n];
        assertEquals(1, q.available());
        assertEquals(n, q.walk(q.pop(), addr, len, 0, false));
        assertEquals(n, q.chainBytes());
    }

    @Test
    void indirectTableOutsideGuestMemoryIsRejected()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        publishRaw(drv, 0, mem.gpa() + mem.size() + 4096, 32, DESC_F_INDIRECT, 0);
        assertEquals(SplitVirtqueue.ERR_ADDRESS, popAndWalk(q, false));

        // Starts inside, ends one entry past the end of the region.
        final DriverRing drv2 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q2 = DeviceQueues.of(drv2, false);
        publishRaw(drv2, 0, mem.gpa() + mem.size() - 16, 32, DESC_F_INDIRECT, 0);
        assertEquals(SplitVirtqueue.ERR_ADDRESS, popAndWalk(q2, false));

        // Below the region.
        final DriverRing drv3 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q3 = DeviceQueues.of(drv3, false);
        publishRaw(drv3, 0, mem.gpa() - 16, 16, DESC_F_INDIRECT, 0);
        assertEquals(SplitVirtqueue.ERR_ADDRESS, popAndWalk(q3, false));
    }

    @Test
    void loopAndBadIndexInsideIndirectTable()
    {
        final long buf = mem.alloc(64);
        final long loop = table(2);
        mem.putDesc(loop, buf, 8, DESC_F_NEXT, 1);
        mem.putDesc(loop + 16, buf, 8, DESC_F_NEXT, 0);
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        publishRaw(drv, 0, loop, 32, DESC_F_INDIRECT, 0);
        assertEquals(SplitVirtqueue.ERR_LOOP, popAndWalk(q, false));

        final long past = table(2);
        mem.putDesc(past, buf, 8, DESC_F_NEXT, 2);   // next == table size
        mem.putDesc(past + 16, buf, 8, 0, 0);
        final DriverRing drv2 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q2 = DeviceQueues.of(drv2, false);
        publishRaw(drv2, 0, past, 32, DESC_F_INDIRECT, 0);
        assertEquals(SplitVirtqueue.ERR_INDEX, popAndWalk(q2, false));
    }

    // ------------------------------------------------------------------ hostile direct chains

    @Test
    void selfLoopIsCutAtRingSize()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        publishRaw(drv, 3, drv.allocBuffer(64), 64, DESC_F_NEXT, 3);
        final long[] many = new long[1024];
        assertEquals(1, q.available());
        assertEquals(SplitVirtqueue.ERR_LOOP, q.walk(q.pop(), many, new int[1024], 0, false));
        assertFalse(q.isBroken());
    }

    @Test
    void twoCycleIsCut()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        final long buf = drv.allocBuffer(64);
        drv.writeDesc(2, buf, 16, DESC_F_NEXT, 5);
        drv.writeDesc(5, buf, 16, DESC_F_NEXT, 2);
        drv.publishAvail(2);
        final long[] many = new long[1024];
        assertEquals(1, q.available());
        assertEquals(SplitVirtqueue.ERR_LOOP, q.walk(q.pop(), many, new int[1024], 0, false));
    }

    @Test
    void chainOfExactlyRingSizeIsFineOneMoreIsALoop()
    {
        final long buf = mem.alloc(64);
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        for (int i = 0; i < SIZE; i++)
        {
            drv.writeDesc(i, buf, 4, i < SIZE - 1 ? DESC_F_NEXT : 0, i + 1);
        }
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        drv.publishAvail(0);
        assertEquals(SIZE, popAndWalk(q, false));
        assertEquals(4L * SIZE, q.chainBytes());

        // Same chain, but the last descriptor continues to the first: longer than the ring.
        final DriverRing drv2 = DriverRing.allocate(mem, SIZE);
        for (int i = 0; i < SIZE; i++)
        {
            drv2.writeDesc(i, buf, 4, DESC_F_NEXT, (i + 1) % SIZE);
        }
        final SplitVirtqueue q2 = DeviceQueues.of(drv2, false);
        drv2.publishAvail(0);
        assertEquals(SplitVirtqueue.ERR_LOOP, popAndWalk(q2, false));
    }

    @Test
    void nextIndexBeyondRingIsRejected()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        publishRaw(drv, 0, drv.allocBuffer(64), 64, DESC_F_NEXT, SIZE);
        assertEquals(SplitVirtqueue.ERR_INDEX, popAndWalk(q, false));
        final DriverRing drv2 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q2 = DeviceQueues.of(drv2, false);
        publishRaw(drv2, 0, drv2.allocBuffer(64), 64, DESC_F_NEXT, 0xffff);
        assertEquals(SplitVirtqueue.ERR_INDEX, popAndWalk(q2, false));
    }

    @Test
    void addressOutsideGuestMemoryIsRejected()
    {
        final long[] bad = {0, mem.gpa() - 1, mem.gpa() + mem.size(), -1L, mem.gpa() + (1L << 40)};
        for (final long addr : bad)
        {
            final DriverRing drv = DriverRing.allocate(mem, SIZE);
            final SplitVirtqueue q = DeviceQueues.of(drv, false);
            publishRaw(drv, 0, addr, 1, 0, 0);
            assertEquals(SplitVirtqueue.ERR_ADDRESS, popAndWalk(q, false), "addr 0x" + Long.toHexString(addr));
        }
    }

    @Test
    void bufferCrossingTheEndOfTheRegionIsRejected()
    {
        final long end = mem.gpa() + mem.size();
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        publishRaw(drv, 0, end - 8, 9, 0, 0);
        assertEquals(SplitVirtqueue.ERR_ADDRESS, popAndWalk(q, false));

        // The last byte exactly is fine.
        final DriverRing drv2 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q2 = DeviceQueues.of(drv2, false);
        publishRaw(drv2, 0, end - 8, 8, 0, 0);
        assertEquals(1, popAndWalk(q2, false));
        assertEquals(mem.host(end - 8), segAddr[0]);
        assertEquals(8, segLen[0]);
    }

    @Test
    void addressPlusLengthOverflowingTwoToTheSixtyFourIsRejected()
    {
        // A region that ends exactly at 2^64, backed by 4 KB of our memory.
        final long backing = mem.alloc(4096, 4096);
        final GuestMemoryTable top = GuestMemoryTable.ofHostMemory(-4096L, mem.host(backing), 4096);
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = new SplitVirtqueue(SIZE, drv.descHost(), drv.availHost(), drv.usedHost(), top,
            false, -1, 0);

        drv.writeDesc(0, -16L, 16, 0, 0);   // ends exactly at 2^64: legal
        drv.writeDesc(1, -16L, 17, 0, 0);   // wraps by one byte
        drv.writeDesc(2, -1L, 0x7fff_ffff, 0, 0);
        drv.publishAvail(0, 1, 2);
        assertEquals(3, q.available());
        assertEquals(1, q.walk(q.pop(), segAddr, segLen, 0, false));
        assertEquals(mem.host(backing) + 4096 - 16, segAddr[0]);
        assertEquals(SplitVirtqueue.ERR_ADDRESS, q.walk(q.pop(), segAddr, segLen, 0, false));
        final int r = q.walk(q.pop(), segAddr, segLen, 0, false);
        assertTrue(r == SplitVirtqueue.ERR_ADDRESS || r == SplitVirtqueue.ERR_TOO_LONG, "got " + r);
    }

    @Test
    void lengthBeyondChainLimitIsRejectedBeforeTranslation()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        final long buf = drv.allocBuffer(64);
        publishRaw(drv, 0, buf, 0xffff_ffff, 0, 0);   // 4 GB - 1: the largest 32-bit len
        assertEquals(SplitVirtqueue.ERR_TOO_LONG, popAndWalk(q, false));

        // Two descriptors that are each fine but add up to more than MAX_CHAIN_BYTES.
        final DriverRing drv2 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q2 = DeviceQueues.of(drv2, false);
        final long big = mem.alloc(SplitVirtqueue.MAX_CHAIN_BYTES, 64);
        drv2.writeDesc(0, big, (int)SplitVirtqueue.MAX_CHAIN_BYTES, DESC_F_NEXT, 1);
        drv2.writeDesc(1, big, 1, 0, 0);
        drv2.publishAvail(0);
        assertEquals(SplitVirtqueue.ERR_TOO_LONG, popAndWalk(q2, false));

        // Exactly the limit is accepted.
        final DriverRing drv3 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q3 = DeviceQueues.of(drv3, false);
        publishRaw(drv3, 0, big, (int)SplitVirtqueue.MAX_CHAIN_BYTES, 0, 0);
        assertEquals(1, popAndWalk(q3, false));
        assertEquals(SplitVirtqueue.MAX_CHAIN_BYTES, q3.chainBytes());
    }

    @Test
    void tooManySegmentsForTheCallersArrayIsRejected()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        final int head = drv.addTx(DriverRing.netHeader(), pattern(30, 1), false, 12, 10, 10, 10);
        assertEquals(1, q.available());
        assertEquals(head, q.pop());
        assertEquals(SplitVirtqueue.ERR_SEGMENTS, q.walk(head, new long[3], new int[3], 0, false));
        // Appending after existing segments: returns the new total.
        final long[] a = new long[8];
        final int[] l = new int[8];
        assertEquals(6, q.walk(head, a, l, 2, false));
        assertEquals(12, l[2]);
        assertEquals(10, l[5]);
        assertEquals(SplitVirtqueue.ERR_SEGMENTS, q.walk(head, a, l, 5, false));
    }

    @Test
    void headIndexBeyondRingBreaksTheRing()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE, 100);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        drv.publishAvail(SIZE);   // head == size
        assertEquals(1, q.available());
        assertEquals(SplitVirtqueue.ERR_HEAD, q.pop());
        assertTrue(q.isBroken());
        assertEquals(100, q.lastAvailIndex(), "a bad head is not consumed");
        drv.addTx(pattern(60, 1));
        assertEquals(0, q.available(), "a broken ring offers nothing more");
    }

    @Test
    void availIndexJumpingByMoreThanSizeBreaksTheRing()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE, 65530);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        drv.setAvailIdx(65530 + SIZE + 1);   // wraps to 3
        assertEquals(0, q.available());
        assertTrue(q.isBroken());
        drv.setAvailIdx(65531);              // even after the driver "fixes" it
        assertEquals(0, q.available());

        // And an index behind lastAvail (a driver moving avail->idx backwards) reads as a huge jump.
        final DriverRing drv2 = DriverRing.allocate(mem, SIZE, 10);
        final SplitVirtqueue q2 = DeviceQueues.of(drv2, false);
        drv2.setAvailIdx(9);
        assertEquals(0, q2.available());
        assertTrue(q2.isBroken());
    }

    @Test
    void wrongDirectionIsRejected()
    {
        // A device-writable descriptor in a TX (device-readable) chain.
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, false);
        final long buf = drv.allocBuffer(64);
        publishRaw(drv, 0, buf, 64, DESC_F_WRITE, 0);
        assertEquals(SplitVirtqueue.ERR_DIRECTION, popAndWalk(q, false));

        // Readable first, writable second (legal for virtio-blk, not for a net TX chain).
        final DriverRing drv2 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q2 = DeviceQueues.of(drv2, false);
        drv2.writeDesc(0, buf, 32, DESC_F_NEXT, 1);
        drv2.writeDesc(1, buf, 32, DESC_F_WRITE, 0);
        drv2.publishAvail(0);
        assertEquals(SplitVirtqueue.ERR_DIRECTION, popAndWalk(q2, false));

        // A read-only descriptor in an RX chain the device would write into.
        final DriverRing drv3 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q3 = DeviceQueues.of(drv3, false);
        drv3.addTx(pattern(60, 2));
        assertEquals(SplitVirtqueue.ERR_DIRECTION, popAndWalk(q3, true));

        // Inside an indirect table too.
        final DriverRing drv4 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q4 = DeviceQueues.of(drv4, false);
        drv4.addRxIndirect(32, 32);
        assertEquals(SplitVirtqueue.ERR_DIRECTION, popAndWalk(q4, false));
    }

    @Test
    void constructorRejectsSizesThatAreNotPowersOfTwo()
    {
        for (final int bad : new int[] {0, -1, 3, 100, 65536, VirtioNet.MAX_QUEUE_SIZE * 2})
        {
            assertThrows(IllegalArgumentException.class,
                () -> new SplitVirtqueue(bad, 0, 0, 0, DeviceQueues.hostTable(mem), false, -1, 0), "size " + bad);
        }
        assertEquals(VirtioNet.MAX_QUEUE_SIZE,
            new SplitVirtqueue(VirtioNet.MAX_QUEUE_SIZE, 0, 0, 0, DeviceQueues.hostTable(mem), false, -1, 0).size());
    }
}
