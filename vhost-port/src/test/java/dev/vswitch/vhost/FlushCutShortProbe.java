package dev.vswitch.vhost;

import dev.vswitch.vhost.testing.DeviceQueues;
import dev.vswitch.nativeio.EventFd;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;

/**
 * Run by {@link SplitVirtqueueFaultTest} in a JVM of its own with {@code -Xint}: interpreted, HotSpot raises the
 * InternalError of a faulting Unsafe access at that access (compiled code gets it later, at the next VM transition,
 * which is what made the PMD lose interrupts; see {@link SplitVirtqueue#flush}). So a flush is cut short at a known
 * point by a real SIGBUS: guest memory truncated under the used ring. Prints one line per check; exits non-zero on the
 * first that fails.
 */
public final class FlushCutShortProbe
{
    private static final int SIZE = 16;

    public static void main(final String[] args) throws Exception
    {
        final int callFd = EventFd.create();
        try (GuestMemory mem = GuestMemory.create(1 << 20))
        {
            final DriverRing drv = DriverRing.allocate(mem, SIZE);
            final SplitVirtqueue q = DeviceQueues.of(drv, DeviceQueues.hostTable(mem), true, callFd);
            drv.addRxBuffers(2, 64);
            for (int i = 0; i < 2; i++)
            {
                q.putUsed(q.pop(), 60);
            }
            check(mem.truncate(0) == 0, "truncated the guest memory under the rings");
            InternalError thrown = null;
            try
            {
                q.flush();
            }
            catch (final InternalError e)
            {
                thrown = e;
            }
            check(thrown != null, "the flush was cut short by the fault: " + thrown);
            check(q.signallingSince() == 0, "no interrupt write is left looking stuck");
            check(q.needsFlush(), "the queue says it still owes a flush though no used element is pending");

            check(mem.truncate(mem.size()) == 0, "the memory came back (zero pages)");
            check(q.flush(), "the owed flush interrupts the driver");
            check(drv.usedIdx() == 2, "and publishes used->idx again: " + drv.usedIdx());
            check(EventFd.drain(callFd) == 1, "the call eventfd was written once");
            check(!q.needsFlush() && !q.flush(), "after which nothing is owed");
        }
        System.out.println("probe: all checks passed");
    }

    private static void check(final boolean ok, final String what)
    {
        System.out.println((ok ? "ok   " : "FAIL ") + what);
        if (!ok)
        {
            System.exit(1);
        }
    }
}
