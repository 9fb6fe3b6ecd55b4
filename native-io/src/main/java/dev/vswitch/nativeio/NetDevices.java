package dev.vswitch.nativeio;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;

/**
 * netdevice(7) ioctls on a network interface by name: MTU, MAC address and flags, as {@code ip link set} does them,
 * without running a command. Each call opens a short-lived AF_INET datagram socket (the kernel wants some socket to
 * carry the ioctl; it acts on the calling thread's network namespace) and closes it again, so nothing leaks on any
 * path. Control plane only: these allocate.
 */
public final class NetDevices
{
    /** Longest interface name: IFNAMSIZ less the terminating NUL. */
    public static final int MAX_NAME_BYTES = LibC.IFNAMSIZ - 1;
    public static final int MAC_BYTES = 6;

    private static final int FLAGS_OFFSET = LibC.IFREQ_UNION_OFFSET;        // short ifr_flags
    private static final int MTU_OFFSET = LibC.IFREQ_UNION_OFFSET;          // int ifr_mtu
    private static final int HW_FAMILY_OFFSET = LibC.IFREQ_UNION_OFFSET;    // ifr_hwaddr.sa_family (u16)
    private static final int HW_DATA_OFFSET = LibC.IFREQ_UNION_OFFSET + 2;  // ifr_hwaddr.sa_data

    private NetDevices()
    {
    }

    /**
     * True if {@code name} can be an interface name for the kernel's purposes as far as length goes: 1..15 bytes of
     * UTF-8 and no NUL. (The kernel also refuses '/', ':', whitespace, "." and ".."; that is left to it.)
     */
    public static boolean fitsIfname(final String name)
    {
        if (null == name || name.isEmpty() || name.indexOf('\0') >= 0)
        {
            return false;
        }
        return name.getBytes(StandardCharsets.UTF_8).length <= MAX_NAME_BYTES;
    }

    /**
     * A zeroed {@code struct ifreq} with {@code ifr_name} set.
     *
     * @throws ErrnoException EINVAL if the name does not fit ({@link #fitsIfname}).
     */
    public static Memory ifreq(final String ifname) throws ErrnoException
    {
        if (!fitsIfname(ifname))
        {
            throw new ErrnoException("interface name '" + ifname + "' must be 1.." + MAX_NAME_BYTES + " bytes",
                Errno.EINVAL);
        }
        final Memory ifr = new Memory(LibC.IFREQ_SIZE);
        ifr.clear();
        final byte[] bytes = ifname.getBytes(StandardCharsets.UTF_8);
        ifr.write(0, bytes, 0, bytes.length);
        return ifr;
    }

    /** {@code ifr_name} of an ifreq the kernel filled in (e.g. after TUNSETIFF with a "tap%d" template). */
    public static String ifname(final Memory ifr)
    {
        final byte[] bytes = ifr.getByteArray(0, LibC.IFNAMSIZ);
        int length = 0;
        while (length < bytes.length && bytes[length] != 0)
        {
            length++;
        }
        return new String(bytes, 0, length, StandardCharsets.UTF_8);
    }

    public static int mtu(final String ifname) throws IOException
    {
        final Memory ifr = ifreq(ifname);
        ioctl(LibC.SIOCGIFMTU, ifr, "SIOCGIFMTU(" + ifname + ")");
        return ifr.getInt(MTU_OFFSET);
    }

    public static void setMtu(final String ifname, final int mtu) throws IOException
    {
        final Memory ifr = ifreq(ifname);
        ifr.setInt(MTU_OFFSET, mtu);
        ioctl(LibC.SIOCSIFMTU, ifr, "SIOCSIFMTU(" + ifname + ", " + mtu + ")");
    }

    /** The 6-byte hardware address (all zero for loopback). */
    public static byte[] macAddress(final String ifname) throws IOException
    {
        final Memory ifr = ifreq(ifname);
        ioctl(LibC.SIOCGIFHWADDR, ifr, "SIOCGIFHWADDR(" + ifname + ")");
        return ifr.getByteArray(HW_DATA_OFFSET, MAC_BYTES);
    }

