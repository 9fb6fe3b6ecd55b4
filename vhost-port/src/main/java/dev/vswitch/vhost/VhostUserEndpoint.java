package dev.vswitch.vhost;

import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.UnixSocket;
import dev.vswitch.pipeline.DatapathBarrier;
import dev.vswitch.pipeline.Log;

import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.vswitch.vhost.VhostUserMessage.FLAG_NEED_REPLY;
import static dev.vswitch.vhost.VhostUserMessage.HEADER_SIZE;
import static dev.vswitch.vhost.VhostUserMessage.MAX_PAYLOAD;

/**
 * The control plane of one vhost-user port: owns the socket (listening as a server, or connecting and
 * reconnecting as a client), reads messages on its own thread and feeds them to a {@link VhostUserDevice}. A
 * connection that ends, cleanly or not, resets the device, so the next front end gets a fresh one; the data path
 * of other ports never waits on any of this.
 */
public final class VhostUserEndpoint implements AutoCloseable
{
    /**
     * How long the control thread waits for a message before it checks whether it should stop. shutdown() of our own
     * end does not wake a poll already waiting on it (Linux wakes only the peer), so this bounds how long a stopping
     * switch waits for each connection: it is on the critical path of a restart.
     */
    private static final int POLL_MILLIS = 50;

    private final String name;
    private final Path socketPath;
    private final boolean server;
    private final int reconnectMillis;
    private final VhostUserDevice device;
    private final VhostUserMessage msg = new VhostUserMessage();
    private final int[] fdCount = new int[1];
    private final Thread thread;
    private volatile boolean running = true;
    private volatile UnixSocket listener;
    private volatile UnixSocket connection;
    private volatile long connections;

    public VhostUserEndpoint(final VhostUserPort port, final Path socketPath, final boolean server,
        final int reconnectMillis, final DatapathBarrier barrier)
    {
        this.name = port.name();
        this.socketPath = socketPath;
        this.server = server;
        this.reconnectMillis = reconnectMillis;
        this.device = port.newDevice(barrier);
        this.thread = new Thread(this::run, "vhost-ctl-" + name);
        this.thread.setDaemon(true);
    }

    /** Server mode: binds the socket now so errors surface at start-up; then starts the control thread. */
    public void start() throws IOException
    {
        if (server)
        {
            listener = UnixSocket.listen(socketPath);
            Log.info(name, "listening on " + socketPath);
        }
        thread.start();
    }

    public String name()
    {
        return name;
    }

    /** True while a front end is connected. */
    public boolean isConnected()
    {
        return connection != null;
    }

    public long connections()
    {
        return connections;
    }

    private void run()
    {
        while (running)
        {
            final UnixSocket socket = server ? accept() : connect();
            if (socket == null)
            {
                continue;
            }
            connection = socket;
            connections++;
            Log.info(name, "front end connected (" + (server ? "accepted on " : "connected to ") + socketPath + ")");
            String why = "front end closed the connection";
            try
            {
                serve(socket);
                why = "switch stopping";
            }
            catch (final EOFException ex)
            {
                why = "front end closed the connection";
            }
            catch (final IOException ex)
            {
                why = "socket error: " + ex.getMessage();
            }
            catch (final VhostUserException ex)
            {
                why = "protocol error: " + ex.getMessage();
            }
            catch (final RuntimeException ex)
            {
                why = "internal error: " + ex;
            }
            connection = null;
            closeUntakenFds();   // a message cut short by the disconnect still holds the fds it brought
            device.reset();
            socket.close();
            Log.info(name, "disconnected: " + why + "; device reset, memory unmapped");
        }
    }

    private UnixSocket accept()
    {
        try
        {
            final UnixSocket l = listener;
            if (l == null || !l.awaitReadable(POLL_MILLIS) || !running)
            {
                return null;
            }
            return l.accept();
        }
        catch (final IOException ex)
        {
            if (running)
            {
                Log.warn(name, "accept failed: " + ex.getMessage());
                sleep(POLL_MILLIS);
            }
            return null;
        }
    }

    private UnixSocket connect()
    {
        try
        {
            return UnixSocket.connect(socketPath);
        }
        catch (final IOException ex)
        {
            // The peer is not there yet (or restarting): retry until it is, or until we stop.
            sleep(reconnectMillis);
            return null;
        }
    }

