package dev.vswitch.core.it;

import dev.vswitch.testkit.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The standalone switch keeps its PMD CPU to itself: the PMD thread runs only on CPU 1 and every other thread of
 * the process (GC, JIT compilers, vhost-user control threads, stats) only elsewhere. Read from the kernel's view of
 * each task (/proc/PID/task/TID/status), while a front end is attached and traffic flows, so control threads and
 * any compiler threads started under load are included.
 */
class ThreadPlacementTest
{
    @TempDir
    Path dir;

    @Test
    void onlyThePmdThreadRunsOnThePmdCpu() throws Exception
    {
        assumeTrue(Files.readString(Path.of("/sys/devices/system/cpu/online")).trim().startsWith("0-"),
            "needs at least 2 online CPUs");
        final Path log = dir.resolve("switch.log");
        final Process sw = SwitchProcess.startTwoPorts(dir, log);
        try
        {
            try (Testpmd pmd = SwitchProcess.startLoop(dir, log, "02:00:00:00:04:"))
            {
                Await.until("the PMD thread on CPU 1 and the JVM's threads moved off it", Duration.ofSeconds(20),
                    () -> placed(sw.pid(), log));

                final TreeMap<String, String> placement = placement(sw.pid());
                final String text = Files.readString(log, StandardCharsets.UTF_8);
                assertTrue(text.contains("JVM threads kept on CPU(s) 0, off the PMD CPU(s) 1"), text);
                int pmdThreads = 0;
                for (final var task : placement.entrySet())
                {
                    if (task.getKey().startsWith("pmd-0"))
                    {
                        pmdThreads++;
                        assertEquals("1", task.getValue(), "the PMD thread is pinned to CPU 1: " + placement);
                    }
                    else
                    {
                        assertFalse(allows(task.getValue(), 1), task.getKey() + " may run on the PMD CPU: " +
                            placement);
                    }
                }
                assertEquals(1, pmdThreads, placement.toString());
                assertTrue(placement.size() > 10, "saw the JVM's threads: " + placement);
                pmd.command("stop");
            }
        }
        finally
        {
            sw.destroy();
            if (!sw.waitFor(30, TimeUnit.SECONDS))
            {
                sw.destroyForcibly();
            }
        }
    }

    /** The switch has said it moved the JVM's threads, and its PMD thread is pinned. */
    private static boolean placed(final long pid, final Path log)
    {
        try
        {
            return Files.readString(log, StandardCharsets.UTF_8).contains("JVM threads kept on CPU(s)") &&
                placement(pid).entrySet().stream().anyMatch(t -> t.getKey().startsWith("pmd-0") && "1".equals(t.getValue()));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /** "comm/tid" -> Cpus_allowed_list for every task of the process. */
    private static TreeMap<String, String> placement(final long pid) throws IOException
    {
        final TreeMap<String, String> placement = new TreeMap<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task")))
        {
            for (final Path task : tasks)
            {
                try
                {
                    final String comm = Files.readString(task.resolve("comm")).trim();
                    for (final String line : Files.readAllLines(task.resolve("status")))
                    {
                        if (line.startsWith("Cpus_allowed_list:"))
                        {
                            placement.put(comm + "/" + task.getFileName(), line.substring(18).trim());
                        }
                    }
                }
                catch (final NoSuchFileException exited)
                {
                    // a thread that ended between the listing and the read
                }
            }
        }
        return placement;
    }

    private static boolean allows(final String list, final int cpu)
    {
        for (final String part : list.split(","))
        {
            final String[] range = part.split("-");
            final int lo = Integer.parseInt(range[0].trim());
            final int hi = range.length > 1 ? Integer.parseInt(range[1].trim()) : lo;
            if (cpu >= lo && cpu <= hi)
            {
                return true;
            }
        }
        return false;
    }
}
