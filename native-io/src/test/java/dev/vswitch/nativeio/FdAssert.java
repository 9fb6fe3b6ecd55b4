package dev.vswitch.nativeio;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Exact fd-count assertions that other JVM threads cannot make flaky: they open and close fds of their own at any
 * moment (class loading, surefire's channel), so a baseline is taken only once the count is stable, and an expected
 * count is awaited briefly before failing. A real leak stays a failure: it never goes away.
 */
final class FdAssert
{
    private FdAssert()
    {
    }

    /** The open-fd count once two reads 20 ms apart agree. */
    static int stableOpenCount()
    {
        int previous = Fds.openCount();
        for (int i = 0; i < 100; i++)
        {
            sleep(20);
            final int now = Fds.openCount();
            if (now == previous)
            {
                return now;
            }
            previous = now;
        }
        return previous;
    }

    static void assertOpenCount(final int expected, final String message)
    {
        final long deadline = System.nanoTime() + 2_000_000_000L;
        int actual = Fds.openCount();
        while (actual != expected && System.nanoTime() < deadline)
        {
            sleep(10);
            actual = Fds.openCount();
        }
        assertEquals(expected, actual, message);
    }

    private static void sleep(final long millis)
    {
        try
        {
            Thread.sleep(millis);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
