package dev.vswitch.tap;

import dev.vswitch.nativeio.Fds;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.offload.OffloadPolicy;
import dev.vswitch.pipeline.offload.VirtioNetHdr;

import java.io.IOException;
import java.util.Objects;

/**
 * The TAP uplink: a kernel tap interface as a switch port, so frames reach the host's network stack (and whatever it
 * routes or bridges to). The port owns one {@code /dev/net/tun} fd, opened non-blocking with
 * {@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR}: every frame in either direction is preceded by a 12-byte
 * {@code virtio_net_hdr} ({@link VirtioNetHdr}: the VERSION_1 layout, {@code num_buffers} unused).
 * <p>
 * The port is the sum of four parts with one job each:
 * <ul>
 * <li>{@link TapDevice}: creates or attaches to the tap and configures it (fd, ioctls, MTU, MAC, up);</li>
 * <li>{@link TapOffloads}: the offloads the tap is given (none, or CSUM | TSO4 | TSO6 | TSO_ECN) and what they
 * mean to {@link OffloadPolicy};</li>
 * <li>{@link TapReceiver}: "receive" (frames the host sends out of the tap), one non-blocking {@code read(2)} each
 * into a pool of switch-owned buffers, the kernel's header checked as every port checks one;</li>
 * <li>{@link TapTransmitter}: "transmit" (injecting a frame into the host as if it arrived on the interface), one
 * {@code writev(2)} straight from the frame's segments, finished in software where {@link OffloadPolicy} says so.</li>
 * </ul>
 *
 * <h2>Offloads</h2>
 * Without offloads the kernel segments and checksums everything before it hands a frame to the tap, and finishes
 * nothing we inject: a received header asking for a checksum or segmentation is malformed
 * ({@link DropReason#BAD_HEADER}). A frame to transmit that still needs either (it came from a port with offloads)
 * is finished by the switch: a partial checksum is completed while writing ({@link PortCounters#TX_CSUM_FILLED}); a
 * TCP super-frame is cut into segments that fit the MTU ({@link PortCounters#TX_SEGMENTED}).
 * <p>
 * With offloads the kernel hands over frames with a partial checksum and TCP super-frames of up to 64 KiB
 * ({@link PortCounters#RX_GSO}). They travel through the pipeline unchanged, their {@code virtio_net_hdr} fields in
 * the {@link PacketEvent}, and are handed to the destination port whole. Transmitting, this port writes those fields
 * into the header in front of the frame (with {@code hdr_len} recomputed from the frame's headers) and lets the
 * kernel complete or segment it ({@link PortCounters#TX_GSO}): the MTU then applies to each segment the kernel will
 * cut, not to the super-frame.
 *
 * <h2>Threads</h2>
 * {@link #receive}, {@link #transmit}, {@link #complete} and {@link #flush} run on the PMD thread that owns the port
 * and allocate nothing. {@link #open} and {@link #close} are control plane. Call {@link #close} only once the PMD no
 * longer polls the port (removed from it, or the PMD stopped): a PMD still holding the old fd number could otherwise
 * read from or write to whatever file reuses it.
 */
public final class TapPort implements SwitchPort, AutoCloseable
{
    /** Largest frame a read can return: the largest MTU the kernel allows a tap, plus link headers fit the slack. */
    public static final int MAX_FRAME = TapReceiver.MAX_FRAME;
    /** Largest {@code burst} accepted (the buffer pool is {@code burst} x ~64 KiB). */
    public static final int MAX_BURST = 1024;

    private final int id;
    private final String name;
    private final String ifname;
    private final int mtu;
    private final String mac;
    private final boolean persistent;
    private final boolean offloads;
    private final PortCounters counters = new PortCounters();
    private final TapErrors errors = new TapErrors();
    private final TapReceiver receiver;
    private final TapTransmitter transmitter;
    /** -1 once closed; read once per data-path call. */
    private volatile int fd;

