package dev.vswitch.testkit;

import java.lang.management.ManagementFactory;

/**
 * Bytes the current thread allocates between {@link #start()} and {@link #bytes()}: the JVM's per-thread
 * allocation counter (HotSpot's {@code com.sun.management.ThreadMXBean}), how the tests prove a per-frame path
 * allocates nothing. Warm the path up first (class init, JIT) and compare against a small limit rather than zero:
 * the counter moves in TLAB-sized steps.
 * <pre>
 * assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");
 * ... warm up ...
 * final AllocationProbe probe = AllocationProbe.start();
 * ... the measured loop ...
 * assertTrue(probe.bytes() &lt; 64 * 1024, ...);
 * </pre>
 */
public final class AllocationProbe
{
    private static final com.sun.management.ThreadMXBean THREADS = threads();

    private final long threadId;
    private final long startBytes;

    private AllocationProbe(final long threadId)
    {
        this.threadId = threadId;
        this.startBytes = THREADS.getThreadAllocatedBytes(threadId);
    }

    /** Whether this JVM counts allocations per thread (turned on here if it can be). */
    public static boolean supported()
    {
        return THREADS != null && THREADS.isThreadAllocatedMemorySupported() && THREADS.isThreadAllocatedMemoryEnabled();
    }

    /** Starts counting the current thread's allocations; the caller checks {@link #supported()} first. */
    public static AllocationProbe start()
    {
        if (!supported())
        {
            throw new IllegalStateException("this JVM does not count allocations per thread");
        }
        return new AllocationProbe(Thread.currentThread().getId());
    }

    /** Bytes the thread that called {@link #start()} has allocated since. */
    public long bytes()
    {
        return THREADS.getThreadAllocatedBytes(threadId) - startBytes;
    }

    private static com.sun.management.ThreadMXBean threads()
    {
        final java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        if (!(bean instanceof com.sun.management.ThreadMXBean))
        {
            return null;
        }
        final com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean)bean;
        if (threads.isThreadAllocatedMemorySupported())
        {
            threads.setThreadAllocatedMemoryEnabled(true);
        }
        return threads;
    }
}
