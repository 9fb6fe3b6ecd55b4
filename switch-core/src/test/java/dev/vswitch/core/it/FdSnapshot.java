package dev.vswitch.core.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/** What each of this process's fds points at, for leak diagnostics. */
final class FdSnapshot
{
    private FdSnapshot()
    {
    }

    /** Mappings of shared guest memory (memfd or hugetlbfs files passed in SET_MEM_TABLE). */
    static long guestMappings()
    {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps")))
        {
            return lines.filter(l -> l.contains("/memfd:") || l.contains("hugepages")).count();
        }
        catch (final IOException ex)
        {
            throw new AssertionError(ex);
        }
    }

    static Set<String> take()
    {
        final Set<String> out = new TreeSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd")))
        {
            fds.forEach(p ->
            {
                try
                {
                    out.add(p.getFileName() + "->" + Files.readSymbolicLink(p));
                }
                catch (final IOException ignored)
                {
                    // closed while listing
                }
            });
        }
        catch (final IOException ex)
        {
            out.add("unreadable: " + ex);
        }
        return out;
    }
}
