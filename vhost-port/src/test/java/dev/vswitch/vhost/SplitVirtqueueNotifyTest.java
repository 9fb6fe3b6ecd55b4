package dev.vswitch.vhost;

import dev.vswitch.vhost.testing.DeviceQueues;
import dev.vswitch.nativeio.EventFd;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Used-ring publication and notification decisions (virtio 1.2, 2.7.7 and 2.7.10): used->idx moves once per
 * flush, interrupts follow vring_need_event with EVENT_IDX and AVAIL_F_NO_INTERRUPT without it, and the call eventfd
 * is written exactly when flush says so.
 */
class SplitVirtqueueNotifyTest
{
    private static final int SIZE = 16;

    private GuestMemory mem;
    private int callFd = -1;

    @BeforeEach
    void setUp() throws IOException
    {
        mem = GuestMemory.create(1 << 20);
        callFd = EventFd.create();
    }

    @AfterEach
    void tearDown()
    {
        Fds.close(callFd);
        mem.close();
    }

    /** Makes {@code n} RX buffers available, takes them on the device side and returns them as used. */
    private static void consume(final DriverRing drv, final SplitVirtqueue q, final int n)
    {
        drv.addRxBuffers(n, 64);
        assertEquals(n, q.available());
        for (int i = 0; i < n; i++)
        {
            final int head = q.pop();
            assertTrue(head >= 0);
            q.putUsed(head, 10 + i);
        }
    }

    /** One flush and the eventfd count it produced, checked against each other. */
    private boolean flushAndCheckSignal(final SplitVirtqueue q)
    {
        final long before = q.interrupts();
        final boolean sent = q.flush();
        assertEquals(sent ? 1 : 0, EventFd.drain(callFd), "eventfd written iff flush returned true");
        assertEquals(before + (sent ? 1 : 0), q.interrupts());
        return sent;
    }

    // ------------------------------------------------------------------ used->idx publication

