package dev.vswitch.nativeio;

import com.sun.jna.LastErrorException;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.stream.Stream;

/**
 * Plain file-descriptor helpers, plus process-wide counters that tests use to prove nothing leaks.
 */
public final class Fds
{
    private Fds()
    {
    }

    /**
     * Size of the file behind {@code fd} (e.g. a memfd a vhost-user front end passed us), found by seeking to the end.
     * The offset is left at 0 afterwards.
     *
     * @throws IOException if the fd is not seekable (ESPIPE for sockets, pipes, eventfds) or invalid.
     */
    public static long size(final int fd) throws IOException
    {
        final long size;
        try
        {
            size = LibC.lseek(fd, 0, LibC.SEEK_END);
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException("lseek(fd " + fd + ", SEEK_END)", ex.getErrorCode());
        }
        try
        {
            LibC.lseek(fd, 0, LibC.SEEK_SET);
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException("lseek(fd " + fd + ", SEEK_SET)", ex.getErrorCode());
        }
        return size;
    }

    /**
     * Makes sure the file behind {@code fd} can no longer shrink: adds F_SEAL_SHRINK where the file allows seals
     * (a memfd created with MFD_ALLOW_SEALING and not yet F_SEAL_SEAL'ed), and reports whether it now has it.
     * False for files without seals (plain memfds, hugetlbfs or tmpfs files), which a peer can truncate under us.
     */
    public static boolean sealAgainstShrinking(final int fd)
    {
        try
        {
            if ((LibC.fcntl(fd, LibC.F_GET_SEALS, 0) & LibC.F_SEAL_SHRINK) != 0)
            {
                return true;
            }
            LibC.fcntl(fd, LibC.F_ADD_SEALS, LibC.F_SEAL_SHRINK);
            return true;
        }
        catch (final LastErrorException ex)
        {
            return false;   // EINVAL: no seals on this file; EPERM: sealing not allowed or sealed against seals
        }
    }

    /** The file's size by fstat (through /proc, so the shared file offset is left alone), or -1. */
    public static long statSize(final int fd)
    {
        try
        {
            return Files.size(Paths.get("/proc/self/fd/" + fd));
        }
        catch (final IOException | RuntimeException ex)
        {
            return -1;
        }
    }

    /**
     * Close quietly: -1 is ignored and so are errors, because there is nothing a caller can do about a failed close
     * (Linux releases the fd even on EINTR, so retrying could close someone else's fd).
     */
    public static void close(final int fd)
    {
        if (fd < 0)
        {
            return;
        }
        try
        {
            LibC.close(fd);
        }
        catch (final LastErrorException ignore)
        {
        }
    }

    /**
     * Number of entries in {@code /proc/self/fd}. Includes the directory handle used to list it, so compare counts
     * against each other rather than against an absolute number.
     */
    public static int openCount()
    {
        final String[] names = new File("/proc/self/fd").list();
        if (null == names)
        {
            throw new UncheckedIOException(new IOException("cannot list /proc/self/fd"));
        }
        return names.length;
    }

    /** Number of lines in {@code /proc/self/maps}, i.e. VMAs; unmapping a region we mapped should lower it. */
    public static int mappingCount()
    {
        try (Stream<String> lines = Files.lines(Paths.get("/proc/self/maps")))
        {
            return (int)lines.count();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
