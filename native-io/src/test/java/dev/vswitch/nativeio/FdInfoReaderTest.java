package dev.vswitch.nativeio;

import com.sun.management.ThreadMXBean;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link EventFd#peekCount} (through {@link FdInfoReader}) reads the counter the kernel reports, for counts of every
 * width and fds of every width, answers -1 for what is not an open eventfd, and allocates nothing: the control
 * threads call it every poll interval, and its garbage once made young collections that stopped the PMD.
 */
class FdInfoReaderTest
{
    private static final ThreadMXBean THREADS = (ThreadMXBean)ManagementFactory.getThreadMXBean();

    @Test
    void readsTheCounterWithoutTouchingIt() throws IOException
    {
        final int fd = EventFd.create();
        try
        {
            assertEquals(0, EventFd.peekCount(fd));
            for (int i = 0; i < 300; i++)
            {
                EventFd.signal(fd);
            }
            assertEquals(300, EventFd.peekCount(fd));
            assertEquals(300, EventFd.peekCount(fd), "peeking does not reset it");
            assertEquals(300, EventFd.drain(fd));
            assertEquals(0, EventFd.peekCount(fd));
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void readsTheLargestCountAndAFdWithManyDigits() throws IOException
    {
        final int fd = EventFd.create();
        int high = -1;
        try (var buffer = new com.sun.jna.Memory(8))
        {
            buffer.setLong(0, 0xFFFF_FFFF_FFFF_FFFEL);   // the most an eventfd holds
            LibC.write(fd, com.sun.jna.Pointer.nativeValue(buffer), 8);
            assertEquals(0xFFFF_FFFF_FFFF_FFFEL, EventFd.peekCount(fd));
            high = LibC.fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, 12_345);
            assertTrue(high >= 12_345);
            assertEquals(0xFFFF_FFFF_FFFF_FFFEL, EventFd.peekCount(high));
        }
        finally
        {
            Fds.close(fd);
            if (high >= 0)
            {
                Fds.close(high);
            }
        }
    }

    @Test
    void answersMinusOneForWhatIsNotAnOpenEventfd() throws IOException
    {
        final int fd = EventFd.create();
        Fds.close(fd);
        assertEquals(-1, EventFd.peekCount(fd), "closed");
        assertEquals(-1, EventFd.peekCount(-1));
        final int memfd = Mmap.memfd("not-an-eventfd", 4096);
        try
        {
            assertEquals(-1, EventFd.peekCount(memfd), "a memfd has no eventfd-count line");
        }
        finally
        {
            Fds.close(memfd);
        }
    }

    @Test
    void peekingAllocatesNothing() throws IOException
    {
        final int fd = EventFd.create();
        try
        {
            EventFd.signal(fd);
            for (int i = 0; i < 5_000; i++)   // warm up (ThreadLocal, class init, JIT)
            {
                EventFd.peekCount(fd);
            }
            final long tid = Thread.currentThread().getId();
            final long before = THREADS.getThreadAllocatedBytes(tid);
            long total = 0;
            for (int i = 0; i < 20_000; i++)
            {
                total += EventFd.peekCount(fd);
            }
            final long allocated = THREADS.getThreadAllocatedBytes(tid) - before;
            assertEquals(20_000, total);
            // Files.readAllLines allocated ~16 KB per call; one object per call would be >= 320 KB here.
            assertTrue(allocated < 16 * 1024, "peekCount allocated " + allocated + " bytes in 20,000 calls");
        }
        finally
        {
            Fds.close(fd);
        }
    }
}
