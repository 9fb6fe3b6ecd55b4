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
import dev.vswitch.pipeline.offload.ChecksumCompletion;
import dev.vswitch.pipeline.offload.TcpSegmenter;
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
 * {@code virtio_net_hdr} (the VERSION_1 layout without {@code num_buffers}; little-endian, as the kernel uses it on
 * the little-endian hosts {@code LibC} accepts).
 * <p>
 * "Receive" is from the switch's point of view: frames the host sends out of the tap interface, read with one
 * non-blocking {@code read(2)} each. "Transmit" injects a frame into the host as if it arrived on the interface, with
 * one {@code writev(2)} straight from the frame's segments (guest memory, for a frame from a vhost-user port): the
 * only copy is the kernel's into its skb (except where the switch must segment a frame itself, below).
 *
 * <h2>Offloads</h2>
 * Without offloads ({@code TUNSETOFFLOAD 0}) the kernel segments and checksums everything before it hands a frame
 * to the tap, and finishes nothing we inject: a received header asking for a checksum or segmentation is malformed
 * ({@link DropReason#BAD_HEADER}). A frame to transmit that still needs either (it came from a port with offloads)
 * is finished by the switch: a partial checksum is completed while writing, spliced in as an iovec of its own
 * ({@link PortCounters#TX_CSUM_FILLED}); a TCP super-frame is cut into MTU-sized segments with complete checksums,
 * each written on its own ({@link PortCounters#TX_SEGMENTED}).
 * <p>
 * With offloads ({@code TUNSETOFFLOAD CSUM | TSO4 | TSO6 | TSO_ECN}, {@link #OFFLOADS}) the kernel hands over frames
 * with a partial checksum ({@code NEEDS_CSUM}: the pseudo-header sum sits in the checksum field, {@code csum_start}
 * and {@code csum_offset} say where the rest goes) and TCP super-frames of up to 64 KiB still to be cut into
 * {@code gso_size} payloads ({@code gso_type} TCPV4/TCPV6, maybe with the ECN bit; {@link PortCounters#RX_GSO}).
 * They travel through the pipeline unchanged, their {@code virtio_net_hdr} fields in the {@link PacketEvent}, and
 * are handed to the destination port whole. Transmitting, this port writes those fields into the header in front of
 * the frame and lets the kernel complete or segment it ({@link PortCounters#TX_GSO}): the MTU then applies to each
 * segment the kernel will cut, not to the super-frame.
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

    /** Offloads the tap is given with {@code offloads}: partial checksums, and TCP (also ECN) super-frames. */
    public static final int OFFLOADS = LibC.TUN_F_CSUM | LibC.TUN_F_TSO4 | LibC.TUN_F_TSO6 | LibC.TUN_F_TSO_ECN;

    /** {@code virtio_net_hdr.flags}: the checksum from {@code csum_start} to the end goes at {@code csum_offset}. */
    static final int VNET_HDR_F_NEEDS_CSUM = 1;
    /** {@code virtio_net_hdr.flags}: the kernel validated the checksum (receive only; never passed on). */
    static final int VNET_HDR_F_DATA_VALID = 2;
    static final int VNET_HDR_GSO_NONE = 0;
    static final int VNET_HDR_GSO_TCPV4 = 1;
    static final int VNET_HDR_GSO_TCPV6 = 4;
    static final int VNET_HDR_GSO_ECN = 0x80;

    /** Room past the 64 KiB frame for the Ethernet + VLAN headers of a 65535-byte MTU frame, and then some. */
    static final int SLACK = 256;
    /** Bytes offered to each read: header, then the frame. A read returning more than this was truncated. */
    static final int READ_CAPACITY = VNET_HDR_LEN + MAX_FRAME + SLACK;
    /** Distance between two pool buffers; a multiple of the cache line so each buffer starts on one. */
    static final int STRIDE = (READ_CAPACITY + 63) & ~63;
    /** Largest GSO super-frame transmitted: whatever a receive can return, so tap-to-tap always fits. */
    static final int MAX_GSO_FRAME = READ_CAPACITY - VNET_HDR_LEN;
    /** Where in the txHeader buffer a checksum completed in software is held for its iovec. */
    private static final int PATCH_OFFSET = 16;
    /** Smallest TCP header (data offset 5). */
    private static final int TCP_MIN_HLEN = 20;

    private static final String TUN_DEVICE = "/dev/net/tun";
    private static final int TUN_FLAGS = LibC.IFF_TAP | LibC.IFF_NO_PI | LibC.IFF_VNET_HDR;
    private static final Unsafe U = UnsafeAccess.UNSAFE;

    private final int id;
    private final String name;
    private final String ifname;
    private final int mtu;
    private final String mac;
    private final boolean persistent;
    private final boolean offloads;
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

    // Transmit side, PMD-owned: iovec[0] is the virtio_net_hdr at txHeader (rewritten for every frame: all zero
    // unless the kernel is to finish it), iovec[1..] the frame's segments (+2 when a completed checksum is spliced in).
    private final ByteBuffer iovMemory;
    private final long iovAddress;
    private final ByteBuffer txHeaderMemory;
    private final UnsafeBuffer txHeaderBuffer;
    /** The 12 header bytes at +0 (the last two, num_buffers, always zero); a checksum completed here at +16. */
    private final long txHeader;
    private final int maxFrame;
    /** Software segmentation for a tap without TSO (null with offloads: the kernel segments). */
    private final TcpSegmenter segmenter;
    private final SegmentWriter segmentWriter;

    // Errors that are no drop reason of their own; single writer (the PMD), read by anyone.
    private volatile long rxErrors;
    private volatile long txErrors;
    private volatile int lastErrno;

    private TapPort(final int id, final String name, final String ifname, final int mtu, final String mac,
        final boolean persistent, final boolean offloads, final int fd, final int burst)
    {
        this.id = id;
        this.name = name;
        this.ifname = ifname;
        this.mtu = mtu;
        this.mac = mac;
        this.persistent = persistent;
        this.offloads = offloads;
        this.fd = fd;

        poolSize = burst;
        poolMemory = BufferUtil.allocateDirectAligned(burst * STRIDE, 64);
        pool = new UnsafeBuffer(poolMemory);
        poolAddress = pool.addressOffset();

        txHeaderMemory = BufferUtil.allocateDirectAligned(64, 64);   // direct buffers start zeroed
        txHeaderBuffer = new UnsafeBuffer(txHeaderMemory);
        txHeader = BufferUtil.address(txHeaderMemory);
        iovMemory = BufferUtil.allocateDirectAligned((1 + PacketEvent.MAX_SEGMENTS + 2) * LibC.IOVEC_SIZE, 64);
        iovAddress = BufferUtil.address(iovMemory);
        U.putLong(iovAddress, txHeader);
        U.putLong(iovAddress + 8, VNET_HDR_LEN);
        maxFrame = mtu + ETH_HLEN;
        // The longest segment cut is the MTU plus a VLAN tag; the segmenter needs room for its longest header chain.
        segmenter = offloads ? null :
            new TcpSegmenter(Math.max(maxFrame + VLAN_HLEN, TcpSegmenter.MAX_HEADER_BYTES + 1));
        segmentWriter = offloads ? null : new SegmentWriter();
    }

    /**
     * Creates tap interface {@code ifname}, or attaches to it if it already exists as a (single-queue) tap, and
     * configures it: virtio-net header of 12 bytes, offloads {@link #OFFLOADS} or none, then MTU, MAC (if given) and
     * IFF_UP (if {@code up}), all by ioctl on the calling thread's network namespace.
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
     * @param offloads let the kernel hand over (and take) frames with a partial checksum and TCP super-frames of up
     *               to 64 KiB (see the class comment); false: every frame is complete and within the MTU.
     * @throws IOException naming the port, the interface and the errno, e.g.
     *                     {@code port uplink: cannot create tap 'bad/name': Invalid argument (EINVAL)}; no fd is left
     *                     open (and a tap this call created is gone again).
     */
    public static TapPort open(final int id, final String name, final String ifname, final int mtu,
        final String mac, final boolean up, final int burst, final boolean offloads) throws IOException
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
                // Without: no CSUM/TSO/UFO, the kernel finishes every frame. With: partial checksums and TCP GSO.
                LibC.ioctl(fd, LibC.TUNSETOFFLOAD, offloads ? OFFLOADS : 0);
            }
            catch (final LastErrorException ex)
            {
                throw new ErrnoException(port + tap + (offloads ?
                    ": cannot switch offloads on (TUNSETOFFLOAD CSUM|TSO4|TSO6|TSO_ECN)" :
                    ": cannot switch offloads off (TUNSETOFFLOAD 0)"), ex.getErrorCode());
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
            final TapPort result = new TapPort(id, name, actual, mtu, effectiveMac, persistent, offloads, fd, burst);
            Log.info(name, tap + (persistent ? " attached (persistent)" : " opened") + ": mtu " + mtu + ", mac " +
                effectiveMac + (up ? ", up" : "") + ", virtio-net header " + VNET_HDR_LEN + " bytes, offloads " +
                (offloads ? "csum+tso4+tso6+ecn" : "off") + ", " + burst + " receive buffers");
            return result;
        }
        catch (final Throwable t)
        {
            // Closing the only fd also deletes a tap this call created (it is not persistent).
            Fds.close(fd);
            throw t;
        }
    }

    /** {@link #open(int, String, String, int, String, boolean, int, boolean)} without offloads. */
    public static TapPort open(final int id, final String name, final String ifname, final int mtu,
        final String mac, final boolean up, final int burst) throws IOException
    {
        return open(id, name, ifname, mtu, mac, up, burst, false);
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

    /** The tap was opened with offloads: partial checksums and TCP super-frames pass in both directions. */
    public boolean offloads()
    {
        return offloads;
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
        final boolean offloads = this.offloads;
        int taken = 0;
        int published = 0;
        int gso = 0;
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
            final int hdrLen = pool.getShort(offset + 2, ByteOrder.LITTLE_ENDIAN) & 0xffff;
            final int gsoSize = pool.getShort(offset + 4, ByteOrder.LITTLE_ENDIAN) & 0xffff;
            final int csumStart = pool.getShort(offset + 6, ByteOrder.LITTLE_ENDIAN) & 0xffff;
            final int csumOffset = pool.getShort(offset + 8, ByteOrder.LITTLE_ENDIAN) & 0xffff;
            int reason;
            if (got < VNET_HDR_LEN)
            {
                reason = DropReason.BAD_HEADER;
            }
            else if (got > READ_CAPACITY)
            {
                reason = DropReason.TOO_BIG;   // the kernel returns the full length of a frame it had to truncate
            }
            else
            {
                // malformed, or asking for offloads this tap was not given
                reason = checkReceivedHeader(offloads, flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset,
                    frameLength);
                if (reason == DropReason.NONE && frameLength < ETH_HLEN)
                {
                    reason = DropReason.RUNT;
                }
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
            e.hdrLen = hdrLen;
            e.gsoSize = gsoSize;
            e.csumStart = csumStart;
            e.csumOffset = csumOffset;
            e.addSegment(poolAddress + offset + VNET_HDR_LEN, frameLength);
            publisher.publish();

            if (gsoType != VNET_HDR_GSO_NONE)
            {
                gso++;
            }
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
            if (gso > 0)
            {
                counters.add(PortCounters.RX_GSO, gso);
            }
        }
        Reference.reachabilityFence(poolMemory);
        return published;
    }

    /**
     * Checks the {@code virtio_net_hdr} the kernel put in front of a received frame of {@code frameLength} bytes.
     * Without offloads it must ask for nothing (no checksum to complete, no segmentation). With them it may carry a
     * partial checksum, which must lie inside the frame, and a TCPV4/TCPV6 super-frame (optionally with the ECN bit)
     * with a non-zero {@code gso_size} and a partial checksum (the kernel only segments TCP it checksums in the same
     * go, as virtio requires); {@code hdr_len} (the kernel's linear header length, a hint) must not exceed the frame.
     * Other flag bits (DATA_VALID) are accepted as today and never passed on.
     *
     * @return {@link DropReason#NONE}, or {@link DropReason#BAD_HEADER}.
     */
    static int checkReceivedHeader(final boolean offloads, final int flags, final int gsoType, final int hdrLen,
        final int gsoSize, final int csumStart, final int csumOffset, final int frameLength)
    {
        final boolean needsCsum = (flags & VNET_HDR_F_NEEDS_CSUM) != 0;
        if (!offloads)
        {
            // TUNSETOFFLOAD 0: the kernel should never do this
            return gsoType != VNET_HDR_GSO_NONE || needsCsum ? DropReason.BAD_HEADER : DropReason.NONE;
        }
        if (needsCsum && !ChecksumCompletion.valid(frameLength, csumStart, csumOffset))
        {
            return DropReason.BAD_HEADER;
        }
        if (gsoType != VNET_HDR_GSO_NONE && (!isTcpGso(gsoType) || gsoSize == 0 || !needsCsum))
        {
            return DropReason.BAD_HEADER;
        }
        if (hdrLen > frameLength)
        {
            return DropReason.BAD_HEADER;
        }
        return DropReason.NONE;
    }

    /** TCPV4 or TCPV6, optionally with the ECN bit; nothing else (no UDP, no tunnels). */
    static boolean isTcpGso(final int gsoType)
    {
        final int base = gsoType & ~VNET_HDR_GSO_ECN;
        return base == VNET_HDR_GSO_TCPV4 || base == VNET_HDR_GSO_TCPV6;
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

    /**
     * Writes the frame into the host with one {@code writev(2)}: header, then the frame's segments in place.
     * <ul>
     * <li>A plain frame goes out behind a zero header, if it fits the MTU (+4 bytes when VLAN tagged).</li>
     * <li>A frame with a partial checksum ({@code NEEDS_CSUM}, field inside the frame): with offloads the header
     * carries {@code csum_start}/{@code csum_offset} and the kernel completes it; without, the switch completes it
     * while writing ({@link PortCounters#TX_CSUM_FILLED}).</li>
     * <li>A TCP super-frame (TCPV4/TCPV6, maybe ECN, with {@code NEEDS_CSUM}, a TCP header inside the frame and a
     * non-zero {@code gso_size}), at most {@link #MAX_GSO_FRAME} long. With offloads it is legal when each segment
     * the kernel will cut, headers + {@code gso_size}, fits the MTU, and the header passes it on ({@code hdr_len} =
     * Ethernet to end of TCP header, exactly), counted as {@link PortCounters#TX_GSO}. Without, the switch cuts it
     * into segments of {@code gso_size} (less if that would break the MTU), each written on its own
     * ({@link PortCounters#TX_SEGMENTED} and TX_PACKETS count segments).</li>
     * </ul>
     * The DATA_VALID flag a source may carry is never passed on: it spoke for the source's kernel only.
     */
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
        if (e.gsoType != VNET_HDR_GSO_NONE)
        {
            return transmitGso(fd, e, limit);
        }
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
        if ((e.vnetFlags & VNET_HDR_F_NEEDS_CSUM) == 0)
        {
            putHeader(0, VNET_HDR_GSO_NONE, 0, 0, 0, 0);
            return written(writev(fd, e), length);
        }
        if (!ChecksumCompletion.valid(length, e.csumStart, e.csumOffset))
        {
            counters.drop(DropReason.BAD_HEADER);   // checksum code must never be pointed outside the frame
            return false;
        }
        if (offloads)
        {
            putHeader(VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_NONE, 0, 0, e.csumStart, e.csumOffset);
            return written(writev(fd, e), length);
        }
        return fillChecksum(fd, e);
    }

    /**
     * The kernel was not given checksum offload: completes the partial checksum in software and writes the frame
     * with the result spliced in, as an iovec of its own between the bytes before and after the field, so the
     * source's memory (another port's buffer, guest memory) is never written.
     */
    private boolean fillChecksum(final int fd, final PacketEvent e)
    {
        int value = ChecksumCompletion.compute(e);
        if (value < 0)
        {
            counters.drop(DropReason.BAD_HEADER);
            return false;
        }
        if (value == 0)
        {
            // As the kernel does (CSUM_MANGLED_0): the same sum in one's complement for TCP, and for UDP the only
            // way to say "checksummed, result 0", since 0 there means "no checksum" (and is invalid over IPv6).
            value = 0xffff;
        }
        final long patch = txHeader + PATCH_OFFSET;
        U.putByte(patch, (byte)(value >>> 8));   // network byte order
        U.putByte(patch + 1, (byte)value);
        putHeader(0, VNET_HDR_GSO_NONE, 0, 0, 0, 0);

        final int field = e.csumStart + e.csumOffset;   // checked: field + 2 <= frameLength
        final int fieldEnd = field + 2;
        long iov = iovAddress + LibC.IOVEC_SIZE;
        int count = 1;
        boolean patched = false;
        int at = 0;   // frame offset of segment i
        for (int i = 0; i < e.segCount; i++)
        {
            final long address = e.segAddress[i];
            final int end = at + e.segLength[i];
            // [at, end) minus [field, fieldEnd): at most the part before and the part after the field
            final int beforeEnd = Math.min(end, field);
            if (beforeEnd > at)
            {
                U.putLong(iov, address);
                U.putLong(iov + 8, beforeEnd - at);
                iov += LibC.IOVEC_SIZE;
                count++;
            }
            if (!patched && end > field)
            {
                U.putLong(iov, patch);
                U.putLong(iov + 8, 2);
                iov += LibC.IOVEC_SIZE;
                count++;
                patched = true;
            }
            final int afterStart = Math.max(at, fieldEnd);
            if (end > afterStart)
            {
                U.putLong(iov, address + (afterStart - at));
                U.putLong(iov + 8, end - afterStart);
                iov += LibC.IOVEC_SIZE;
                count++;
            }
            at = end;
        }
        if (written(writev(fd, count), e.frameLength))
        {
            counters.increment(PortCounters.TX_CSUM_FILLED);
            return true;
        }
        return false;
    }

    private boolean transmitGso(final int fd, final PacketEvent e, final int limit)
    {
        final int length = e.frameLength;
        final int gsoType = e.gsoType;
        final int csumStart = e.csumStart;
        if (!isTcpGso(gsoType) || e.gsoSize == 0 || (e.vnetFlags & VNET_HDR_F_NEEDS_CSUM) == 0 ||
            !ChecksumCompletion.valid(length, csumStart, e.csumOffset) || csumStart < ETH_HLEN ||
            csumStart + TCP_MIN_HLEN > length)
        {
            counters.drop(DropReason.BAD_HEADER);
            return false;
        }
        final int tcpHeaderLength = (byteAt(e, csumStart + 12) >>> 4) * 4;   // TCP data offset, in 32-bit words
        final int headers = csumStart + tcpHeaderLength;
        if (tcpHeaderLength < TCP_MIN_HLEN || headers > length)
        {
            counters.drop(DropReason.BAD_HEADER);
            return false;
        }
        if (length > MAX_GSO_FRAME)
        {
            counters.drop(DropReason.TOO_BIG);
            return false;
        }
        if (offloads)
        {
            if (headers + e.gsoSize > limit)
            {
                counters.drop(DropReason.TOO_BIG);   // a segment the kernel would cut breaks the MTU
                return false;
            }
            putHeader(VNET_HDR_F_NEEDS_CSUM, gsoType, headers, e.gsoSize, csumStart, e.csumOffset);
            if (written(writev(fd, e), length))
            {
                counters.increment(PortCounters.TX_GSO);
                return true;
            }
            return false;
        }
        return segment(fd, e, Math.min(e.gsoSize, limit - headers), limit);
    }

    /**
     * The kernel was not given TSO: cuts the super-frame into segments of at most {@code mss} payload bytes (the
     * source's {@code gso_size}, or less where that would break this interface's MTU), each with complete IP and TCP
     * checksums, and writes each behind a zero header. A write that fails stops the frame; the segments before it
     * are out.
     */
    private boolean segment(final int fd, final PacketEvent e, final int mss, final int limit)
    {
        if (mss <= 0)
        {
            counters.drop(DropReason.TOO_BIG);   // the headers alone fill the MTU
            return false;
        }
        putHeader(0, VNET_HDR_GSO_NONE, 0, 0, 0, 0);
        final SegmentWriter writer = segmentWriter;
        writer.fd = fd;
        writer.limit = limit;
        final int sent = segmenter.segment(e, mss, writer);
        if (sent < 0)
        {
            counters.drop(DropReason.BAD_HEADER);   // headers the segmenter cannot parse (not TCP, truncated, ...)
            return false;
        }
        return sent == segmenter.plannedSegments();
    }

    /** Writes each segment the segmenter cuts: iovec[0] the zero header, iovec[1] the segment in its buffer. */
    private final class SegmentWriter implements TcpSegmenter.Sink
    {
        int fd;
        int limit;

        @Override
        public boolean accept(final long address, final int length)
        {
            if (length > limit)
            {
                counters.drop(DropReason.TOO_BIG);   // cannot happen while the segmenter agrees on the headers
                return false;
            }
            U.putLong(iovAddress + LibC.IOVEC_SIZE, address);
            U.putLong(iovAddress + LibC.IOVEC_SIZE + 8, length);
            if (written(writev(fd, 2), length))
            {
                counters.increment(PortCounters.TX_SEGMENTED);
                return true;
            }
            return false;
        }
    }

    /** Byte {@code offset} of the frame (which the caller checked is inside it), read out of the scatter list. */
    static int byteAt(final PacketEvent e, final int offset)
    {
        int at = offset;
        for (int i = 0; i < e.segCount; i++)
        {
            final int n = e.segLength[i];
            if (at < n)
            {
                return U.getByte(e.segAddress[i] + at) & 0xff;
            }
            at -= n;
        }
        return 0;
    }

    /** Fills the 12-byte header iovec[0] points at (little-endian u16s; the last two bytes stay zero). */
    private void putHeader(final int flags, final int gsoType, final int hdrLen, final int gsoSize,
        final int csumStart, final int csumOffset)
    {
        final UnsafeBuffer h = txHeaderBuffer;
        h.putByte(0, (byte)flags);
        h.putByte(1, (byte)gsoType);
        h.putShort(2, (short)hdrLen, ByteOrder.LITTLE_ENDIAN);
        h.putShort(4, (short)gsoSize, ByteOrder.LITTLE_ENDIAN);
        h.putShort(6, (short)csumStart, ByteOrder.LITTLE_ENDIAN);
        h.putShort(8, (short)csumOffset, ByteOrder.LITTLE_ENDIAN);
    }

    /** Writes the header then the event's segments, as they are; 0 or the errno of the failed write. */
    private int writev(final int fd, final PacketEvent e)
    {
        final int segments = e.segCount;
        long iov = iovAddress + LibC.IOVEC_SIZE;   // iovec[0] is the header, set up once
        for (int i = 0; i < segments; i++)
        {
            U.putLong(iov, e.segAddress[i]);
            U.putLong(iov + 8, e.segLength[i]);
            iov += LibC.IOVEC_SIZE;
        }
        return writev(fd, segments + 1);
    }

    /** {@code writev(fd, iovec[0..count))}, retried on EINTR; 0 or the errno of the failed write. */
    private int writev(final int fd, final int count)
    {
        long written;
        int errno = 0;
        do
        {
            written = LibC.Raw.writev(fd, iovAddress, count);
        }
        while (written < 0 && Errno.EINTR == (errno = Errno.last()));
        Reference.reachabilityFence(iovMemory);
        Reference.reachabilityFence(txHeaderMemory);
        return written < 0 ? errno : 0;
    }

    /** Counts a write of {@code length} frame bytes that ended with {@code errno} (0: success). */
    private boolean written(final int errno, final int length)
    {
        if (errno != 0)
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