    private void serve(final UnixSocket socket) throws IOException, VhostUserException
    {
        while (running)
        {
            if (!socket.awaitReadable(POLL_MILLIS))
            {
                device.countKicks();
                continue;
            }
            if (!readMessage(socket))
            {
                throw new EOFException();
            }
            try
            {
                dispatch(socket);
            }
            finally
            {
                closeUntakenFds();
            }
        }
    }

    private boolean readMessage(final UnixSocket socket) throws IOException, VhostUserException
    {
        msg.fdCount = 0;
        final int n = socket.receive(msg.bytes, 0, HEADER_SIZE, msg.fds, fdCount);
        msg.fdCount = fdCount[0];
        if (n == 0)
        {
            closeUntakenFds();
            return false;
        }
        if (n < HEADER_SIZE)
        {
            socket.receiveFully(msg.bytes, n, HEADER_SIZE - n);
        }
        final int size = msg.size();
        if (size < 0 || size > MAX_PAYLOAD)
        {
            closeUntakenFds();
            throw new VhostUserException(VhostUserMessage.name(msg.request()) + " with payload size " +
                Integer.toUnsignedString(size) + " (max " + MAX_PAYLOAD + ")");
        }
        socket.receiveFully(msg.bytes, HEADER_SIZE, size);
        return true;
    }

    private void dispatch(final UnixSocket socket) throws IOException, VhostUserException
    {
        final boolean needReply = (msg.flags() & FLAG_NEED_REPLY) != 0 && device.replyAckNegotiated();
        final int request = msg.request();
        int replyLength;
        try
        {
            replyLength = device.handle(msg);
        }
        catch (final VhostUserException ex)
        {
            // Without REPLY_ACK the front end cannot learn of the failure, and a request with a reply of its own
            // (GET_*) must not get a status ack it would misread as that reply: drop the connection instead.
            if (!needReply || hasOwnReply(request))
            {
                throw ex;
            }
            Log.warn(name, "rejected " + VhostUserMessage.name(request) + ": " + ex.getMessage());
            sendAck(socket, request, 1);
            return;
        }
        if (replyLength > 0)
        {
            socket.send(msg.bytes, 0, replyLength);
        }
        else if (needReply)
        {
            sendAck(socket, request, 0);
        }
    }

    private static boolean hasOwnReply(final int request)
    {
        return request == VhostUserMessage.GET_FEATURES || request == VhostUserMessage.GET_PROTOCOL_FEATURES ||
            request == VhostUserMessage.GET_QUEUE_NUM || request == VhostUserMessage.GET_VRING_BASE;
    }

    private void sendAck(final UnixSocket socket, final int request, final long status) throws IOException
    {
        msg.buffer.putInt(0, request);
        msg.startReply(8);
        msg.putU64(0, status);
        socket.send(msg.bytes, 0, HEADER_SIZE + 8);
    }

    private void closeUntakenFds()
    {
        for (int i = 0; i < msg.fdCount; i++)
        {
            if (msg.fds[i] >= 0)
            {
                Fds.close(msg.fds[i]);
                msg.fds[i] = -1;
            }
        }
        msg.fdCount = 0;
    }

    private void sleep(final long millis)
    {
        final long end = System.currentTimeMillis() + millis;
        while (running && System.currentTimeMillis() < end)
        {
            try
            {
                Thread.sleep(Math.min(50, millis));
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Tells the control thread to stop and ends the connection, without waiting: a switch with many ports stops
     * them all at once, then {@link #close()}s each.
     */
    public void stop()
    {
        running = false;
        final UnixSocket c = connection;
        if (c != null)
        {
            c.shutdown();
        }
    }

    /** Stops the control thread, resets the device (unmapping guest memory) and removes the socket file. */
    @Override
    public void close()
    {
        stop();
        try
        {
            thread.join(5_000);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        device.reset();
        final UnixSocket l = listener;
        if (l != null)
        {
            l.close();
            try
            {
                Files.deleteIfExists(socketPath);
            }
            catch (final IOException ex)
            {
                Log.warn(name, "could not remove " + socketPath + ": " + ex.getMessage());
            }
        }
    }
}
