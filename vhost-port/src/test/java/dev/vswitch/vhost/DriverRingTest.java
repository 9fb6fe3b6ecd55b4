package dev.vswitch.vhost;

import dev.vswitch.vhost.testing.DeviceQueues;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The test driver itself: layout per virtio 1.2 2.7 and the three distinct address spaces. */
class DriverRingTest
{
    @Test
    void layoutAndAddressSpaces()
    {
        try (GuestMemory mem = GuestMemory.create(1 << 20))
        {
            final DriverRing r = DriverRing.allocate(mem, 256, 40000);
            assertEquals(0, r.descGpa() & 15, "descriptor table 16-byte aligned");
            assertEquals(r.descGpa() + 16 * 256, r.availGpa());
            assertEquals(0, r.usedGpa() & 3, "used ring 4-byte aligned");
            assertTrue(r.usedGpa() >= r.availGpa() + 6 + 2 * 256);
            assertEquals(r.descGpa() - mem.gpa() + mem.uva(), r.descUva());
            assertEquals(mem.host(r.usedGpa()), r.usedHost());
            assertNotEquals(r.descGpa(), r.descUva());
            assertNotEquals(r.descGpa(), r.descHost());
            assertEquals(40000, mem.getShort(r.availGpa() + 2), "avail->idx starts at the base");
            assertEquals(40000, mem.getShort(r.usedGpa() + 2), "used->idx starts at the base");
            r.setUsedEvent(0x1234);
            assertEquals(0x1234, mem.getShort(r.availGpa() + 4 + 2 * 256));
            mem.putShort(r.usedGpa() + 4 + 8 * 256, 0x4321);
            assertEquals(0x4321, r.availEvent());
            assertThrows(IllegalArgumentException.class, () -> DriverRing.allocate(mem, 100));
        }
    }

    @Test
    void descriptorsAndBuffersAreRecycled()
    {
        try (GuestMemory mem = GuestMemory.create(1 << 20))
        {
            final DriverRing r = DriverRing.allocate(mem, 4);
            final SplitVirtqueue q = DeviceQueues.of(r, false);
            final long freeBefore = mem.free();
            for (int i = 0; i < 100; i++)
            {
                final int head = r.addTx(DriverRing.netHeader(), new byte[100], i % 2 == 0, 12, 50, 50);
                assertEquals(head, q.pop());
                q.putUsed(head, 0);
                q.flush();
                assertEquals(head, r.pollUsed().id());
                assertEquals(4, r.freeDescriptors());
            }
            assertTrue(freeBefore - mem.free() <= 8 * DriverRing.DEFAULT_SLOT_BYTES, "slots reused");
            assertThrows(IllegalStateException.class, () -> r.addTx(DriverRing.netHeader(), new byte[5], false,
                1, 1, 1, 1, 1, 12));
        }
    }
}
