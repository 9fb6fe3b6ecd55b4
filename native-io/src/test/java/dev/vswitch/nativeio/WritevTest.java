package dev.vswitch.nativeio;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

class WritevTest
{
    private static Memory bytes(final String text)
    {
        final byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        final Memory m = new Memory(b.length);
        m.write(0, b, 0, b.length);
        return m;
    }

    private static void iovec(final Memory iov, final int index, final Memory base, final long length)
    {
        iov.setLong((long)index * LibC.IOVEC_SIZE, Pointer.nativeValue(base));
        iov.setLong((long)index * LibC.IOVEC_SIZE + 8, length);
    }

    @Test
    void writevGathersSegmentsInOrderAndReadvScattersThem() throws IOException
    {
        final int fd = Mmap.memfd("writev-test", 0);
        try
        {
            final Memory a = bytes("hello, ");
            final Memory b = bytes("scatter ");
            final Memory c = bytes("gather");
            final Memory iov = new Memory(3L * LibC.IOVEC_SIZE);
            iovec(iov, 0, a, a.size());
            iovec(iov, 1, b, b.size());
            iovec(iov, 2, c, c.size());
            assertEquals(21, LibC.writev(fd, Pointer.nativeValue(iov), 3));
            assertEquals(21, Fds.size(fd));

            final Memory out = new Memory(32);
            assertEquals(21, LibC.read(fd, Pointer.nativeValue(out), 32));
            assertEquals("hello, scatter gather", new String(out.getByteArray(0, 21), StandardCharsets.US_ASCII));

            // readv splits the same bytes over two buffers: 5 then the rest
            LibC.lseek(fd, 0, LibC.SEEK_SET);
            final Memory first = new Memory(5);
            final Memory rest = new Memory(32);
            final Memory riov = new Memory(2L * LibC.IOVEC_SIZE);
            iovec(riov, 0, first, 5);
            iovec(riov, 1, rest, 32);
            assertEquals(21, LibC.Raw.readv(fd, Pointer.nativeValue(riov), 2));
            assertEquals("hello", new String(first.getByteArray(0, 5), StandardCharsets.US_ASCII));
            assertEquals(", scatter gather", new String(rest.getByteArray(0, 16), StandardCharsets.US_ASCII));
        }
        finally
        {
            Fds.close(fd);
        }
    }

    @Test
    void rawWritevReportsErrnoWithoutThrowing()
    {
        final Memory iov = new Memory(LibC.IOVEC_SIZE);
        final Memory a = bytes("x");
        iovec(iov, 0, a, 1);
        assertEquals(-1, LibC.Raw.writev(-1, Pointer.nativeValue(iov), 1));
        assertEquals(Errno.EBADF, Errno.last());
    }

    @Test
    void errnoNamesAddedForTheTapPort()
    {
        assertTrue(Errno.describe(Errno.ENOBUFS).endsWith("(ENOBUFS)"));
        assertTrue(Errno.describe(Errno.EBADFD).endsWith("(EBADFD)"));
        assertTrue(Errno.describe(Errno.EADDRNOTAVAIL).endsWith("(EADDRNOTAVAIL)"));
        assertTrue(Errno.describe(Errno.ENXIO).endsWith("(ENXIO)"));
    }
}
