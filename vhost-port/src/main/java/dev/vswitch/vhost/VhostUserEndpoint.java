package dev.vswitch.vhost;

import dev.vswitch.nativeio.EventFd;
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
     * How long the control thread of a connected port sleeps between messages before it does its housekeeping:
     * counting kicks, checking unsealed guest memory for truncation, refusing a second front end. A stuck call fd or
     * a quarantine does not wait for it: the {@link DataPathWatchdog} wakes the thread through {@link #wakeFd}, and so
     * does {@link #stop()} (shutdown() of our own end would not wake a poll already waiting on it: Linux wakes only
     * the peer). Each wake-up costs CPU on the cores the switch shares with its guests, so it is rare.
     */
    static final int HOUSEKEEPING_MILLIS = 1_000;
    /**
     * A front end must finish the initial handshake (everything up to SET_OWNER; QEMU does it at once on connecting,
     * then may wait for the guest driver as long as it likes) within this time, and a message it has begun must be
     * complete within {@link #MESSAGE_MILLIS}: otherwise it is disconnected so an idle or half-open connection cannot
     * hold the port.
     */
    static final int HANDSHAKE_MILLIS = Integer.getInteger("vswitch.vhost.handshake-ms", 5_000);
    static final int MESSAGE_MILLIS = 2_000;
    /** How long a second front end may wait in the backlog while the port is in use before it is refused. */
    static final int REFUSE_MILLIS = 1_000;

    private final String name;
    private final Path socketPath;
    private final boolean server;
    private final int reconnectMillis;
    private final VhostUserDevice device;
    private final DataPathWatchdog watchdog;
    private final VhostUserMessage msg = new VhostUserMessage();
    private final int[] fdCount = new int[1];
    private final Thread thread;
    private volatile boolean running = true;
    private volatile UnixSocket listener;
    private volatile UnixSocket connection;
    /** An eventfd that interrupts the control thread's wait: signalled by stop() and by the watchdog. */
    private volatile int wakeFd = -1;
    private volatile long connections;
    /** nanoTime since when a second front end has been waiting in the backlog (0: none). Control thread only. */
    private long waitingSince;

    public VhostUserEndpoint(final VhostUserPort port, final Path socketPath, final boolean server,
        final int reconnectMillis, final DatapathBarrier barrier, final DataPathWatchdog watchdog)
    {
        this.name = port.name();
        this.socketPath = socketPath;
        this.server = server;
        this.reconnectMillis = reconnectMillis;
        this.device = port.newDevice(barrier);
        this.watchdog = watchdog;
        this.thread = new Thread(this::run, "vhost-ctl-" + name);
        this.thread.setDaemon(true);
    }

    /** Server mode: binds the socket now so errors surface at start-up; then starts the control thread. */
    public void start() throws IOException
    {
        wakeFd = EventFd.create();
        if (server)
        {
            listener = UnixSocket.listen(socketPath);
            Log.info(name, "listening on " + socketPath);
        }
        watchdog.watch(this);
        thread.start();
    }

    /** From the watchdog's thread: wakes the control thread if the data path needs it to drop the front end. */
    void wakeIfDataPathNeedsIt(final long nowNanos)
    {
        if (connection != null && device.dataPathNeedsControl(nowNanos))
        {
            wake();
        }
    }

    private void wake()
    {
        final int fd = wakeFd;
        if (fd >= 0)
        {
            EventFd.signal(fd);
        }
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
            if (!server)
            {
                // We chose this front end by its path, and DPDK's virtio-user in server mode does not send SET_OWNER
                // again when a back end reconnects to it (it goes straight to SET_VRING_ENABLE and the ring setup):
                // a connection the switch made has its owner already.
                device.ownedByConnecting();
            }
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
            device.reset();   // never throws: frees a PMD the front end may have blocked, then unmaps
            socket.close();
            Log.info(name, "disconnected: " + why + "; device reset, memory unmapped");
        }
    }

    private UnixSocket accept()
    {
        try
        {
            final UnixSocket l = listener;
            if (l == null || !l.awaitReadable(-1, wakeFd) || !running)
            {
                EventFd.drain(wakeFd);
                return null;
            }
            return l.accept();
        }
        catch (final IOException ex)
        {
            if (running)
            {
                Log.warn(name, "accept failed: " + ex.getMessage());
                sleep(HOUSEKEEPING_MILLIS);
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
        final long handshakeDeadline = System.nanoTime() + HANDSHAKE_MILLIS * 1_000_000L;
        boolean handshakeDone = false;
        while (running)
        {
            device.watchDataPath();
            refuseWaitingFrontEnds();
            int waitMillis = HOUSEKEEPING_MILLIS;
            if (!handshakeDone)
            {
                handshakeDone = device.isOwned();
                final long left = handshakeDeadline - System.nanoTime();
                if (!handshakeDone)
                {
                    if (left < 0)
                    {
                        throw new VhostUserException("no SET_OWNER within " + HANDSHAKE_MILLIS + " ms of connecting");
                    }
                    waitMillis = (int)Math.min(waitMillis, left / 1_000_000L + 1);   // wake for the deadline
                }
            }
            if (!socket.awaitReadable(waitMillis, wakeFd))
            {
                EventFd.drain(wakeFd);
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
            receiveWithinDeadline(socket, n, HEADER_SIZE - n);
        }
        final int size = msg.size();
        if (size < 0 || size > MAX_PAYLOAD)
        {
            closeUntakenFds();
            throw new VhostUserException(VhostUserMessage.name(msg.request()) + " with payload size " +
                Integer.toUnsignedString(size) + " (max " + MAX_PAYLOAD + ")");
        }
        receiveWithinDeadline(socket, HEADER_SIZE, size);
        return true;
    }

    /** The rest of a message the front end has begun: it gets {@link #MESSAGE_MILLIS} to send it, not forever. */
    private void receiveWithinDeadline(final UnixSocket socket, final int offset, final int length)
        throws IOException, VhostUserException
    {
        final long deadline = System.nanoTime() + MESSAGE_MILLIS * 1_000_000L;
        int done = 0;
        while (done < length)
        {
            final long left = deadline - System.nanoTime();
            if (left <= 0 || !socket.awaitReadable((int)Math.max(1, left / 1_000_000L)))
            {
                throw new VhostUserException("message cut short: " + (offset + done) + " of " + (offset + length) +
                    " bytes after " + MESSAGE_MILLIS + " ms");
            }
            final int got = socket.receive(msg.bytes, offset + done, length - done, null, null);
            if (got == 0)
            {
                throw new EOFException();
            }
            done += got;
        }
    }

    /**
     * One front end per port: another that connects meanwhile and is still waiting after {@link #REFUSE_MILLIS}
     * is accepted and closed, with a log line, rather than left in the listen backlog without an answer for as long
     * as the first one stays. (Not at once: a front end that reconnects right after closing may arrive before the
     * old connection's end has been read.)
     */
    private void refuseWaitingFrontEnds() throws IOException
    {
        final UnixSocket l = listener;
        if (l == null || !l.awaitReadable(0))
        {
            waitingSince = 0;
            return;
        }
        final long now = System.nanoTime();
        if (waitingSince == 0)
        {
            waitingSince = now;
            return;
        }
        if (now - waitingSince < REFUSE_MILLIS * 1_000_000L)
        {
            return;
        }
        waitingSince = 0;
        final UnixSocket extra = l.accept();
        extra.close();
        Log.warn(name, "refused another front end: the port is in use");
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
        device.abandonWaits();
        wake();
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
        watchdog.unwatch(this);
        try
        {
            thread.join(5_000);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        device.reset();
        if (!thread.isAlive())   // else the thread may still poll it: leave it open rather than close a live fd
        {
            Fds.close(wakeFd);
            wakeFd = -1;
        }
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