    private TapPort(final int id, final String name, final TapDevice device, final int mtu, final boolean offloads,
        final int burst)
    {
        this.id = id;
        this.name = name;
        this.ifname = device.ifname;
        this.mtu = mtu;
        this.mac = device.mac;
        this.persistent = device.persistent;
        this.offloads = offloads;
        this.fd = device.fd;
        receiver = new TapReceiver(id, burst, offloads, counters, errors);
        transmitter = new TapTransmitter(mtu, offloads, counters, errors);
    }

    /**
     * Creates tap interface {@code ifname}, or attaches to it if it already exists as a (single-queue) tap, and
     * configures it: virtio-net header of 12 bytes, offloads CSUM | TSO4 | TSO6 | TSO_ECN or none, then MTU, MAC (if
     * given) and IFF_UP (if {@code up}), all by ioctl on the calling thread's network namespace.
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
        final TapDevice device = TapDevice.open(name, ifname, mtu, mac, up, offloads);
        final TapPort result;
        try
        {
            result = new TapPort(id, name, device, mtu, offloads, burst);
        }
        catch (final Throwable t)
        {
            Fds.close(device.fd);   // closing the only fd also deletes a tap this call created
            throw t;
        }
        Log.info(name, "tap '" + device.ifname + "'" + (device.persistent ? " attached (persistent)" : " opened") +
            ": mtu " + mtu + ", mac " + device.mac + (up ? ", up" : "") + ", virtio-net header " +
            VirtioNetHdr.LENGTH + " bytes, offloads " + TapOffloads.describe(offloads) + ", " + burst +
            " receive buffers");
        return result;
    }

    /** {@link #open(int, String, String, int, String, boolean, int, boolean)} without offloads. */
    public static TapPort open(final int id, final String name, final String ifname, final int mtu,
        final String mac, final boolean up, final int burst) throws IOException
    {
        return open(id, name, ifname, mtu, mac, up, burst, false);
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
        return errors.rxErrors;
    }

    /**
     * Writes that failed with an errno that maps to no drop reason (EAGAIN/ENOBUFS count as ring-full, EIO (interface
     * down) and EBADFD/ENODEV/ENXIO (interface gone) as port-down); {@link #lastErrno()} tells which.
     */
    public long txErrors()
    {
        return errors.txErrors;
    }

    /** errno of the most recent failed read or write other than EAGAIN, 0 if none. */
    public int lastErrno()
    {
        return errors.lastErrno;
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
        return fd < 0 ? 0 : receiver.receive(fd, publisher, budget);
    }

    /**
     * The check {@link TapReceiver} applies to the {@code virtio_net_hdr} the kernel put in front of a received frame
     * of {@code frameLength} bytes: {@link OffloadPolicy#checkReceived} with what this tap's offloads let the kernel
     * ask for. Without offloads it must ask for nothing; with them it may carry a partial checksum inside the frame
     * and a TCPV4/TCPV6 super-frame (optionally ECN) with a partial checksum and a gso_size of at least
     * {@link OffloadPolicy#MIN_GSO_SIZE}; {@code hdr_len} must not exceed the frame.
     *
     * @return {@link DropReason#NONE}, or {@link DropReason#BAD_HEADER}.
     */
    static int checkReceivedHeader(final boolean offloads, final int flags, final int gsoType, final int hdrLen,
        final int gsoSize, final int csumStart, final int csumOffset, final int frameLength)
    {
        return OffloadPolicy.checkReceived(flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset, frameLength,
            TapOffloads.accepts(offloads));
    }

    /** The pipeline is done with a received frame: its buffer (the oldest in flight) is free for the next read. */
    @Override
    public void complete(final PacketEvent event)
    {
        receiver.complete();
    }

    // ------------------------------------------------------------------ switch -> host (tap writes)

    /** Writes the frame into the host as {@link TapTransmitter} does, or drops it as port-down once closed. */
    @Override
    public boolean transmit(final PacketEvent e)
    {
        final int fd = this.fd;
        if (fd < 0)
        {
            counters.drop(DropReason.PORT_DOWN);
            return false;
        }
        return transmitter.transmit(fd, e);
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
