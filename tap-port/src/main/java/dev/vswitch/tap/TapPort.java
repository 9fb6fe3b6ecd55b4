package dev.vswitch.tap;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.vswitch.nativeio.Errno;
import dev.vswitch.nativeio.ErrnoException;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.LibC;
import dev.vswitch.nativeio.NetDevices;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;
import org.agrona.BufferUtil;
import org.agrona.UnsafeAccess;
import org.agrona.concurrent.UnsafeBuffer;
import sun.misc.Unsafe;

import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The TAP uplink: a kernel tap interface as a switch port, so frames reach the host's network stack (and whatever it
 * routes or bridges to). The port owns one {@code /dev/net/tun} fd, opened non-blocking with
 * {@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR}: every frame in either direction is preceded by a 12-byte
 * {@code virtio_net_hdr} (the VERSION_1 layout without {@code num_buffers}), with offloads switched off
 * ({@code TUNSETOFFLOAD 0}) so the kernel segments and checksums everything itself for now.
 * <p>
 * "Receive" is from the switch's point of view: frames the host sends out of the tap interface, read with one
 * non-blocking {@code read(2)} each. "Transmit" injects a frame into the host as if it arrived on the interface, with
 * one {@code writev(2)} straight from the frame's segments (guest memory, for a frame from a vhost-user port): the
 * only copy is the kernel's into its skb.
 *
 * <h2>Buffer ownership</h2>
 * Each received frame is read into one of {@code burst} switch-owned off-heap buffers (12 + 65535 + slack bytes) and
 * published as a single segment pointing into it; the buffer is the frame's until the pipeline calls
 * {@link #complete}. Buffers are handed out in ring order and the pipeline gives them back in the same order: the
 * Disruptor runs the one pipeline handler over events in sequence order, and {@code PmdAgent} runs every frame
 * received in a round through the stages and {@code complete()} before that round ends. So every buffer is free
 * again when the next round's {@link #receive} starts, and {@code burst} buffers cover a whole budget ({@code PmdAgent}
 * never hands a port more than {@code burst}). The port does not merely trust this: it counts frames in flight and
 * takes no more than the free buffers, so a caller that kept frames across rounds would only slow the port down,
 * never have a frame overwritten under it. A caller that completed this port's frames out of order would break the
 * invariant; the pipeline cannot.
 *
 * <h2>Threads</h2>
 * {@link #receive}, {@link #transmit}, {@link #complete} and {@link #flush} run on the PMD thread that owns the port
 * and allocate nothing. {@link #open} and {@link #close} are control plane. Call {@link #close} only once the PMD no
 * longer polls the port (removed from it, or the PMD stopped): a PMD still holding the old fd number could otherwise
 * read from or write to whatever file reuses it.
 */
public final class TapPort implements SwitchPort, AutoCloseable
{
    /** {@code sizeof(struct virtio_net_hdr)}: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset. */
    public static final int VNET_HDR_LEN = 12;
    public static final int ETH_HLEN = 14;
    public static final int VLAN_HLEN = 4;
    /** Largest frame a read can return: the largest MTU the kernel allows a tap, plus link headers fit the slack. */
    public static final int MAX_FRAME = 65535;
    /** Largest {@code burst} accepted (the buffer pool is {@code burst} x ~64 KiB). */
    public static final int MAX_BURST = 1024;

    /** Room past the 64 KiB frame for the Ethernet + VLAN headers of a 65535-byte MTU frame, and then some. */
    static final int SLACK = 256;
    /** Bytes offered to each read: header, then the frame. A read returning more than this was truncated. */
    static final int READ_CAPACITY = VNET_HDR_LEN + MAX_FRAME + SLACK;
    /** Distance between two pool buffers; a multiple of the cache line so each buffer starts on one. */
    static final int STRIDE = (READ_CAPACITY + 63) & ~63;

    private static final int VNET_HDR_F_NEEDS_CSUM = 1;
    private static final int VNET_HDR_GSO_NONE = 0;
    private static final String TUN_DEVICE = "/dev/net/tun";
    private static final int TUN_FLAGS = LibC.IFF_TAP | LibC.IFF_NO_PI | LibC.IFF_VNET_HDR;
    private static final Unsafe U = UnsafeAccess.UNSAFE;

    private final int id;
    private final String name;
    private final String ifname;
    private final int mtu;
    private final String mac;
    private final boolean persistent;
    private final PortCounters counters = new PortCounters();
    /** -1 once closed; read once per data-path call. */
    private volatile int fd;

    // Receive side, PMD-owned: the buffer pool and its ring-order accounting.
    private final ByteBuffer poolMemory;
    private final UnsafeBuffer pool;
    private final long poolAddress;
    private final int poolSize;
    private int nextBuffer;
    private int inFlight;

    // Transmit side, PMD-owned: iovec[0] is the constant zero header, iovec[1..] the frame's segments.
    private final ByteBuffer iovMemory;
    private final long iovAddress;
    private final ByteBuffer zeroHeader;
    private final int maxFrame;

    // Errors that are no drop reason of their own; single writer (the PMD), read by anyone.
    private volatile long rxErrors;
    private volatile long txErrors;
    private volatile int lastErrno;

    private TapPort(final int id, final String name, final String ifname, final int mtu, final String mac,
        final boolean persistent, final int fd, final int burst)
    {
        this.id = id;
        this.name = name;
        this.ifname = ifname;
        this.mtu = mtu;
        this.mac = mac;
        this.persistent = persistent;
        this.fd = fd;

        poolSize = burst;
        poolMemory = BufferUtil.allocateDirectAligned(burst * STRIDE, 64);
        pool = new UnsafeBuffer(poolMemory);
        poolAddress = pool.addressOffset();

        zeroHeader = BufferUtil.allocateDirectAligned(64, 64);   // direct buffers start zeroed
        iovMemory = BufferUtil.allocateDirectAligned((1 + PacketEvent.MAX_SEGMENTS) * LibC.IOVEC_SIZE, 64);
        iovAddress = BufferUtil.address(iovMemory);
        U.putLong(iovAddress, BufferUtil.address(zeroHeader));
        U.putLong(iovAddress + 8, VNET_HDR_LEN);
        maxFrame = mtu + ETH_HLEN;
    }

    /**
     * Creates tap interface {@code ifname}, or attaches to it if it already exists as a (single-queue) tap, and
     * configures it: virtio-net header of 12 bytes, no offloads, then MTU, MAC (if given) and IFF_UP (if
     * {@code up}), all by ioctl on the calling thread's network namespace.
     *
     * @param id     the port's index in the switch's port array.
     * @param name   the port's name, for logs and messages.
     * @param ifname interface name, 1..15 bytes; a kernel template such as {@code "tap%d"} works too, and
     *               {@link #ifname()} then reports the name the kernel chose.
     * @param mtu    interface MTU (the kernel accepts 68..65535); frames longer than {@code mtu} + 14 (+ 4 when
     *               VLAN tagged) are not transmitted.
     * @param mac    {@code aa:bb:cc:dd:ee:ff}, or null to keep the kernel's (random) address.
     * @param up     bring the interface up; false leaves its state as it was.
     * @param burst  the PMD's per-port budget: sizes the receive buffer pool, 1..{@value #MAX_BURST}.
     * @throws IOException naming the port, the interface and the errno, e.g.
     *                     {@code port uplink: cannot create tap 'bad/name': Invalid argument (EINVAL)}; no fd is left
     *                     open (and a tap this call created is gone again).
     */
    public static TapPort open(final int id, final String name, final String ifname, final int mtu,
        final String mac, final boolean up, final int burst) throws IOException
    {
        Objects.requireNonNull(name, "name");
        if (burst < 1 || burst > MAX_BURST)
        {
            throw new IllegalArgumentException("port " + name + ": burst must be 1.." + MAX_BURST + ", got " + burst);
        }
        final String port = "port " + name + ": ";
        if (!NetDevices.fitsIfname(ifname))
        {
            throw new ErrnoException(port + "cannot create tap '" + ifname + "' (interface names are 1.." +
                NetDevices.MAX_NAME_BYTES + " bytes)", Errno.EINVAL);
        }
        final byte[] macBytes;
        try
        {
            macBytes = null == mac ? null : NetDevices.parseMac(mac);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IOException(port + "tap '" + ifname + "': invalid mac: " + ex.getMessage(), ex);
        }

        final int fd;
        try
        {
            fd = LibC.open(TUN_DEVICE, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException(port + "cannot create tap '" + ifname + "': open " + TUN_DEVICE,
                ex.getErrorCode());
        }
        try
        {
            final Memory ifr = NetDevices.ifreq(ifname);
            ifr.setShort(LibC.IFREQ_UNION_OFFSET, (short)TUN_FLAGS);
            try
            {
                LibC.ioctl(fd, LibC.TUNSETIFF, Pointer.nativeValue(ifr));
            }
            catch (final LastErrorException ex)
            {
                throw new ErrnoException(port + "cannot create tap '" + ifname + "'" +
                    setIffHint(ifname, ex.getErrorCode()), ex.getErrorCode());
            }
            final String actual = NetDevices.ifname(ifr);   // the kernel writes the name back (templates: "tap%d")
            final String tap = "tap '" + actual + "'";

            final Memory arg = new Memory(LibC.IFREQ_SIZE);
            arg.clear();
            final boolean persistent;
            try
            {
                LibC.ioctl(fd, LibC.TUNGETIFF, Pointer.nativeValue(arg));
                persistent = (arg.getShort(LibC.IFREQ_UNION_OFFSET) & LibC.IFF_PERSIST) != 0;
                arg.setInt(0, VNET_HDR_LEN);
                LibC.ioctl(fd, LibC.TUNSETVNETHDRSZ, Pointer.nativeValue(arg));
            }
            catch (final LastErrorException ex)
            {
                throw new ErrnoException(port + tap + ": cannot set virtio-net header size " + VNET_HDR_LEN,
                    ex.getErrorCode());
            }
            try
            {
                LibC.ioctl(fd, LibC.TUNSETOFFLOAD, 0);   // no CSUM/TSO/UFO: the kernel finishes every frame
            }
            catch (final LastErrorException ex)
            {
                throw new ErrnoException(port + tap + ": cannot switch offloads off (TUNSETOFFLOAD 0)",
                    ex.getErrorCode());
            }
            try
            {
                NetDevices.setMtu(actual, mtu);
            }
            catch (final ErrnoException ex)
            {
                throw new ErrnoException(port + "cannot set mtu " + mtu + " on " + tap, ex.errno());
            }
            if (null != macBytes)
            {
                try
                {
                    NetDevices.setMacAddress(actual, macBytes);
                }
                catch (final ErrnoException ex)
                {
                    throw new ErrnoException(port + "cannot set mac " + mac + " on " + tap, ex.errno());
                }
            }
            if (up)
            {
                try
                {
                    NetDevices.setUp(actual, true);
                }
                catch (final ErrnoException ex)
                {
                    throw new ErrnoException(port + "cannot bring " + tap + " up", ex.errno());
                }
            }
            final String effectiveMac;
            try
            {
                effectiveMac = NetDevices.formatMac(NetDevices.macAddress(actual));
            }
            catch (final ErrnoException ex)
            {
                throw new ErrnoException(port + tap + ": cannot read its mac", ex.errno());
            }
            final TapPort result = new TapPort(id, name, actual, mtu, effectiveMac, persistent, fd, burst);
            Log.info(name, tap + (persistent ? " attached (persistent)" : " opened") + ": mtu " + mtu + ", mac " +
                effectiveMac + (up ? ", up" : "") + ", virtio-net header " + VNET_HDR_LEN + " bytes, offloads off, " +
                burst + " receive buffers");
            return result;
        }
        catch (final Throwable t)
        {
            // Closing the only fd also deletes a tap this call created (it is not persistent).
            Fds.close(fd);
            throw t;
        }
    }

    /** Why TUNSETIFF may have refused, where the errno alone would puzzle. */
    private static String setIffHint(final String ifname, final int errno)
    {
        if (Errno.EBUSY == errno)
        {
            return " (it is a tap another process has open)";
        }
        if (Errno.EPERM == errno)
        {
            return " (needs CAP_NET_ADMIN, or the tap belongs to another user)";
        }
        if (Errno.EINVAL == errno && ifname.indexOf('%') < 0 && Files.exists(Path.of("/sys/class/net", ifname)))
        {
            return " (an interface of that name exists and is not a single-queue tap)";
        }
        return "";
    }

    @Override
    public int id()
    {
        return id;
    }

    @Override
    public String name()
    {
        return name;
    }

    /** The interface name (as the kernel reported it back). */
    public String ifname()
    {
        return ifname;
    }

    public int mtu()
    {
        return mtu;
    }

    /** The interface's MAC address as read back after configuring it, lower-case. */
    public String mac()
    {
        return mac;
    }

    @Override
    public PortCounters counters()
    {
        return counters;
    }

    /** Reads that failed with something other than EAGAIN (e.g. EBADFD once the interface was deleted). */
    public long rxErrors()
    {
        return rxErrors;
    }

    /**
     * Writes that failed with an errno that maps to no drop reason (EAGAIN/ENOBUFS count as ring-full, EIO (interface
     * down) and EBADFD/ENODEV/ENXIO (interface gone) as port-down); {@link #lastErrno()} tells which.
     */
    public long txErrors()
    {
        return txErrors;
    }

    /** errno of the most recent failed read or write other than EAGAIN, 0 if none. */
    public int lastErrno()
    {
        return lastErrno;
    }

    /** The fd is open. (The interface may still be administratively down: its writes then drop as port-down.) */
    @Override
    public boolean isUp()
    {
        return fd >= 0;
    }

    // ------------------------------------------------------------------ switch <- host (tap reads)

    @Override
    public int receive(final PacketPublisher publisher, final int budget)
    {
        final int fd = this.fd;
        if (fd < 0)
        {
            return 0;
        }
        final int reads = Math.min(budget, poolSize - inFlight);
        final UnsafeBuffer pool = this.pool;
        int taken = 0;
        int published = 0;
        long bytes = 0;
        int slot = nextBuffer;
        while (taken < reads)
        {
            final int offset = slot * STRIDE;
            final long got = LibC.Raw.read(fd, poolAddress + offset, READ_CAPACITY);
            if (got < 0)
            {
                final int errno = Errno.last();
                if (Errno.EINTR == errno)
                {
                    continue;
                }
                if (Errno.EAGAIN != errno)
                {
                    lastErrno = errno;
                    rxErrors = rxErrors + 1;
                }
                break;   // EAGAIN: nothing queued
            }
            taken++;
            final int frameLength = (int)got - VNET_HDR_LEN;
            final int flags = pool.getByte(offset) & 0xff;
            final int gsoType = pool.getByte(offset + 1) & 0xff;
            final int reason;
            if (got < VNET_HDR_LEN)
            {
                reason = DropReason.BAD_HEADER;
            }
            else if (got > READ_CAPACITY)
            {
                reason = DropReason.TOO_BIG;   // the kernel returns the full length of a frame it had to truncate
            }
            else if (gsoType != VNET_HDR_GSO_NONE || (flags & VNET_HDR_F_NEEDS_CSUM) != 0)
            {
                reason = DropReason.BAD_HEADER;   // offloads are off (TUNSETOFFLOAD 0): the kernel should not do this
            }
            else if (frameLength < ETH_HLEN)
            {
                reason = DropReason.RUNT;
            }
            else
            {
                reason = DropReason.NONE;
            }
            if (reason != DropReason.NONE)
            {
                counters.drop(reason);   // the buffer was never published: the next read reuses it
                continue;
            }

            final PacketEvent e = publisher.claim(id);
            e.completionToken = slot;
            e.vnetFlags = flags;
            e.gsoType = gsoType;
            e.hdrLen = pool.getShort(offset + 2, ByteOrder.LITTLE_ENDIAN) & 0xffff;
            e.gsoSize = pool.getShort(offset + 4, ByteOrder.LITTLE_ENDIAN) & 0xffff;
            e.csumStart = pool.getShort(offset + 6, ByteOrder.LITTLE_ENDIAN) & 0xffff;
            e.csumOffset = pool.getShort(offset + 8, ByteOrder.LITTLE_ENDIAN) & 0xffff;
            e.addSegment(poolAddress + offset + VNET_HDR_LEN, frameLength);
            publisher.publish();

            published++;
            bytes += frameLength;
            slot = slot + 1 == poolSize ? 0 : slot + 1;
        }
        nextBuffer = slot;
        inFlight += published;
        if (taken > 0)
        {
            // Like the vhost-user port: rx counts every frame taken, bytes only those that went on.
            counters.add(PortCounters.RX_PACKETS, taken);
            counters.add(PortCounters.RX_BYTES, bytes);
        }
        Reference.reachabilityFence(poolMemory);
        return published;
    }

    /** The pipeline is done with a received frame: its buffer (the oldest in flight) is free for the next read. */
    @Override
    public void complete(final PacketEvent event)
    {
        if (inFlight > 0)
        {
            inFlight--;
        }
    }

    // ------------------------------------------------------------------ switch -> host (tap writes)

    @Override
    public boolean transmit(final PacketEvent e)
    {
        final int fd = this.fd;
        if (fd < 0)
        {
            counters.drop(DropReason.PORT_DOWN);
            return false;
        }
        final int length = e.frameLength;
        final int limit = (e.packetFlags & PacketEvent.FLAG_VLAN) != 0 ? maxFrame + VLAN_HLEN : maxFrame;
        if (length > limit)
        {
            counters.drop(DropReason.TOO_BIG);   // the host would take it, but it breaks the interface's MTU
            return false;
        }
        if (length < ETH_HLEN)
        {
            counters.drop(DropReason.RUNT);      // the kernel would refuse it with EINVAL
            return false;
        }
        final int segments = e.segCount;
        long iov = iovAddress + LibC.IOVEC_SIZE;   // iovec[0] is the zero virtio_net_hdr, set up once
        for (int i = 0; i < segments; i++)
        {
            U.putLong(iov, e.segAddress[i]);
            U.putLong(iov + 8, e.segLength[i]);
            iov += LibC.IOVEC_SIZE;
        }
        long written;
        int errno = 0;
        do
        {
            written = LibC.Raw.writev(fd, iovAddress, segments + 1);
        }
        while (written < 0 && Errno.EINTR == (errno = Errno.last()));
        Reference.reachabilityFence(iovMemory);
        Reference.reachabilityFence(zeroHeader);
        if (written < 0)
        {
            return writeFailed(errno);
        }
        counters.increment(PortCounters.TX_PACKETS);
        counters.add(PortCounters.TX_BYTES, length);
        return true;
    }

    private boolean writeFailed(final int errno)
    {
        switch (errno)
        {
            case Errno.EAGAIN:
            case Errno.ENOBUFS:
                counters.drop(DropReason.RING_FULL);   // the kernel's queue is full; nothing to retry into
                return false;
            case Errno.EIO:       // interface administratively down
            case Errno.EBADFD:    // interface deleted under the fd
            case Errno.ENODEV:
            case Errno.ENXIO:
                counters.drop(DropReason.PORT_DOWN);
                break;
            default:
                txErrors = txErrors + 1;
                break;
        }
        lastErrno = errno;
        return false;
    }

    /** Nothing is batched: every frame was read or written by its own syscall. */
    @Override
    public void flush()
    {
    }

    /**
     * Closes the fd. The tap is not persistent unless someone made it so before we attached ({@code ip tuntap add}),
     * so the kernel deletes the interface when its last fd closes, i.e. now, unless another process still has it
     * open. A persistent tap stays, detached. Idempotent. Only once the PMD no longer polls this port (see the
     * class comment).
     */
    @Override
    public void close()
    {
        final int old;
        synchronized (this)
        {
            old = fd;
            if (old < 0)
            {
                return;
            }
            fd = -1;
        }
        Fds.close(old);
        Log.info(name, "tap '" + ifname + "' closed" + (persistent ? " (persistent: the interface stays)" :
            " (the kernel deletes the interface)") + "; " + counters.summary());
    }

    @Override
    public String toString()
    {
        return "tap port " + name + " (" + ifname + ")";
    }
}
