package dev.vswitch.core.it;

import com.sun.jna.Library;
import com.sun.jna.Native;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Writes raw Ethernet frames (802.1Q tags included) on an interface inside a network namespace, with no tool in the
 * namespace: a short-lived thread joins the namespace with setns(2) (which moves only the calling thread), opens an
 * AF_PACKET socket bound to the interface and sends. The thread ends right after, so no JVM thread stays in the
 * namespace.
 */
final class NamespacePacketSocket
{
    private static final int O_RDONLY = 0;
    private static final int CLONE_NEWNET = 0x4000_0000;
    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    private static final int ETH_P_ALL_BE = 0x0300;   // htons(ETH_P_ALL = 3)
    private static final int SOCKADDR_LL_SIZE = 20;

    private interface C extends Library
    {
        C LIB = Native.load("c", C.class);

        int open(String path, int flags);

        int setns(int fd, int nstype);

        int socket(int domain, int type, int protocol);

        int bind(int fd, byte[] address, int length);

        long send(int fd, byte[] buffer, long length, int flags);

        int close(int fd);
    }

    private NamespacePacketSocket()
    {
    }

    static void send(final String namespace, final int ifindex, final List<byte[]> frames) throws IOException
    {
        final AtomicReference<String> error = new AtomicReference<>();
        final Thread sender = new Thread(() -> error.set(sendHere(namespace, ifindex, frames)), "netns-packet");
        sender.start();
        try
        {
            sender.join(10_000);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException(ex);
        }
        if (sender.isAlive())
        {
            throw new IOException("packet sender in " + namespace + " did not finish");
        }
        if (error.get() != null)
        {
            throw new IOException(error.get());
        }
    }

    /** Runs on the throw-away thread; returns an error text or null. */
    private static String sendHere(final String namespace, final int ifindex, final List<byte[]> frames)
    {
        final C c = C.LIB;
        final int nsFd = c.open("/run/netns/" + namespace, O_RDONLY);
        if (nsFd < 0)
        {
            return "open /run/netns/" + namespace + ": errno " + Native.getLastError();
        }
        final int joined = c.setns(nsFd, CLONE_NEWNET);
        c.close(nsFd);
        if (joined != 0)
        {
            return "setns: errno " + Native.getLastError();
        }
        final int fd = c.socket(AF_PACKET, SOCK_RAW, ETH_P_ALL_BE);
        if (fd < 0)
        {
            return "socket(AF_PACKET): errno " + Native.getLastError();
        }
        try
        {
            final ByteBuffer sll = ByteBuffer.allocate(SOCKADDR_LL_SIZE).order(ByteOrder.nativeOrder());
            sll.putShort(0, (short)AF_PACKET).putShort(2, (short)ETH_P_ALL_BE).putInt(4, ifindex);
            if (c.bind(fd, sll.array(), SOCKADDR_LL_SIZE) != 0)
            {
                return "bind to ifindex " + ifindex + ": errno " + Native.getLastError();
            }
            for (final byte[] frame : frames)
            {
                if (c.send(fd, frame, frame.length, 0) != frame.length)
                {
                    return "send: errno " + Native.getLastError();
                }
            }
            return null;
        }
        finally
        {
            c.close(fd);
        }
    }
}
