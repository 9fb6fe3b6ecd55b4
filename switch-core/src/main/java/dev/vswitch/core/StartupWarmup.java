package dev.vswitch.core;

import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.stages.MacTable;
import org.agrona.concurrent.SystemEpochClock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Start-up work that does not depend on the sockets or devices, done before the switch takes them. Opening a
 * persisted FDB is most of a start-up's time: Chronicle Map generates and compiles (javac, in process) the class of
 * its file header the first time one is opened, about a second on a quiet machine. A scratch table in a temporary
 * file pays that once; the real table then opens in milliseconds. Worth it only when something waits meanwhile,
 * i.e. a standby switch ({@link HandoverLock}) while the old one still forwards.
 */
final class StartupWarmup
{
    private StartupWarmup()
    {
    }

    /** @param capacity the configured FDB size: the scratch table is laid out as the real one will be */
    static void run(final int capacity)
    {
        final long start = System.nanoTime();
        Path dir = null;
        try
        {
            dir = Files.createTempDirectory("vswitch-warmup");
            try (MacTable scratch = MacTable.open(capacity, capacity, 0, new String[] {"warmup"}, dir.resolve("fdb.map"),
                SystemEpochClock.INSTANCE))
            {
                scratch.summary();
            }
            Log.info("switch", "warmed up (FDB code generated) in " + (System.nanoTime() - start) / 1_000_000 + " ms");
        }
        catch (final IOException | RuntimeException ex)
        {
            Log.warn("switch", "warm-up skipped: " + ex);   // the real start does the same work, only later
        }
        finally
        {
            if (dir != null)
            {
                try (var files = Files.list(dir))
                {
                    for (final Path f : (Iterable<Path>)files::iterator)
                    {
                        Files.deleteIfExists(f);
                    }
                    Files.deleteIfExists(dir);
                }
                catch (final IOException ignored)
                {
                    // a temp dir left behind is harmless
                }
            }
        }
    }
}