    /** Sets an Ethernet device's MAC address; the kernel refuses multicast and all-zero ones (EADDRNOTAVAIL). */
    public static void setMacAddress(final String ifname, final byte[] mac) throws IOException
    {
        if (mac.length != MAC_BYTES)
        {
            throw new IllegalArgumentException("a MAC address is 6 bytes, got " + mac.length);
        }
        final Memory ifr = ifreq(ifname);
        ifr.setShort(HW_FAMILY_OFFSET, (short)LibC.ARPHRD_ETHER);
        ifr.write(HW_DATA_OFFSET, mac, 0, MAC_BYTES);
        ioctl(LibC.SIOCSIFHWADDR, ifr, "SIOCSIFHWADDR(" + ifname + ", " + formatMac(mac) + ")");
    }

    /** {@code ifr_flags} (IFF_UP, IFF_RUNNING, ...), as an unsigned 16-bit value. */
    public static int flags(final String ifname) throws IOException
    {
        final Memory ifr = ifreq(ifname);
        ioctl(LibC.SIOCGIFFLAGS, ifr, "SIOCGIFFLAGS(" + ifname + ")");
        return ifr.getShort(FLAGS_OFFSET) & 0xffff;
    }

    public static void setFlags(final String ifname, final int flags) throws IOException
    {
        final Memory ifr = ifreq(ifname);
        ifr.setShort(FLAGS_OFFSET, (short)flags);
        ioctl(LibC.SIOCSIFFLAGS, ifr, "SIOCSIFFLAGS(" + ifname + ", 0x" + Integer.toHexString(flags) + ")");
    }

    /** Read-modify-write of IFF_UP, leaving the other flags as they are ({@code ip link set IF up|down}). */
    public static void setUp(final String ifname, final boolean up) throws IOException
    {
        final int flags = flags(ifname);
        final int wanted = up ? flags | LibC.IFF_UP : flags & ~LibC.IFF_UP;
        if (wanted != flags)
        {
            setFlags(ifname, wanted);
        }
    }

    /**
     * Parses {@code aa:bb:cc:dd:ee:ff} (hex digits in either case).
     *
     * @throws IllegalArgumentException if it is not six colon-separated two-digit hex octets.
     */
    public static byte[] parseMac(final String text)
    {
        if (null == text || text.length() != 17)
        {
            throw new IllegalArgumentException("expected a MAC address like 02:00:00:00:00:01, got '" + text + "'");
        }
        final byte[] mac = new byte[MAC_BYTES];
        for (int i = 0; i < MAC_BYTES; i++)
        {
            final int at = i * 3;
            final int hi = Character.digit(text.charAt(at), 16);
            final int lo = Character.digit(text.charAt(at + 1), 16);
            if (hi < 0 || lo < 0 || (i < MAC_BYTES - 1 && text.charAt(at + 2) != ':'))
            {
                throw new IllegalArgumentException(
                    "expected a MAC address like 02:00:00:00:00:01, got '" + text + "'");
            }
            mac[i] = (byte)(hi << 4 | lo);
        }
        return mac;
    }

    /** Lower-case {@code aa:bb:cc:dd:ee:ff}. */
    public static String formatMac(final byte[] mac)
    {
        final StringBuilder sb = new StringBuilder(17);
        for (int i = 0; i < mac.length; i++)
        {
            if (i > 0)
            {
                sb.append(':');
            }
            sb.append(Character.forDigit((mac[i] >> 4) & 0xf, 16)).append(Character.forDigit(mac[i] & 0xf, 16));
        }
        return sb.toString();
    }

    private static void ioctl(final long request, final Memory ifr, final String operation) throws IOException
    {
        final int socket;
        try
        {
            socket = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException(operation + ": socket(AF_INET, SOCK_DGRAM)", ex.getErrorCode());
        }
        try
        {
            LibC.ioctl(socket, request, Pointer.nativeValue(ifr));
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException(operation, ex.getErrorCode());
        }
        finally
        {
            Fds.close(socket);
            Reference.reachabilityFence(ifr);
        }
    }
}