    @Test
    void usedIndexIsPublishedOnlyAtFlush()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE, 7);
        final SplitVirtqueue q = DeviceQueues.of(drv, DeviceQueues.hostTable(mem), false, callFd);
        final int[] heads = drv.addRxBuffers(3, 64);
        for (int i = 0; i < 3; i++)
        {
            assertEquals(heads[i], q.pop());
            q.putUsed(heads[i], 100 + i);
        }
        assertEquals(3, q.pendingUsed());
        for (int i = 0; i < 3; i++)
        {
            final DriverRing.Used e = drv.usedElem(7 + i);
            assertEquals(heads[i], e.id(), "element written straight into the ring");
            assertEquals(100 + i, e.len());
        }
        assertEquals(7, drv.usedIdx(), "but used->idx not moved before flush");
        assertNull(drv.pollUsed());
        assertEquals(0, EventFd.drain(callFd), "and no interrupt");

        assertTrue(flushAndCheckSignal(q));
        assertEquals(10, drv.usedIdx());
        assertEquals(0, q.pendingUsed());
        assertEquals(3, drv.drainUsed().size());
    }

    @Test
    void flushWithNothingPendingSendsNothing()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, DeviceQueues.hostTable(mem), false, callFd);
        assertFalse(flushAndCheckSignal(q));
        consume(drv, q, 1);
        assertTrue(flushAndCheckSignal(q));
        assertFalse(flushAndCheckSignal(q), "second flush has nothing new");
        assertEquals(1, drv.usedIdx());

        final DriverRing drv2 = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q2 = DeviceQueues.of(drv2, DeviceQueues.hostTable(mem), true, callFd);
        drv2.setUsedEvent(0);
        assertFalse(flushAndCheckSignal(q2), "EVENT_IDX: nothing pending, nothing sent either");
    }

    // ------------------------------------------------------------------ without EVENT_IDX

    @Test
    void noInterruptFlagIsRespectedWithoutEventIdx()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, DeviceQueues.hostTable(mem), false, callFd);
        drv.setUsedEvent(0xffff);   // must be ignored without EVENT_IDX

        consume(drv, q, 2);
        assertTrue(flushAndCheckSignal(q));

        drv.setAvailFlags(VirtioNet.AVAIL_F_NO_INTERRUPT);
        consume(drv, q, 2);
        assertFalse(flushAndCheckSignal(q));
        assertEquals(4, drv.usedIdx(), "published even without an interrupt");

        drv.setAvailFlags(0);
        consume(drv, q, 1);
        assertTrue(flushAndCheckSignal(q));
        assertEquals(2, q.interrupts());
    }

    @Test
    void noCallFdMeansNoInterruptCounted()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, DeviceQueues.hostTable(mem), false, -1);
        consume(drv, q, 1);
        assertFalse(q.flush());
        assertEquals(0, q.interrupts());
        assertEquals(1, drv.usedIdx());

        // A call fd installed later takes effect at the next flush.
        q.callFd(callFd);
        consume(drv, q, 1);
        assertTrue(flushAndCheckSignal(q));
    }

    // ------------------------------------------------------------------ EVENT_IDX

    /**
     * One batch of {@code n} used elements starting at used index {@code base}, with used_event set to
     * {@code usedEvent}: returns whether the device interrupted.
     */
    private boolean batch(final int base, final int n, final int usedEvent)
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE, base);
        drv.setEventIdx(true);
        final SplitVirtqueue q = DeviceQueues.of(drv, DeviceQueues.hostTable(mem), true, callFd);
        drv.setAvailFlags(VirtioNet.AVAIL_F_NO_INTERRUPT);   // ignored with EVENT_IDX
        drv.setUsedEvent(usedEvent);
        consume(drv, q, n);
        final boolean sent = flushAndCheckSignal(q);
        assertEquals((base + n) & 0xffff, drv.usedIdx());
        assertEquals(DriverRing.needEvent(usedEvent, (base + n) & 0xffff, base), sent,
            "agrees with vring_need_event");
        return sent;
    }

    @Test
    void eventIdxInterruptsOnlyWhenUsedIndexPassesUsedEvent()
    {
        // old = 0, new = 3: interrupt iff used_event in [0, 3).
        assertTrue(batch(0, 3, 0));
        assertTrue(batch(0, 3, 1));
        assertTrue(batch(0, 3, 2));
        assertFalse(batch(0, 3, 3), "used_event == new: not yet passed");
        assertFalse(batch(0, 3, 4));
        assertFalse(batch(0, 3, 0xffff), "used_event just before old: already passed earlier");
        assertFalse(batch(0, 3, 0x8000));
    }

    @Test
    void eventIdxAcrossTheWrap()
    {
        // old = 65534, new = 2 (4 elements: 65534, 65535, 0, 1).
        assertTrue(batch(65534, 4, 65534));
        assertTrue(batch(65534, 4, 65535));
        assertTrue(batch(65534, 4, 0));
        assertTrue(batch(65534, 4, 1));
        assertFalse(batch(65534, 4, 2));
        assertFalse(batch(65534, 4, 65533));
        assertFalse(batch(65534, 4, 100));
        // Landing exactly on the wrap: old = 65535, new = 0.
        assertTrue(batch(65535, 1, 65535));
        assertFalse(batch(65535, 1, 0));
    }

    @Test
    void eventIdxComparesWithTheIndexOfTheLastFlushNotTheLastInterrupt()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE, 65530);
        drv.setEventIdx(true);
        final SplitVirtqueue q = DeviceQueues.of(drv, DeviceQueues.hostTable(mem), true, callFd);

        drv.setUsedEvent(65533);           // wants an interrupt once element 65533 is used
        consume(drv, q, 2);                // 65530, 65531 -> new 65532
        assertFalse(flushAndCheckSignal(q));
        drv.drainUsed();
        consume(drv, q, 3);                // 65532..65534 -> new 65535: passes 65533
        assertTrue(flushAndCheckSignal(q));
        drv.drainUsed();
        consume(drv, q, 3);                // 65535, 0, 1 -> new 2: used_event not moved, already passed
        assertFalse(flushAndCheckSignal(q));
        drv.drainUsed();
        drv.setUsedEvent(2);               // driver re-arms at the current index: next element fires
        consume(drv, q, 1);
        assertTrue(flushAndCheckSignal(q));
        assertEquals(3, drv.usedIdx());
        assertEquals(2, q.interrupts());
    }

    @Test
    void needEventMatchesTheSpecFormula()
    {
        for (final int old : new int[] {0, 1, 100, 32767, 65530, 65535})
        {
            for (int n = 0; n <= 8; n++)
            {
                final int now = (old + n) & 0xffff;
                for (int d = -3; d <= 10; d++)
                {
                    final int event = (old + d) & 0xffff;
                    // Interrupt iff event is one of old, old+1, ..., new-1 (mod 2^16).
                    final boolean expected = d >= 0 && d < n;
                    assertEquals(expected, SplitVirtqueue.needEvent(event, now, old),
                        "event " + event + " old " + old + " new " + now);
                }
            }
        }
    }

    // ------------------------------------------------------------------ kick suppression

    @Test
    void suppressKicksWithoutEventIdxSetsNoNotify()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE);
        final SplitVirtqueue q = DeviceQueues.of(drv, DeviceQueues.hostTable(mem), false, callFd);
        assertEquals(0, drv.usedFlags());
        assertTrue(drv.kickNeeded(drv.availIdx()));
        q.suppressKicks();
        assertEquals(VirtioNet.USED_F_NO_NOTIFY, drv.usedFlags());
        assertEquals(0, drv.availEvent(), "avail_event untouched without EVENT_IDX");
        final int old = drv.availIdx();
        drv.addTx(new byte[60]);
        assertFalse(drv.kickNeeded(old));
    }

    @Test
    void suppressKicksWithEventIdxParksAvailEventBehindLastAvail()
    {
        final DriverRing drv = DriverRing.allocate(mem, SIZE, 65534);
        drv.setEventIdx(true);
        final SplitVirtqueue q = DeviceQueues.of(drv, DeviceQueues.hostTable(mem), true, callFd);
        drv.addRxBuffers(3, 64);
        assertEquals(3, q.available());
        q.pop();
        q.pop();
        q.pop();
        assertEquals(1, q.lastAvailIndex());
        q.suppressKicks();
        assertEquals(0, drv.usedFlags(), "NO_NOTIFY is not used with EVENT_IDX");
        assertEquals(0, drv.availEvent(), "lastAvail - 1 across the wrap");

        // The driver adding more chains does not need to kick.
        final int old = drv.availIdx();
        drv.addRxBuffers(2, 64);
        assertFalse(drv.kickNeeded(old));

        // At index 0 avail_event wraps to 65535.
        final DriverRing drv2 = DriverRing.allocate(mem, SIZE, 0);
        final SplitVirtqueue q2 = DeviceQueues.of(drv2, DeviceQueues.hostTable(mem), true, callFd);
        q2.suppressKicks();
        assertEquals(0xffff, drv2.availEvent());
    }
}
