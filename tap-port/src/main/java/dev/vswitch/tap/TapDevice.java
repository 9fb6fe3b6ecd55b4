package dev.vswitch.tap;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.vswitch.nativeio.Errno;
import dev.vswitch.nativeio.ErrnoException;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.LibC;
import dev.vswitch.nativeio.NetDevices;
import dev.vswitch.pipeline.offload.VirtioNetHdr;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Creates or attaches to a tap interface and configures it, all by ioctl on the calling thread's network namespace:
 * one non-blocking {@code /dev/net/tun} fd with {@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR}, a virtio-net header of
 * {@link VirtioNetHdr#LENGTH} bytes, the offloads ({@link TapOffloads}), then MTU, MAC and IFF_UP. Control plane
 * only; what it opened is handed to {@link TapPort}, which owns the fd from then on.
 */
final class TapDevice
{
    private static final String TUN_DEVICE = "/dev/net/tun";
    private static final int TUN_FLAGS = LibC.IFF_TAP | LibC.IFF_NO_PI | LibC.IFF_VNET_HDR;

    final int fd;
    /** The interface name as the kernel reported it back (templates such as "tap%d" are filled in). */
    final String ifname;
    /** The MAC as read back after configuring it, lower-case. */
    final String mac;
    /** The tap existed as a persistent one: closing our fd leaves it. */
    final boolean persistent;

    private TapDevice(final int fd, final String ifname, final String mac, final boolean persistent)
    {
        this.fd = fd;
        this.ifname = ifname;
        this.mac = mac;
        this.persistent = persistent;
    }

    /**
     * See {@link TapPort#open(int, String, String, int, String, boolean, int, boolean)}: its checks and errors, less
     * the burst.
     */
    static TapDevice open(final String name, final String ifname, final int mtu, final String mac, final boolean up,
        final boolean offloads) throws IOException
    {
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
                arg.setInt(0, VirtioNetHdr.LENGTH);
                LibC.ioctl(fd, LibC.TUNSETVNETHDRSZ, Pointer.nativeValue(arg));
            }
            catch (final LastErrorException ex)
            {
                throw new ErrnoException(port + tap + ": cannot set virtio-net header size " + VirtioNetHdr.LENGTH,
                    ex.getErrorCode());
            }
            TapOffloads.negotiate(fd, offloads, port + tap);
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
            return new TapDevice(fd, actual, effectiveMac, persistent);
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
}
