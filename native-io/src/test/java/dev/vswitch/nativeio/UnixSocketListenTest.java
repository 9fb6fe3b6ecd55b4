package dev.vswitch.nativeio;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class UnixSocketListenTest
{
    @TempDir
    Path dir;

    private static boolean isSocket(final Path path) throws IOException
    {
        final int mode = (Integer)Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return (mode & LibC.S_IFMT) == LibC.S_IFSOCK;
    }

    @Test
    void listenConnectAcceptExchangeDataAndFds() throws Exception
    {
        final Path path = dir.resolve("vhost0.sock");
        try (UnixSocket listener = UnixSocket.listen(path))
        {
            assertTrue(isSocket(path));
            final CompletableFuture<UnixSocket> accepted = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    return listener.accept();
                }
                catch (final IOException ex)
                {
                    throw new RuntimeException(ex);
                }
            });
            try (UnixSocket client = UnixSocket.connect(path);
                 UnixSocket server = accepted.get(5, TimeUnit.SECONDS))
            {
                assertEquals(LibC.FD_CLOEXEC, LibC.fcntl(server.fd(), LibC.F_GETFD, 0) & LibC.FD_CLOEXEC);

                final int memfd = Mmap.memfd("listen-test", 8192);
                try
                {
                    client.sendWithFds(new byte[]{ 1, 0, 0, 0 }, 0, 4, new int[]{ memfd }, 1);
                }
                finally
                {
                    Fds.close(memfd);
                }
                final int[] fds = new int[8];
                final int[] count = new int[1];
                assertEquals(4, server.receive(new byte[4], 0, 4, fds, count));
                assertEquals(1, count[0]);
                assertEquals(8192, Fds.size(fds[0]), "fd survives the sender closing its copy");
                Fds.close(fds[0]);

                server.send(new byte[]{ 42 }, 0, 1);
                final byte[] reply = new byte[1];
                client.receiveFully(reply, 0, 1);
                assertEquals(42, reply[0]);
            }
        }
    }

    @Test
    void connectToMissingPathFailsWithEnoent()
    {
        final Path path = dir.resolve("nobody-home.sock");
        final ErrnoException ex = assertThrows(ErrnoException.class, () -> UnixSocket.connect(path));
        assertEquals(Errno.ENOENT, ex.errno());
        assertTrue(ex.getMessage().contains(path.toString()), ex.getMessage());
        assertTrue(ex.getMessage().contains("No such file or directory"), ex.getMessage());
    }

    @Test
    void connectToStaleSocketIsRefusedAndFdsAreNotLeaked() throws IOException
    {
        final Path path = dir.resolve("stale.sock");
        UnixSocket.listen(path).close(); // leaves the socket file behind with nobody listening
        assertTrue(isSocket(path));
        final int before = FdAssert.stableOpenCount();
        for (int i = 0; i < 3; i++)
        {
            final ErrnoException ex = assertThrows(ErrnoException.class, () -> UnixSocket.connect(path));
            assertEquals(Errno.ECONNREFUSED, ex.errno(), ex.getMessage());
        }
        FdAssert.assertOpenCount(before, "failed connects must close their socket");
    }

    @Test
    void listenReplacesStaleSocketFile() throws Exception
    {
        final Path path = dir.resolve("restart.sock");
        UnixSocket.listen(path).close();
        assertTrue(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "close does not unlink");

        try (UnixSocket listener = UnixSocket.listen(path);
             UnixSocket client = UnixSocket.connect(path);
             UnixSocket server = listener.accept())
        {
            client.send(new byte[]{ 3 }, 0, 1);
            assertTrue(server.awaitReadable(1000));
            final byte[] in = new byte[1];
            server.receiveFully(in, 0, 1);
            assertEquals(3, in[0]);
        }
    }

    @Test
    void listenRefusesToStealFromLiveListener() throws IOException
    {
        final Path path = dir.resolve("live.sock");
        try (UnixSocket live = UnixSocket.listen(path))
        {
            final ErrnoException ex = assertThrows(ErrnoException.class, () -> UnixSocket.listen(path));
            assertEquals(Errno.EADDRINUSE, ex.errno());
            // The original listener still owns the path: a client reaches it.
            try (UnixSocket client = UnixSocket.connect(path); UnixSocket server = live.accept())
            {
                assertTrue(server.fd() >= 0 && client.fd() >= 0);
            }
        }
    }

    @Test
    void listenNeverDeletesNonSocketFiles() throws IOException
    {
        final Path path = dir.resolve("precious.txt");
        Files.writeString(path, "keep me");
        final ErrnoException ex = assertThrows(ErrnoException.class, () -> UnixSocket.listen(path));
        assertEquals(Errno.EADDRINUSE, ex.errno());
        assertEquals("keep me", Files.readString(path));
    }

    @Test
    void tooLongPathIsRejectedClearly()
    {
        final Path path = dir.resolve("x".repeat(120) + ".sock");
        final IOException listenEx = assertThrows(IOException.class, () -> UnixSocket.listen(path));
        assertTrue(listenEx.getMessage().contains("107"), listenEx.getMessage());
        final IOException connectEx = assertThrows(IOException.class, () -> UnixSocket.connect(path));
        assertTrue(connectEx.getMessage().contains("sun_path"), connectEx.getMessage());
    }

    @Test
    void acceptOnClosedListenerFails() throws IOException
    {
        final UnixSocket listener = UnixSocket.listen(dir.resolve("closed.sock"));
        listener.close();
        assertThrows(IOException.class, listener::accept);
    }
}
