package dev.vswitch.nativeio;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Non-blocking eventfds as used for vhost-user kick/call notification. {@link #signal} is on the data path, so it
 * allocates nothing and never throws.
 */
public final class EventFd
{
    /** The 8-byte value 1 that every signal writes; it never changes, so one static buffer serves all threads. */
    private static final Memory ONE = new Memory(Long.BYTES);
    private static final long ONE_ADDRESS;

    /** drain() needs a destination per thread because concurrent reads would race on a shared one. */
    private static final ThreadLocal<Memory> DRAIN_BUFFER = ThreadLocal.withInitial(() -> new Memory(Long.BYTES));
    private static final ThreadLocal<Memory> POLL_BUFFER = ThreadLocal.withInitial(() -> new Memory(8));

    static
    {
        ONE.setLong(0, 1L);
        ONE_ADDRESS = Pointer.nativeValue(ONE);
    }

    private EventFd()
    {
    }

    /** {@code eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)}. */
    public static int create() throws IOException
    {
        try
        {
            return LibC.eventfd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException("eventfd", ex.getErrorCode());
        }
    }

    /**
     * Add 1 to the counter, waking any poller. Best effort: EAGAIN (counter saturated, so the reader is already due a
     * wakeup) is ignored, and so are other errors, since the data path has no one to report them to and a lost
     * wakeup on a dead fd is harmless. EINTR is retried.
     */
    public static void signal(final int fd)
    {
        while (LibC.Raw.write(fd, ONE_ADDRESS, Long.BYTES) < 0 && Errno.last() == Errno.EINTR)
        {
            // interrupted before writing anything: retry
        }
    }

    /** What /proc/self/fd/N links to for an eventfd (an anonymous inode: it has no path of its own). */
    public static final String PROC_LINK = "anon_inode:[eventfd]";

    /**
     * True if {@code fd} is an eventfd of this process. A peer may hand us anything in SCM_RIGHTS (a pipe, a socket,
     * a file): only an eventfd has the semantics the notification protocol relies on (a write of 1 blocks only when
     * the counter is saturated, a read returns 8 bytes).
     */
    public static boolean isEventFd(final int fd)
    {
        return PROC_LINK.equals(describe(fd));
    }

    /** What {@code /proc/self/fd/fd} links to (for log lines), or a short reason it cannot be read. */
    public static String describe(final int fd)
    {
        try
        {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        }
        catch (final IOException | RuntimeException ex)
        {
            return "unreadable fd " + fd;
        }
    }

    /** peekCount's reader per thread (control threads, one per port). */
    private static final ThreadLocal<FdInfoReader> FDINFO = ThreadLocal.withInitial(FdInfoReader::new);

    /**
     * The eventfd's counter, read from /proc/self/fdinfo without touching the fd: a read would reset it and could
     * block (the peer shares the description and may have cleared O_NONBLOCK, and may empty the counter between a
     * poll and our read). Returns -1 if it cannot be read. Allocates nothing after a thread's first call: control
     * threads call it every poll interval while a front end is attached (see {@link FdInfoReader}).
     */
    public static long peekCount(final int fd)
    {
        return FDINFO.get().eventfdCount(fd);
    }

    /**
     * Sets O_NONBLOCK on the fd's open file description. A peer that holds the same description can clear it again
     * at any time, so this is hygiene, not a guarantee: see {@link #releaseBlockedWriter}.
     */
    public static void setNonBlocking(final int fd)
    {
        try
        {
            final int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
            if ((flags & LibC.O_NONBLOCK) == 0)
            {
                LibC.fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK);
            }
        }
        catch (final LastErrorException ignore)
        {
            // a bad fd shows up where it is used; nothing to do here
        }
    }

    /**
     * Frees a thread blocked in {@link #signal} on {@code fd}: a write blocks only while the counter is at its
     * maximum (0xfffffffffffffffe) and the description is blocking, and a read resets the counter to 0, which wakes
     * the writer. Sets O_NONBLOCK first so the read itself cannot block should the counter already be 0 (the
     * writer then is not blocked either). The peer may race to re-saturate; callers repeat while the writer is
     * still inside {@link #signal}.
     *
     * @return what the read took from the counter (0 if nothing).
     */
    public static long releaseBlockedWriter(final int fd)
    {
        setNonBlocking(fd);
        return drainIfReadable(fd);
    }

    /**
     * Like {@link #drain}, but never blocks and never throws: for fds a peer handed us, which may be blocking, of
     * another kind, or already broken. Returns what was pending (0 if nothing was, or the fd is unusable).
     */
    public static long drainIfReadable(final int fd)
    {
        final Memory pollfd = POLL_BUFFER.get();
        pollfd.setInt(0, fd);
        pollfd.setShort(4, (short)LibC.POLLIN);
        pollfd.setShort(6, (short)0);
        if (LibC.Raw.poll(Pointer.nativeValue(pollfd), 1, 0) != 1 || (pollfd.getShort(6) & LibC.POLLIN) == 0)
        {
            return 0;
        }
        final Memory value = DRAIN_BUFFER.get();
        return LibC.Raw.read(fd, Pointer.nativeValue(value), Long.BYTES) == Long.BYTES ? value.getLong(0) : 0;
    }

    /**
     * Read and reset the counter without blocking.
     *
     * @return the accumulated count, or 0 if nothing was pending.
     * @throws UncheckedIOException for errors other than EAGAIN (e.g. EBADF), which indicate a caller bug.
     */

    public static long drain(final int fd)
    {
        final Memory value = DRAIN_BUFFER.get();
        final long address = Pointer.nativeValue(value);
        while (true)
        {
            final long bytes = LibC.Raw.read(fd, address, Long.BYTES);
            if (bytes == Long.BYTES)
            {
                return value.getLong(0);
            }
            if (bytes >= 0)
            {
                // An eventfd read is all 8 bytes or an error; anything else means fd is some other kind of file.
                throw new UncheckedIOException(new IOException("fd " + fd + " is not an eventfd (read " + bytes + ")"));
            }
            final int errno = Errno.last();
            if (errno == Errno.EAGAIN)
            {
                return 0;
            }
            if (errno != Errno.EINTR)
            {
                throw new UncheckedIOException(new ErrnoException("read(eventfd " + fd + ")", errno));
            }
        }
    }
}
