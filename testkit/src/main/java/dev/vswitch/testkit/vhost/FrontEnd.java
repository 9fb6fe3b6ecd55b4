package dev.vswitch.testkit.vhost;

import dev.vswitch.nativeio.Errno;
import dev.vswitch.nativeio.ErrnoException;
import dev.vswitch.nativeio.EventFd;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.UnixSocket;

import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A minimal vhost-user front end (the role QEMU or virtio-user plays) for tests and benchmarks: it speaks the
 * protocol of QEMU's docs/interop/vhost-user.rst over a {@link UnixSocket}, byte for byte, and nothing more.
 * <p>
 * Two levels:
 * <ul>
 * <li>raw: {@link #send} any request with any flags, payload and fds (hostile input included), {@link #readReply},
 * {@link #awaitAck}, {@link #awaitClosedByPeer};</li>
 * <li>protocol helpers: {@link #getFeatures}, {@link #setMemTable}, {@link #setVringKick} ... and
 * {@link #startDevice}, the start-up sequence QEMU runs for a vhost-user net device with one queue pair. Once
 * REPLY_ACK is negotiated (by {@link #setProtocolFeatures}), every helper for a request without a reply sets
 * NEED_REPLY and throws {@link NackException} if the back end reports failure, as QEMU does.</li>
 * </ul>
 * Not thread-safe. The eventfds that {@link #startDevice} creates are owned (and closed) by this object; fds passed
 * to other helpers stay owned by the caller (the back end receives copies).
 */
public final class FrontEnd implements AutoCloseable
{
    // Header (vhost-user.rst, "Message Specification"): u32 request, u32 flags, u32 size, then the payload.
    public static final int HEADER_SIZE = 12;
    public static final int VERSION = 0x1;
    public static final int FLAG_REPLY = 0x4;
    public static final int FLAG_NEED_REPLY = 0x8;

    // Front-end requests.
    public static final int GET_FEATURES = 1;
    public static final int SET_FEATURES = 2;
    public static final int SET_OWNER = 3;
    public static final int RESET_OWNER = 4;
    public static final int SET_MEM_TABLE = 5;
    public static final int SET_VRING_NUM = 8;
    public static final int SET_VRING_ADDR = 9;
    public static final int SET_VRING_BASE = 10;
    public static final int GET_VRING_BASE = 11;
    public static final int SET_VRING_KICK = 12;
    public static final int SET_VRING_CALL = 13;
    public static final int SET_VRING_ERR = 14;
    public static final int GET_PROTOCOL_FEATURES = 15;
    public static final int SET_PROTOCOL_FEATURES = 16;
    public static final int GET_QUEUE_NUM = 17;
    public static final int SET_VRING_ENABLE = 18;

    /** Bit 8 of the SET_VRING_KICK/CALL/ERR u64: no fd attached (polling / no notification). */
    public static final long VRING_NOFD = 0x100;

    // Feature bits the helpers care about.
    public static final long F_RING_EVENT_IDX = 1L << 29;
    public static final long F_PROTOCOL_FEATURES = 1L << 30;
    public static final long PROTOCOL_F_MQ = 1L << 0;
    public static final long PROTOCOL_F_REPLY_ACK = 1L << 3;

    /** Queue indices of a net device's first (only) queue pair. */
    public static final int RX_QUEUE = 0;
    public static final int TX_QUEUE = 1;

    public static final int DEFAULT_TIMEOUT_MILLIS = 2_000;

    /** The back end answered a NEED_REPLY request with a non-zero status. */
    public static final class NackException extends IOException
    {
        public final int request;
        public final long status;

        public NackException(final int request, final long status)
        {
            super("back end rejected request " + request + " (status " + status + ")");
            this.request = request;
            this.status = status;
        }
    }

    /** A message from the back end. */
    public static final class Reply
    {
        public final int request;
        public final int flags;
        public final byte[] payload;

        Reply(final int request, final int flags, final byte[] payload)
        {
            this.request = request;
            this.flags = flags;
            this.payload = payload;
        }

        public int size()
        {
            return payload.length;
        }

        public long u64(final int offset)
        {
            return le(payload).getLong(offset);
        }

        public int u32(final int offset)
        {
            return le(payload).getInt(offset);
        }

        @Override
        public String toString()
        {
            return "Reply{request=" + request + ", flags=0x" + Integer.toHexString(flags) + ", payload=" +
                Arrays.toString(payload) + "}";
        }
    }

    /** One SET_MEM_TABLE region (vhost-user.rst, "Memory region description"). */
    public static final class Region
    {
        public final long gpa;
        public final long size;
        public final long uva;
        public final long mmapOffset;

        public Region(final long gpa, final long size, final long uva, final long mmapOffset)
        {
            this.gpa = gpa;
            this.size = size;
            this.uva = uva;
            this.mmapOffset = mmapOffset;
        }

        public static Region of(final GuestMemory memory)
        {
            return new Region(memory.gpa(), memory.size(), memory.uva(), 0);
        }
    }

    private final UnixSocket socket;
    private final byte[] header = new byte[HEADER_SIZE];
    private final int[] kickFds = {-1, -1};
    private final int[] callFds = {-1, -1};
    private int timeoutMillis = DEFAULT_TIMEOUT_MILLIS;
    private boolean replyAck;

    /** Wraps a connected socket (e.g. one end of {@link UnixSocket#pair()}); closing this closes it. */
    public FrontEnd(final UnixSocket socket)
    {
        this.socket = socket;
    }

    /** Connects to a back end listening on {@code path}. */
    public static FrontEnd connect(final Path path) throws IOException
    {
        return new FrontEnd(UnixSocket.connect(path));
    }

    /**
     * Connects to {@code path}, retrying while nobody listens there yet (ENOENT, ECONNREFUSED) for up to
     * {@code timeoutMillis}.
     */
    public static FrontEnd connect(final Path path, final int timeoutMillis) throws IOException
    {
        final long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (true)
        {
            try
            {
                return connect(path);
            }
            catch (final ErrnoException ex)
            {
                final boolean notYet = ex.errno() == Errno.ENOENT || ex.errno() == Errno.ECONNREFUSED;
                if (!notYet || System.nanoTime() > deadline)
                {
                    throw ex;
                }
                pause(10);
            }
        }
    }

    public UnixSocket socket()
    {
        return socket;
    }

    /** How long {@link #readReply()} and the helpers wait for an answer (default 2 s). */
    public FrontEnd timeoutMillis(final int millis)
    {
        this.timeoutMillis = millis;
        return this;
    }

    /** True once {@link #setProtocolFeatures} negotiated REPLY_ACK: set-helpers then wait for an ack. */
    public boolean replyAck()
    {
        return replyAck;
    }

    // ------------------------------------------------------------------ raw messages

    /** Sends a header with exactly these fields and this payload, with {@code fds} attached (copies travel). */
    public void send(final int request, final int flags, final byte[] payload, final int... fds) throws IOException
    {
        sendRaw(message(request, flags, payload.length, payload), fds);
    }

    /** Sends {@code bytes} as they are (a partial or malformed message, say), {@code fds} attached to byte 0. */
    public void sendRaw(final byte[] bytes, final int... fds) throws IOException
    {
        socket.sendWithFds(bytes, 0, bytes.length, fds, fds.length);
    }

    /** Header + payload with a {@code size} field that may disagree with the payload length. */
    public static byte[] message(final int request, final int flags, final int size, final byte[] payload)
    {
        final byte[] m = new byte[HEADER_SIZE + payload.length];
        final ByteBuffer b = le(m);
        b.putInt(0, request).putInt(4, flags).putInt(8, size);
        System.arraycopy(payload, 0, m, HEADER_SIZE, payload.length);
        return m;
    }

    /**
     * Reads the next message from the back end.
     *
     * @throws EOFException         if the back end closed the connection.
     * @throws InterruptedIOException if nothing arrived within the timeout.
     */
    public Reply readReply() throws IOException
    {
        if (!socket.awaitReadable(timeoutMillis))
        {
            throw new InterruptedIOException("no reply from the back end within " + timeoutMillis + " ms");
        }
        final int n = socket.receive(header, 0, HEADER_SIZE, null, null);
        if (n == 0)
        {
            throw new EOFException("back end closed the connection");
        }
        socket.receiveFully(header, n, HEADER_SIZE - n);
        final ByteBuffer h = le(header);
        final int size = h.getInt(8);
        if (size < 0 || size > 4096)
        {
            throw new IOException("reply with payload size " + Integer.toUnsignedString(size));
        }
        final byte[] payload = new byte[size];
        socket.receiveFully(payload, 0, size);
        return new Reply(h.getInt(0), h.getInt(4), payload);
    }

    /** Reads a reply and checks it answers {@code request} (REPLY flag, version 1). */
    public Reply readReplyTo(final int request) throws IOException
    {
        final Reply reply = readReply();
        if (reply.request != request || reply.flags != (VERSION | FLAG_REPLY))
        {
            throw new IOException("expected a reply to request " + request + ", got " + reply);
        }
        return reply;
    }

    /** Reads the REPLY_ACK answer to {@code request}: its u64 status (0 = success). */
    public long awaitAck(final int request) throws IOException
    {
        final Reply reply = readReplyTo(request);
        if (reply.size() != 8)
        {
            throw new IOException("ack with " + reply.size() + " byte payload: " + reply);
        }
        return reply.u64(0);
    }

    /**
     * Waits until the back end closes the connection, discarding anything it sends first.
     *
     * @return true if it closed (EOF or reset) within {@code millis}, false if it is still open.
     */
    public boolean awaitClosedByPeer(final int millis) throws IOException
    {
        final long deadline = System.nanoTime() + millis * 1_000_000L;
        final byte[] sink = new byte[256];
        while (true)
        {
            final long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0 || !socket.awaitReadable((int)left))
            {
                return false;
            }
            try
            {
                if (socket.receive(sink, 0, sink.length, null, null) == 0)
                {
                    return true;
                }
            }
            catch (final ErrnoException ex)
            {
                if (ex.errno() == Errno.ECONNRESET)
                {
                    return true;
                }
                throw ex;
            }
        }
    }

    /** A request expecting a reply of the same type. */
    public Reply call(final int request, final byte[] payload, final int... fds) throws IOException
    {
        send(request, VERSION, payload, fds);
        return readReplyTo(request);
    }

    /**
     * A request without a reply of its own: with REPLY_ACK negotiated it sets NEED_REPLY and waits for the ack,
     * throwing {@link NackException} on failure; otherwise it only sends.
     */
    public void command(final int request, final byte[] payload, final int... fds) throws IOException
    {
        send(request, replyAck ? VERSION | FLAG_NEED_REPLY : VERSION, payload, fds);
        if (replyAck)
        {
            final long status = awaitAck(request);
            if (status != 0)
            {
                throw new NackException(request, status);
            }
        }
    }

    /** Sends {@code request} with NEED_REPLY and returns the ack status (REPLY_ACK must be negotiated). */
    public long commandStatus(final int request, final byte[] payload, final int... fds) throws IOException
    {
        send(request, VERSION | FLAG_NEED_REPLY, payload, fds);
        return awaitAck(request);
    }

    // ------------------------------------------------------------------ payloads

    public static byte[] u64(final long value)
    {
        final byte[] p = new byte[8];
        le(p).putLong(0, value);
        return p;
    }

    /** struct vhost_vring_state: u32 index, u32 num. */
    public static byte[] vringState(final int index, final int num)
    {
        final byte[] p = new byte[8];
        le(p).putInt(0, index).putInt(4, num);
        return p;
    }

    /** struct vhost_vring_addr: u32 index, u32 flags, u64 desc, u64 used, u64 avail, u64 log (all front-end uvas). */
    public static byte[] vringAddr(final int index, final int flags, final long desc, final long used,
        final long avail, final long log)
    {
        final byte[] p = new byte[40];
        le(p).putInt(0, index).putInt(4, flags).putLong(8, desc).putLong(16, used).putLong(24, avail).putLong(32, log);
        return p;
    }

    /** Memory regions description: u32 count, u32 padding, then 32 bytes per region. */
    public static byte[] memTable(final Region... regions)
    {
        final byte[] p = new byte[8 + 32 * regions.length];
        final ByteBuffer b = le(p);
        b.putInt(0, regions.length);
        for (int i = 0; i < regions.length; i++)
        {
            final int o = 8 + 32 * i;
            b.putLong(o, regions[i].gpa).putLong(o + 8, regions[i].size).putLong(o + 16, regions[i].uva)
                .putLong(o + 24, regions[i].mmapOffset);
        }
        return p;
    }

    // ------------------------------------------------------------------ protocol helpers

    public long getFeatures() throws IOException
    {
        return call(GET_FEATURES, new byte[0]).u64(0);
    }

    public void setFeatures(final long features) throws IOException
    {
        command(SET_FEATURES, u64(features));
    }

    public long getProtocolFeatures() throws IOException
    {
        return call(GET_PROTOCOL_FEATURES, new byte[0]).u64(0);
    }

    /** Sends SET_PROTOCOL_FEATURES (never with NEED_REPLY, as QEMU); later helpers use REPLY_ACK if it is in. */
    public void setProtocolFeatures(final long features) throws IOException
    {
        send(SET_PROTOCOL_FEATURES, VERSION, u64(features));
        replyAck = (features & PROTOCOL_F_REPLY_ACK) != 0;
    }

    public long getQueueNum() throws IOException
    {
        return call(GET_QUEUE_NUM, new byte[0]).u64(0);
    }

    public void setOwner() throws IOException
    {
        command(SET_OWNER, new byte[0]);
    }

    /** One region per memory, each memfd attached. */
    public void setMemTable(final GuestMemory... memories) throws IOException
    {
        final Region[] regions = new Region[memories.length];
        final int[] fds = new int[memories.length];
        for (int i = 0; i < memories.length; i++)
        {
            regions[i] = Region.of(memories[i]);
            fds[i] = memories[i].fd();
        }
        command(SET_MEM_TABLE, memTable(regions), fds);
    }

    public void setVringNum(final int index, final int num) throws IOException
    {
        command(SET_VRING_NUM, vringState(index, num));
    }

    /** Ring addresses are front-end virtual addresses (uva), as QEMU sends them. */
    public void setVringAddr(final int index, final long descUva, final long usedUva, final long availUva)
        throws IOException
    {
        command(SET_VRING_ADDR, vringAddr(index, 0, descUva, usedUva, availUva, 0));
    }

    public void setVringBase(final int index, final int base) throws IOException
    {
        command(SET_VRING_BASE, vringState(index, base));
    }

    /** Stops the ring; returns the next avail index the back end would have processed. */
    public int getVringBase(final int index) throws IOException
    {
        final Reply reply = call(GET_VRING_BASE, vringState(index, 0));
        if (reply.size() != 8 || reply.u32(0) != index)
        {
            throw new IOException("bad GET_VRING_BASE reply for ring " + index + ": " + reply);
        }
        return reply.u32(4);
    }

    /** {@code fd < 0} sends the "no fd" flag instead (the back end polls). */
    public void setVringKick(final int index, final int fd) throws IOException
    {
        vringFd(SET_VRING_KICK, index, fd);
    }

    /** {@code fd < 0} sends the "no fd" flag instead (no interrupts). */
    public void setVringCall(final int index, final int fd) throws IOException
    {
        vringFd(SET_VRING_CALL, index, fd);
    }

    private void vringFd(final int request, final int index, final int fd) throws IOException
    {
        if (fd < 0)
        {
            command(request, u64(index | VRING_NOFD));
        }
        else
        {
            command(request, u64(index), fd);
        }
    }

    public void setVringEnable(final int index, final boolean enable) throws IOException
    {
        command(SET_VRING_ENABLE, vringState(index, enable ? 1 : 0));
    }

    // ------------------------------------------------------------------ whole sequences

    /**
     * The initialisation QEMU does when it connects (vhost_user_backend_init, then vhost_dev_init): GET_FEATURES;
     * if PROTOCOL_FEATURES is offered, GET/SET_PROTOCOL_FEATURES (taking what is offered of MQ and REPLY_ACK) and,
     * with MQ, GET_QUEUE_NUM; then SET_OWNER.
     *
     * @return the back end's offered features.
     */
    public long handshake() throws IOException
    {
        final long offered = getFeatures();
        if ((offered & F_PROTOCOL_FEATURES) != 0)
        {
            final long protocol = getProtocolFeatures();
            setProtocolFeatures(protocol & (PROTOCOL_F_MQ | PROTOCOL_F_REPLY_ACK));
            if ((protocol & PROTOCOL_F_MQ) != 0)
            {
                getQueueNum();
            }
        }
        setOwner();
        return offered;
    }

    /** {@link #startDevice(GuestMemory, DriverRing, DriverRing, long)} accepting every feature offered. */
    public long startDevice(final GuestMemory memory, final DriverRing rx, final DriverRing tx) throws IOException
    {
        return startDevice(memory, rx, tx, -1L);
    }

    /**
     * Everything QEMU does to start a vhost-user net device with one queue pair: {@link #handshake}, SET_FEATURES
     * ({@code wanted} & offered), SET_MEM_TABLE, then for RX (queue 0) and TX (queue 1): SET_VRING_NUM,
     * SET_VRING_BASE (the ring's used->idx: its start index when fresh, or where the device stopped, since the
     * back end completes every chain it took before it stops), SET_VRING_ADDR, SET_VRING_KICK, SET_VRING_CALL (fresh eventfds, see {@link #kickFd} /
     * {@link #callFd}), and finally SET_VRING_ENABLE 1 on both when PROTOCOL_FEATURES was negotiated. The rings
     * must lie in {@code memory}; their EVENT_IDX mode is set to match the negotiated features.
     *
     * @return the negotiated features.
     */
    public long startDevice(final GuestMemory memory, final DriverRing rx, final DriverRing tx, final long wanted)
        throws IOException
    {
        return startDevice(memory, rx, tx, wanted, null);
    }

    /**
     * As {@link #startDevice(GuestMemory, DriverRing, DriverRing, long)}, but SET_VRING_BASE sends {@code bases}
     * ({rx, tx}) instead of each ring's used->idx: what a front end that stayed up across a back-end restart sends
     * (DPDK virtio-user in server mode: 0).
     */
    public long startDevice(final GuestMemory memory, final DriverRing rx, final DriverRing tx, final long wanted,
        final int[] bases) throws IOException
    {
        final long offered = handshake();
        final long features = offered & wanted;
        setFeatures(features);
        setMemTable(memory);
        final DriverRing[] rings = {rx, tx};
        for (int q = 0; q < 2; q++)
        {
            final DriverRing ring = rings[q];
            ring.setEventIdx((features & F_RING_EVENT_IDX) != 0);
            setVringNum(q, ring.size());
            setVringBase(q, bases == null ? ring.usedIdx() : bases[q]);
            setVringAddr(q, ring.descUva(), ring.usedUva(), ring.availUva());
            replaceFd(kickFds, q, EventFd.create());
            setVringKick(q, kickFds[q]);
            replaceFd(callFds, q, EventFd.create());
            setVringCall(q, callFds[q]);
        }
        if ((features & F_PROTOCOL_FEATURES) != 0)
        {
            setVringEnable(RX_QUEUE, true);
            setVringEnable(TX_QUEUE, true);
        }
        return features;
    }

    /** Kick eventfd of queue {@code q} from {@link #startDevice} (the driver signals it), or -1. */
    public int kickFd(final int q)
    {
        return kickFds[q];
    }

    /** Call eventfd of queue {@code q} from {@link #startDevice} (the back end signals it), or -1. */
    public int callFd(final int q)
    {
        return callFds[q];
    }

    /** Stops both rings the way QEMU does on shutdown; returns {rx base, tx base}. */
    public int[] stopDevice() throws IOException
    {
        return new int[] {getVringBase(RX_QUEUE), getVringBase(TX_QUEUE)};
    }

    private static void replaceFd(final int[] fds, final int q, final int fd)
    {
        Fds.close(fds[q]);
        fds[q] = fd;
    }

    /** Closes the connection and the eventfds this object created. */
    @Override
    public void close()
    {
        socket.close();
        for (int q = 0; q < 2; q++)
        {
            replaceFd(kickFds, q, -1);
            replaceFd(callFds, q, -1);
        }
    }

    private static ByteBuffer le(final byte[] bytes)
    {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void pause(final long millis) throws InterruptedIOException
    {
        try
        {
            Thread.sleep(millis);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        }
    }
}
