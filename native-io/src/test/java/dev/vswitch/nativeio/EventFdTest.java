package dev.vswitch.nativeio;

import com.sun.management.ThreadMXBean;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.*;

class EventFdTest
{
    private static final ThreadMXBean THREADS = (ThreadMXBean)ManagementFactory.getThreadMXBean();

    @Test
    void signalAccumulatesAndDrainResets() throws IOException
    {
        final int fd = EventFd.create();
        try
        {
            assertEquals(0, EventFd.drain(fd), "fresh eventfd has nothing pending");
            EventFd.signal(fd);
            EventFd.signal(fd);
            EventFd.signal(fd);
            assertEquals(3, EventFd.drain(fd));
            assertEquals(0, EventFd.drain(fd));
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void createdNonBlockingAndCloexec() throws IOException
    {
        final int fd = EventFd.create();
        try
        {
            assertEquals(LibC.O_NONBLOCK, LibC.fcntl(fd, LibC.F_GETFL, 0) & LibC.O_NONBLOCK);
            assertEquals(LibC.FD_CLOEXEC, LibC.fcntl(fd, LibC.F_GETFD, 0) & LibC.FD_CLOEXEC);
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void signalWakesPoll() throws IOException
    {
        final int fd = EventFd.create();
        final com.sun.jna.Memory pollfd = new com.sun.jna.Memory(8);
        try
        {
            pollfd.setInt(0, fd);
            pollfd.setShort(4, LibC.POLLIN);
            pollfd.setShort(6, (short)0);
            assertEquals(0, LibC.poll(com.sun.jna.Pointer.nativeValue(pollfd), 1, 0));
            EventFd.signal(fd);
            assertEquals(1, LibC.poll(com.sun.jna.Pointer.nativeValue(pollfd), 1, 0));
            assertEquals(LibC.POLLIN, pollfd.getShort(6) & LibC.POLLIN);
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void rawReadReportsEagainThroughLastError() throws IOException
    {
        final int fd = EventFd.create();
        final com.sun.jna.Memory buf = new com.sun.jna.Memory(8);
        try
        {
            assertEquals(-1, LibC.Raw.read(fd, com.sun.jna.Pointer.nativeValue(buf), 8));
            assertEquals(Errno.EAGAIN, Errno.last());
            final com.sun.jna.LastErrorException ex = assertThrows(com.sun.jna.LastErrorException.class,
                () -> LibC.read(fd, com.sun.jna.Pointer.nativeValue(buf), 8));
            assertEquals(Errno.EAGAIN, ex.getErrorCode());
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void drainOfBadFdThrowsAndSignalIgnoresIt()
    {
        final int fd = -1; // not a closed real fd: its number could be reused by another thread meanwhile
        EventFd.signal(fd); // must not throw on the data path
        final UncheckedIOException ex = assertThrows(UncheckedIOException.class, () -> EventFd.drain(fd));
        assertEquals(Errno.EBADF, ((ErrnoException)ex.getCause()).errno());
    }

    @Test
    void signalAndDrainDoNotAllocate() throws IOException
    {
        final int fd = EventFd.create();
        try
        {
            for (int i = 0; i < 20_000; i++) // warm up (class init, ThreadLocal, JIT)
            {
                EventFd.signal(fd);
                EventFd.drain(fd);
            }
            final long tid = Thread.currentThread().getId();
            final long before = THREADS.getThreadAllocatedBytes(tid);
            long total = 0;
            for (int i = 0; i < 100_000; i++)
            {
                EventFd.signal(fd);
                total += EventFd.drain(fd);
            }
            final long allocated = THREADS.getThreadAllocatedBytes(tid) - before;
            assertEquals(100_000, total);
            // A single allocation per call would be >= 1.6 MB here; allow a little noise from the measurement itself.
            assertTrue(allocated < 16 * 1024, "signal/drain allocated " + allocated + " bytes");
        }
        finally
        {
            Fds.close(fd);
        }
    }

    /** A peer's "kick fd" may be a blocking fd with nothing to read: draining it must return, not hang. */
    @Test
    void drainIfReadableNeverBlocksOnAPeersFd() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();   // blocking sockets, nothing written
        try
        {
            final long start = System.nanoTime();
            assertEquals(0, EventFd.drainIfReadable(pair[0].fd()));
            assertTrue(System.nanoTime() - start < 1_000_000_000L, "returned at once");
            assertEquals(0, EventFd.drainIfReadable(-1), "a broken fd counts nothing and does not throw");
        }
        finally
        {
            pair[0].close();
            pair[1].close();
        }
        final int fd = EventFd.create();
        try
        {
            EventFd.signal(fd);
            EventFd.signal(fd);
            assertEquals(2, EventFd.drainIfReadable(fd));
            assertEquals(0, EventFd.drainIfReadable(fd));
        }
        finally
        {
            Fds.close(fd);
        }
    }
}
