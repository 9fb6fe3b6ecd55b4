package dev.vswitch.core;

import dev.vswitch.pipeline.Log;
import net.openhft.affinity.impl.LinuxHelper;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Keeps the JVM's own threads (GC workers, JIT compilers, vhost-user control threads, the stats printer) off the
 * CPUs the PMD threads own. Pinning only the PMD thread is not enough: the kernel still schedules the other
 * threads onto its CPU, and each such preemption stalls every port for a scheduler slice (on the testpmd latency
 * loop at 10k frames/s, moving them away by hand took one run's p99.9 round trip from milliseconds to ~100 us).
 * <p>
 * Works on the whole process, not just Java threads: every task in /proc/self/task is given the housekeeping set
 * (online CPUs allowed to the process, minus PMD CPUs). Threads created later inherit it from their creator, and
 * a task already pinned inside the PMD CPUs (the PMD thread, which pins itself when it starts) is left there. It
 * runs once the switch has started: start-up (class loading, JIT, opening the FDB) is the critical path of a
 * restart, and while it runs the PMD CPUs are the idle ones. Only the standalone process ({@link Main})
 * applies it, and for its whole life: child processes inherit the mask too, so a JVM that embeds the switch and
 * starts other programs (the tests start testpmd, QEMU, tcpdump) would squeeze them all onto the housekeeping CPUs.
 */
final class HousekeepingAffinity
{
    private static final String LOG = "switch";
    private static final Path TASKS = Path.of("/proc/self/task");
    private static final Path ONLINE = Path.of("/sys/devices/system/cpu/online");

    private HousekeepingAffinity()
    {
    }

    /**
     * Moves every current task of this process to the CPUs that are online, allowed to the process, and not in
     * {@code pmdCpus}. Logs, and leaves the threads where they are, when that set would be empty or is unknown.
     */
    static void apply(final int[] pmdCpus)
    {
        final BitSet online = onlineCpus();
        final BitSet housekeeping;
        try
        {
            housekeeping = allowedCpus(Files.readString(TASKS.getParent().resolve("status")));
        }
        catch (final IOException | RuntimeException ex)
        {
            Log.warn(LOG, "cannot read the process's CPU set (" + ex + "); JVM threads may share the PMD CPU");
            return;
        }
        if (online == null)
        {
            Log.warn(LOG, "cannot read " + ONLINE + "; JVM threads may share the PMD CPU");
            return;
        }
        housekeeping.and(online);
        for (final int cpu : pmdCpus)
        {
            housekeeping.clear(cpu);
        }
        if (housekeeping.isEmpty())
        {
            Log.warn(LOG, "no CPU left for the JVM's other threads besides the PMD CPUs " + cpuList(pmdCpus) +
                " (online: " + cpuList(online) + "); they will share the PMD CPU");
            return;
        }
        final BitSet pmd = new BitSet();
        for (final int cpu : pmdCpus)
        {
            pmd.set(cpu);
        }
        final int moved = setAll(housekeeping, pmd);
        Log.info(LOG, moved + " JVM threads kept on CPU(s) " + cpuList(housekeeping) + ", off the PMD CPU(s) " +
            cpuList(pmdCpus));
    }

    /** CPUs the kernel has online, or null if unknown. */
    static BitSet onlineCpus()
    {
        try
        {
            return cpuList(Files.readString(ONLINE).trim());
        }
        catch (final IOException | RuntimeException ex)
        {
            return null;
        }
    }

    /**
     * Sets {@code mask} on every task, listing them again until a pass finds none it has not set: the first
     * affinity call itself starts threads (JNA's cleaner) from a thread that may not have been moved yet.
     */
    private static int setAll(final BitSet mask, final BitSet pmdCpus)
    {
        final java.util.Set<Integer> done = new java.util.HashSet<>();
        for (int pass = 0; pass < 5; pass++)
        {
            boolean fresh = false;
            for (final int tid : taskIds())
            {
                if (done.add(tid))
                {
                    fresh = true;
                    if (pinnedWithin(tid, pmdCpus))
                    {
                        continue;
                    }
                    try
                    {
                        LinuxHelper.sched_setaffinity(tid, mask);
                    }
                    catch (final RuntimeException | LinkageError ex)
                    {
                        // The task may have exited between the listing and the call; nothing else to do for it.
                    }
                }
            }
            if (!fresh)
            {
                break;
            }
        }
        return done.size();
    }

    /** True if task {@code tid} may run only on CPUs of {@code pmdCpus} (a PMD thread that pinned itself). */
    private static boolean pinnedWithin(final int tid, final BitSet pmdCpus)
    {
        try
        {
            final BitSet allowed = allowedCpus(Files.readString(TASKS.resolve(Integer.toString(tid)).resolve("status")));
            allowed.andNot(pmdCpus);
            return allowed.isEmpty();
        }
        catch (final IOException | RuntimeException ex)
        {
            return false;   // gone, or unreadable: setting its mask is harmless
        }
    }

    private static List<Integer> taskIds()
    {
        final List<Integer> ids = new ArrayList<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(TASKS))
        {
            for (final Path task : tasks)
            {
                ids.add(Integer.parseInt(task.getFileName().toString()));
            }
        }
        catch (final IOException | NumberFormatException ex)
        {
            Log.warn(LOG, "cannot list " + TASKS + ": " + ex);
        }
        return ids;
    }

    /** The Cpus_allowed_list of a /proc/.../status text. */
    static BitSet allowedCpus(final String status)
    {
        for (final String line : status.split("\n"))
        {
            if (line.startsWith("Cpus_allowed_list:"))
            {
                return cpuList(line.substring("Cpus_allowed_list:".length()).trim());
            }
        }
        throw new IllegalArgumentException("no Cpus_allowed_list line");
    }

    /** Parses the kernel's CPU list format: "0-3,8,10-11". */
    static BitSet cpuList(final String list)
    {
        final BitSet cpus = new BitSet();
        for (final String part : list.split(","))
        {
            final String p = part.trim();
            if (p.isEmpty())
            {
                continue;
            }
            final int dash = p.indexOf('-');
            if (dash < 0)
            {
                cpus.set(Integer.parseInt(p));
            }
            else
            {
                cpus.set(Integer.parseInt(p.substring(0, dash)), Integer.parseInt(p.substring(dash + 1)) + 1);
            }
        }
        return cpus;
    }

    static String cpuList(final BitSet cpus)
    {
        return cpus.toString().replace("{", "").replace("}", "").replace(" ", "");
    }

    private static String cpuList(final int[] cpus)
    {
        final BitSet set = new BitSet();
        for (final int cpu : cpus)
        {
            set.set(cpu);
        }
        return cpuList(set);
    }
}
