package dev.vswitch.nativeio;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;

import static org.junit.jupiter.api.Assertions.*;

class MmapFdsTest
{
    /** True if some line of /proc/self/maps starts at {@code address}. */
    private static boolean mappedAt(final long address) throws IOException
    {
        final String prefix = Long.toHexString(address) + "-";
        return Files.readAllLines(Paths.get("/proc/self/maps")).stream().anyMatch(l -> l.startsWith(prefix));
    }

    @Test
    void memfdHasRequestedSizeAndOffsetIsRewound() throws IOException
    {
        final int fd = Mmap.memfd("size-test", 3 * 4096 + 5);
        try
        {
            assertEquals(3 * 4096 + 5, Fds.size(fd));
            assertEquals(0, LibC.lseek(fd, 0, LibC.SEEK_CUR), "size() must leave the offset at 0");
            assertEquals(LibC.FD_CLOEXEC, LibC.fcntl(fd, LibC.F_GETFD, 0) & LibC.FD_CLOEXEC);
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void sizeOfUnseekableOrBadFdThrows() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try
        {
            final ErrnoException ex = assertThrows(ErrnoException.class, () -> Fds.size(pair[0].fd()));
            assertEquals(Errno.ESPIPE, ex.errno());
        }
        finally
        {
            pair[0].close();
            pair[1].close();
        }
        final ErrnoException bad = assertThrows(ErrnoException.class, () -> Fds.size(-1));
        assertEquals(Errno.EBADF, bad.errno());
        assertTrue(bad.getMessage().contains("Bad file descriptor"), bad.getMessage());
    }

    @Test
    void openCountTracksCreateAndClose() throws IOException
    {
        Fds.close(EventFd.create()); // warm up
        final int baseline = FdAssert.stableOpenCount();
        final int fd = Mmap.memfd("count-test", 4096);
        FdAssert.assertOpenCount(baseline + 1, "open fds");
        Fds.close(fd);
        FdAssert.assertOpenCount(baseline, "open fds");
        Fds.close(fd);  // double close and -1 are quietly ignored
        Fds.close(-1);
        FdAssert.assertOpenCount(baseline, "open fds");
    }

    @Test
    void mapAndUnmapChangeMappingsAndDataIsVisibleThroughTheFile() throws IOException
    {
        final long size = 2 * 4096;
        final int fd = Mmap.memfd("map-test", size);
        try
        {
            // Other JVM threads may add or split mappings at any moment, so allow a few attempts at an exact delta.
            boolean exact = false;
            for (int attempt = 0; attempt < 5 && !exact; attempt++)
            {
                final int before = Fds.mappingCount();
                final long address = Mmap.map(fd, size);
                final int during = Fds.mappingCount();
                assertTrue(mappedAt(address), "mapping must appear in /proc/self/maps");

                new UnsafeBuffer(address, (int)size).putLong(4096, 0x1122334455667788L);
                final long viaSecondMapping = Mmap.map(fd, size);
                assertEquals(0x1122334455667788L, new UnsafeBuffer(viaSecondMapping, (int)size).getLong(4096));
                Mmap.unmap(viaSecondMapping, size);

                Mmap.unmap(address, size);
                final int after = Fds.mappingCount();
                assertFalse(mappedAt(address), "mapping must be gone after unmap");
                exact = during == before + 1 && after == before;
            }
            assertTrue(exact, "mappingCount should rise by one on map and return to baseline on unmap");
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void mappingOutlivesClosedFd() throws IOException
    {
        final int fd = Mmap.memfd("outlive-test", 4096);
        final long address = Mmap.map(fd, 4096);
        Fds.close(fd);
        final UnsafeBuffer view = new UnsafeBuffer(address, 4096);
        view.putInt(0, 1234);
        assertEquals(1234, view.getInt(0));
        assertTrue(Files.readAllLines(Paths.get("/proc/self/maps")).stream()
            .anyMatch(l -> l.contains("/memfd:outlive-test")));
        Mmap.unmap(address, 4096);
        Mmap.unmap(0, 4096); // ignored
    }

    @Test
    void mapFailureIsIOExceptionWithStrerror()
    {
        final ErrnoException ex = assertThrows(ErrnoException.class, () -> Mmap.map(-1, 4096));
        assertEquals(Errno.EBADF, ex.errno());
        assertTrue(ex.getMessage().contains("Bad file descriptor"), ex.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Mmap.map(0, 0));
    }
}
