package dev.vswitch.nativeio;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class UnixSocketPairTest
{
    private UnixSocket a;
    private UnixSocket b;

    @BeforeEach
    void setUp() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        a = pair[0];
        b = pair[1];
    }

    @AfterEach
    void tearDown()
    {
        a.close();
        b.close();
    }

    @Test
    void pairEndsAreDistinctCloexecFds() throws IOException
    {
        assertTrue(a.fd() >= 0 && b.fd() >= 0);
        assertNotEquals(a.fd(), b.fd());
        assertEquals(LibC.FD_CLOEXEC, LibC.fcntl(a.fd(), LibC.F_GETFD, 0) & LibC.FD_CLOEXEC);
        assertEquals(LibC.FD_CLOEXEC, LibC.fcntl(b.fd(), LibC.F_GETFD, 0) & LibC.FD_CLOEXEC);
    }

    @Test
    void sendAndReceiveFullyBothWays() throws IOException
    {
        final byte[] hello = "hello vhost".getBytes(StandardCharsets.US_ASCII);
        a.send(hello, 0, hello.length);
        final byte[] in = new byte[hello.length + 4];
        b.receiveFully(in, 2, hello.length);
        assertArrayEquals(hello, Arrays.copyOfRange(in, 2, 2 + hello.length));

        b.send(hello, 6, 5);
        final byte[] back = new byte[5];
        a.receiveFully(back, 0, 5);
        assertEquals("vhost", new String(back, StandardCharsets.US_ASCII));
    }

    @Test
    void largeTransferLargerThanStagingBufferArrivesIntact() throws Exception
    {
        final byte[] out = new byte[300_000]; // well over socket buffer and staging size: forces partial writes
        for (int i = 0; i < out.length; i++)
        {
            out[i] = (byte)(i * 31 + 7);
        }
        final CompletableFuture<Void> writer = CompletableFuture.runAsync(() ->
        {
            try
            {
                a.send(out, 0, out.length);
            }
            catch (final IOException ex)
            {
                throw new RuntimeException(ex);
            }
        });
        final byte[] in = new byte[out.length];
        b.receiveFully(in, 0, in.length);
        writer.get(10, TimeUnit.SECONDS);
        assertArrayEquals(out, in);
    }

    @Test
    void fdPassingSharesMemoryBetweenMappings() throws IOException
    {
        final long size = 1 << 16;
        final int memfd = Mmap.memfd("fd-pass-test", size);
        final int[] received = new int[4];
        final int[] count = new int[1];
        long mapA = 0;
        long mapB = 0;
        try
        {
            final byte[] header = { 1, 2, 3, 4 };
            a.sendWithFds(header, 0, header.length, new int[]{ memfd }, 1);

            final byte[] in = new byte[16];
            final int bytes = b.receive(in, 0, in.length, received, count);
            assertEquals(4, bytes);
            assertArrayEquals(header, Arrays.copyOf(in, 4));
            assertEquals(1, count[0]);
            assertNotEquals(memfd, received[0], "receiver must get a new fd number for the same file");
            assertEquals(size, Fds.size(received[0]));
            assertEquals(LibC.FD_CLOEXEC, LibC.fcntl(received[0], LibC.F_GETFD, 0) & LibC.FD_CLOEXEC,
                "MSG_CMSG_CLOEXEC must mark received fds close-on-exec");

            mapA = Mmap.map(memfd, size);
            mapB = Mmap.map(received[0], size);
            assertNotEquals(mapA, mapB);
            final UnsafeBuffer viewA = new UnsafeBuffer(mapA, (int)size);
            final UnsafeBuffer viewB = new UnsafeBuffer(mapB, (int)size);

            viewA.putLong(4096, 0xCAFEBABE_DEADBEEFL);
            assertEquals(0xCAFEBABE_DEADBEEFL, viewB.getLong(4096));
            viewB.putInt((int)size - 4, 42);
            assertEquals(42, viewA.getInt((int)size - 4));
        }
        finally
        {
            Mmap.unmap(mapA, size);
            Mmap.unmap(mapB, size);
            Fds.close(memfd);
            Fds.close(received[0]);
        }
    }

    @Test
    void fdsBeyondOutputArrayAreClosedNotLeaked() throws IOException
    {
        exchangeFiveFdsKeepingTwo(); // warm up class loading so the baseline is stable
        final int baseline = FdAssert.stableOpenCount();
        exchangeFiveFdsKeepingTwo();
        FdAssert.assertOpenCount(baseline, "open fds");
    }

    private void exchangeFiveFdsKeepingTwo() throws IOException
    {
        final int before = FdAssert.stableOpenCount();
        final int[] sent = new int[5];
        for (int i = 0; i < sent.length; i++)
        {
            sent[i] = EventFd.create();
        }
        final int[] kept = new int[2];
        final int[] count = new int[1];
        try
        {
            a.sendWithFds(new byte[]{ 9 }, 0, 1, sent, sent.length);
            assertEquals(1, b.receive(new byte[8], 0, 8, kept, count));
            assertEquals(2, count[0]);
            // 5 originals + the 2 kept duplicates: the 3 that did not fit must already be closed.
            FdAssert.assertOpenCount(before + 7, "open fds");

            // The kept duplicates really are the same eventfds: a signal on one is seen on its original.
            EventFd.signal(kept[1]);
            assertEquals(1, EventFd.drain(sent[1]));
        }
        finally
        {
            for (final int fd : sent)
            {
                Fds.close(fd);
            }
            Fds.close(kept[0]);
            Fds.close(kept[1]);
        }
    }

    @Test
    void receiveFullyClosesUnexpectedFds() throws IOException
    {
        final int efd = EventFd.create();
        try
        {
            a.sendWithFds(new byte[]{ 1, 2 }, 0, 2, new int[]{ efd, efd, efd }, 3);
            final int before = FdAssert.stableOpenCount();
            final byte[] in = new byte[2];
            b.receiveFully(in, 0, 2);
            assertArrayEquals(new byte[]{ 1, 2 }, in);
            FdAssert.assertOpenCount(before, "open fds");
        }
        finally
        {
            Fds.close(efd);
        }
    }

    @Test
    void receiveWithoutFdsReportsZeroFds() throws IOException
    {
        a.send(new byte[]{ 5 }, 0, 1);
        final int[] fds = { -1 };
        final int[] count = { 99 };
        assertEquals(1, b.receive(new byte[4], 0, 4, fds, count));
        assertEquals(0, count[0]);
        assertEquals(-1, fds[0]);
    }

    @Test
    void receiveReturnsZeroAndReceiveFullyThrowsEofWhenPeerCloses() throws IOException
    {
        a.send(new byte[]{ 1, 2, 3 }, 0, 3);
        a.close();
        final byte[] in = new byte[10];
        final EOFException eof = assertThrows(EOFException.class, () -> b.receiveFully(in, 0, 10));
        assertTrue(eof.getMessage().contains("3 of 10"), eof.getMessage());
        assertEquals(0, b.receive(in, 0, 10, null, null));
    }

    @Test
    void awaitReadableTimesOutThenSeesDataThenHangup() throws IOException
    {
        final long start = System.nanoTime();
        assertFalse(b.awaitReadable(50));
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(45), "must actually wait");

        a.send(new byte[]{ 7 }, 0, 1);
        assertTrue(b.awaitReadable(1000));
        final byte[] in = new byte[1];
        b.receiveFully(in, 0, 1);
        assertEquals(7, in[0]);
        assertFalse(b.awaitReadable(0), "drained socket must not report readable");

        a.close();
        assertTrue(b.awaitReadable(1000), "hangup must wake the waiter");
        assertEquals(0, b.receive(in, 0, 1, null, null), "and the next read sees EOF");
    }

    @Test
    void shutdownWakesBlockedReceiver() throws Exception
    {
        final CompletableFuture<Integer> reader = CompletableFuture.supplyAsync(() ->
        {
            try
            {
                return b.receive(new byte[8], 0, 8, null, null);
            }
            catch (final IOException ex)
            {
                throw new RuntimeException(ex);
            }
        });
        Thread.sleep(100);
        assertFalse(reader.isDone());
        b.shutdown();
        assertEquals(0, reader.get(5, TimeUnit.SECONDS));
    }

    @Test
    void sendToClosedPeerIsEpipeNotSigpipe() throws IOException
    {
        b.close();
        final byte[] data = new byte[64];
        final ErrnoException ex = assertThrows(ErrnoException.class, () ->
        {
            for (int i = 0; i < 10; i++)
            {
                a.send(data, 0, data.length);
            }
        });
        assertTrue(ex.errno() == Errno.EPIPE || ex.errno() == Errno.ECONNRESET, ex.getMessage());
        assertTrue(ex.getMessage().contains("send("), ex.getMessage());
    }

    @Test
    void closeIsIdempotentAndLaterUseFails() throws IOException
    {
        final int before = FdAssert.stableOpenCount();
        a.close();
        a.close();
        assertEquals(-1, a.fd());
        FdAssert.assertOpenCount(before - 1, "open fds");
        final IOException ex = assertThrows(IOException.class, () -> a.send(new byte[1], 0, 1));
        assertTrue(ex.getMessage().contains("closed"), ex.getMessage());
        assertThrows(IOException.class, () -> a.awaitReadable(0));
    }

    @Test
    void steadyStateSendAndReceiveDoNotAllocate() throws IOException
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        final byte[] out = new byte[256];
        final byte[] in = new byte[256];
        final int[] fds = new int[8];
        final int[] count = new int[1];
        final int efd = EventFd.create();
        final int[] efds = { efd };
        try
        {
            for (int i = 0; i < 20_000; i++) // warm up
            {
                roundTrip(out, in, fds, count, efds);
            }
            final long tid = Thread.currentThread().getId();
            final long before = threads.getThreadAllocatedBytes(tid);
            for (int i = 0; i < 50_000; i++)
            {
                out[0] = (byte)i;
                roundTrip(out, in, fds, count, efds);
                assertEquals(out[0], in[0]);
            }
            final long allocated = threads.getThreadAllocatedBytes(tid) - before;
            assertTrue(allocated < 16 * 1024, "send/receive allocated " + allocated + " bytes");
        }
        finally
        {
            Fds.close(efd);
        }
    }

    private void roundTrip(final byte[] out, final byte[] in, final int[] fds, final int[] count, final int[] efds)
        throws IOException
    {
        a.sendWithFds(out, 0, 12, efds, 1);
        a.send(out, 12, out.length - 12);
        if (b.receive(in, 0, 12, fds, count) != 12 || count[0] != 1)
        {
            throw new AssertionError("short header or missing fd");
        }
        Fds.close(fds[0]);
        b.receiveFully(in, 12, in.length - 12);
    }

    @Test
    void moreFdsThanControlBufferIsAnErrorAndLeaksNothing() throws IOException
    {
        final int efd = EventFd.create();
        try
        {
            final int baseline = FdAssert.stableOpenCount();
            sendRawFds(a.fd(), efd, 20); // sendWithFds caps at 16, so build the sendmsg by hand
            final int[] fds = new int[4];
            final IOException ex = assertThrows(IOException.class, () -> b.receive(new byte[4], 0, 4, fds, null));
            assertTrue(ex.getMessage().contains("MSG_CTRUNC"), ex.getMessage());
            FdAssert.assertOpenCount(baseline, "installed fds must all be closed, stored ones included");
        }
        finally
        {
            Fds.close(efd);
        }
    }

    /** sendmsg of one byte with {@code count} copies of {@code fd}; LP64 msghdr/iovec/cmsghdr laid out inline. */
    private static void sendRawFds(final int socketFd, final int fd, final int count)
    {
        final com.sun.jna.Memory m = new com.sun.jna.Memory(512);
        m.clear();
        final long base = com.sun.jna.Pointer.nativeValue(m);
        final int control = 128;
        final int data = 384;
        m.setLong(64, base + data);                // iovec.iov_base
        m.setLong(72, 1);                          // iovec.iov_len
        m.setLong(16, base + 64);                  // msg_iov
        m.setLong(24, 1);                          // msg_iovlen
        m.setLong(32, base + control);             // msg_control
        m.setLong(40, 16 + ((count * 4 + 7) & ~7)); // msg_controllen = CMSG_SPACE
        m.setLong(control, 16 + count * 4);        // cmsg_len = CMSG_LEN
        m.setInt(control + 8, LibC.SOL_SOCKET);
        m.setInt(control + 12, LibC.SCM_RIGHTS);
        for (int i = 0; i < count; i++)
        {
            m.setInt(control + 16 + i * 4, fd);
        }
        assertEquals(1, LibC.sendmsg(socketFd, base, LibC.MSG_NOSIGNAL));
    }

    @Test
    void argumentValidation()
    {
        assertThrows(IndexOutOfBoundsException.class, () -> a.send(new byte[4], 2, 3));
        assertThrows(IllegalArgumentException.class, () -> a.receive(new byte[4], 0, 0, null, null));
        assertThrows(IllegalArgumentException.class,
            () -> a.sendWithFds(new byte[1], 0, 1, new int[17], 17));
        assertThrows(IllegalArgumentException.class,
            () -> a.sendWithFds(new byte[1], 0, 0, new int[]{ 0 }, 1));
    }
}
