package dev.vswitch.vhost.protocol;

import dev.vswitch.nativeio.EventFd;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.Mmap;
import dev.vswitch.vhost.VhostUserDevice;
import dev.vswitch.testkit.vhost.FrontEnd;

import java.io.IOException;

import static dev.vswitch.testkit.vhost.FrontEnd.FLAG_NEED_REPLY;
import static dev.vswitch.testkit.vhost.FrontEnd.VERSION;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Assertions for sending bad messages: the fds a test attaches are created here and closed right after sending
 * (the back end holds the only other copies, so a leak on its side shows in the process's fd count).
 */
final class HostileFrontEnd
{
    private HostileFrontEnd()
    {
    }

    /** Fresh non-blocking eventfds. */
    static int[] eventFds(final int n) throws IOException
    {
        final int[] fds = new int[n];
        for (int i = 0; i < n; i++)
        {
            fds[i] = EventFd.create();
        }
        return fds;
    }

    /** Fresh memfds of {@code size} bytes each. */
    static int[] memfds(final int n, final long size) throws IOException
    {
        final int[] fds = new int[n];
        for (int i = 0; i < n; i++)
        {
            fds[i] = Mmap.memfd("hostile-" + i, size);
        }
        return fds;
    }

    /** Sends, then closes this process's copies of {@code fds}. */
    static void sendAndClose(final FrontEnd fe, final int request, final int flags, final byte[] payload,
        final int... fds) throws IOException
    {
        try
        {
            fe.send(request, flags, payload, fds);
        }
        finally
        {
            for (final int fd : fds)
            {
                Fds.close(fd);
            }
        }
    }

    /**
     * Sends with NEED_REPLY (REPLY_ACK must be negotiated) and asserts a non-zero ack status, then that the
     * connection still works.
     */
    static void assertNack(final FrontEnd fe, final int request, final byte[] payload, final int... fds)
        throws IOException
    {
        sendAndClose(fe, request, VERSION | FLAG_NEED_REPLY, payload, fds);
        assertNotEquals(0, fe.awaitAck(request), "request " + request + " should be rejected");
        assertEquals(VhostUserDevice.OFFERED_FEATURES, fe.getFeatures(), "the connection should survive a nack");
    }

    /** Sends with NEED_REPLY and asserts an ack of 0. */
    static void assertAck(final FrontEnd fe, final int request, final byte[] payload, final int... fds)
        throws IOException
    {
        sendAndClose(fe, request, VERSION | FLAG_NEED_REPLY, payload, fds);
        assertEquals(0, fe.awaitAck(request), "request " + request + " should be accepted");
    }

    /** Sends with exactly {@code flags} and asserts the back end closes the connection. */
    static void assertDropped(final FrontEnd fe, final int request, final int flags, final byte[] payload,
        final int... fds) throws IOException
    {
        sendAndClose(fe, request, flags, payload, fds);
        assertTrue(fe.awaitClosedByPeer(2_000), "the back end should close the connection");
    }

    /** Sends raw bytes (any framing), then closes this process's copies of {@code fds}. */
    static void sendRawAndClose(final FrontEnd fe, final byte[] bytes, final int... fds) throws IOException
    {
        try
        {
            fe.sendRaw(bytes, fds);
        }
        finally
        {
            for (final int fd : fds)
            {
                Fds.close(fd);
            }
        }
    }

    /** Sends raw bytes (any framing) and asserts the back end closes the connection. */
    static void assertDroppedRaw(final FrontEnd fe, final byte[] bytes, final int... fds) throws IOException
    {
        sendRawAndClose(fe, bytes, fds);
        assertTrue(fe.awaitClosedByPeer(2_000), "the back end should close the connection");
    }
}
