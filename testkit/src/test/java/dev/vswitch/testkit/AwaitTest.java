package dev.vswitch.testkit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AwaitTest
{
    @Test
    void returnsAsSoonAsTheConditionHolds()
    {
        final AtomicInteger polls = new AtomicInteger();
        final long start = System.nanoTime();
        Await.until("the third poll", Duration.ofSeconds(5), () -> polls.incrementAndGet() == 3);
        assertEquals(3, polls.get());
        assertTrue(System.nanoTime() - start < 1_000_000_000L, "backs off from 1 ms, not a fixed long sleep");
    }

    @Test
    void failsNamingWhatItWaitedForAndTheDetail()
    {
        final AssertionError e = assertThrows(AssertionError.class,
            () -> Await.until("the moon", Duration.ofMillis(50), () -> false, () -> "counters 1/2"));
        assertEquals("timed out after 50 ms waiting for the moon: counters 1/2", e.getMessage());
    }

    @Test
    void steadyWaitsForAPositiveValueToStopChanging()
    {
        final AtomicLong value = new AtomicLong();
        final AtomicInteger reads = new AtomicInteger();
        Await.steady("traffic", Duration.ofSeconds(5), Duration.ofMillis(30), () ->
        {
            final int n = reads.incrementAndGet();
            return n < 5 ? 0 : Math.min(n, 8);   // zero, then rising, then constant
        });
        assertTrue(reads.get() > 8, "read past the rise: " + reads.get());
        final AssertionError e = assertThrows(AssertionError.class,
            () -> Await.steady("no traffic", Duration.ofMillis(50), Duration.ofMillis(10), value::get));
        assertTrue(e.getMessage().contains("no traffic to settle"), e.getMessage());
    }

    @Test
    void fileContainsReadsTheFileUntilTheTextAppearsAndShowsItsEndOtherwise(@TempDir final Path dir)
        throws Exception
    {
        final Path log = dir.resolve("log");
        final Thread writer = new Thread(() ->
        {
            try
            {
                Thread.sleep(20);   // the writer is late on purpose
                Files.writeString(log, "starting\nlistening on 5201\n");
            }
            catch (final Exception ex)
            {
                throw new RuntimeException(ex);
            }
        });
        writer.start();
        Await.fileContains(log, "listening", Duration.ofSeconds(5));
        writer.join();
        final AssertionError e = assertThrows(AssertionError.class,
            () -> Await.fileContains(log, 9, "starting", Duration.ofMillis(30)));
        assertTrue(e.getMessage().contains("listening on 5201"), e.getMessage());
    }
}
