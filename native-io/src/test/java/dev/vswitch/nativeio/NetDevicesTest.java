package dev.vswitch.nativeio;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.*;

/** Real kernel, no mocks: reads "lo" and changes a throw-away tap that exists only while the test holds its fd. */
class NetDevicesTest
{
    private static String sys(final String ifname, final String attribute) throws IOException
    {
        return Files.readString(Path.of("/sys/class/net", ifname, attribute)).trim();
    }

    @Test
    void readsLoopback() throws IOException
    {
        assertEquals(Integer.parseInt(sys("lo", "mtu")), NetDevices.mtu("lo"));
        // SIOCGIFFLAGS adds the operational bits (IFF_RUNNING, ...) that /sys/class/net/IF/flags leaves out
        final int mask = LibC.IFF_UP | LibC.IFF_LOOPBACK;
        assertEquals(Integer.decode(sys("lo", "flags")) & mask, NetDevices.flags("lo") & mask);
        assertEquals(LibC.IFF_LOOPBACK, NetDevices.flags("lo") & LibC.IFF_LOOPBACK);
        assertArrayEquals(new byte[6], NetDevices.macAddress("lo"));
    }

    @Test
    void unknownOrInvalidNamesFailWithErrnoAndLeakNoFd() throws IOException
    {
        NetDevices.mtu("lo");   // JNA's one-time native setup opens fds of its own: not what is counted here
        final int before = FdAssert.stableOpenCount();
        final ErrnoException missing = assertThrows(ErrnoException.class, () -> NetDevices.mtu("vswt-nosuchif"));
        assertEquals(Errno.ENODEV, missing.errno());
        assertTrue(missing.getMessage().startsWith("SIOCGIFMTU(vswt-nosuchif): "), missing.getMessage());
        final ErrnoException tooLong = assertThrows(ErrnoException.class, () -> NetDevices.mtu("sixteen-chars-xx"));
        assertEquals(Errno.EINVAL, tooLong.errno());
        assertThrows(ErrnoException.class, () -> NetDevices.mtu(""));
        FdAssert.assertOpenCount(before, "open fds");
    }

    @Test
    void macAddressesParseAndFormat()
    {
        assertArrayEquals(new byte[]{ 2, 0, (byte)0xab, (byte)0xCD, 0x10, (byte)0xff },
            NetDevices.parseMac("02:00:ab:CD:10:ff"));
        assertEquals("02:00:ab:cd:10:ff", NetDevices.formatMac(NetDevices.parseMac("02:00:AB:cd:10:FF")));
        assertThrows(IllegalArgumentException.class, () -> NetDevices.parseMac("02:00:ab:cd:10"));
        assertThrows(IllegalArgumentException.class, () -> NetDevices.parseMac("02-00-ab-cd-10-ff"));
        assertThrows(IllegalArgumentException.class, () -> NetDevices.parseMac("0g:00:ab:cd:10:ff"));
        assertThrows(IllegalArgumentException.class, () -> NetDevices.parseMac(null));
        assertTrue(NetDevices.fitsIfname("abcdefghijklmno"));
        assertFalse(NetDevices.fitsIfname("abcdefghijklmnop"));
        assertFalse(NetDevices.fitsIfname("a\0b"));
    }

    /** Creates a tap with the TUN constants added to LibC, then sets MTU, MAC and IFF_UP on it like `ip link`. */
    @Test
    void setsMtuMacAndFlagsOfATap() throws IOException
    {
        final String ifname = "vswn" + ThreadLocalRandom.current().nextInt(100_000, 1_000_000);
        final int fd = LibC.open("/dev/net/tun", LibC.O_RDWR | LibC.O_CLOEXEC | LibC.O_NONBLOCK, 0);
        try
        {
            final Memory ifr = NetDevices.ifreq(ifname);
            ifr.setShort(LibC.IFREQ_UNION_OFFSET, (short)(LibC.IFF_TAP | LibC.IFF_NO_PI | LibC.IFF_VNET_HDR));
            LibC.ioctl(fd, LibC.TUNSETIFF, Pointer.nativeValue(ifr));
            assertEquals(ifname, NetDevices.ifname(ifr));
            final Memory hdr = new Memory(4);
            hdr.setInt(0, 12);
            LibC.ioctl(fd, LibC.TUNSETVNETHDRSZ, Pointer.nativeValue(hdr));
            hdr.setInt(0, 0);
            LibC.ioctl(fd, LibC.TUNGETVNETHDRSZ, Pointer.nativeValue(hdr));
            assertEquals(12, hdr.getInt(0));
            LibC.ioctl(fd, LibC.TUNSETOFFLOAD, 0);
            final Memory got = new Memory(LibC.IFREQ_SIZE);
            got.clear();
            LibC.ioctl(fd, LibC.TUNGETIFF, Pointer.nativeValue(got));
            assertEquals(LibC.IFF_TAP | LibC.IFF_NO_PI | LibC.IFF_VNET_HDR,
                got.getShort(LibC.IFREQ_UNION_OFFSET) & (LibC.IFF_TAP | LibC.IFF_NO_PI | LibC.IFF_VNET_HDR));

            NetDevices.setMtu(ifname, 1400);
            assertEquals(1400, NetDevices.mtu(ifname));
            assertEquals("1400", sys(ifname, "mtu"));

            NetDevices.setMacAddress(ifname, NetDevices.parseMac("02:00:00:00:77:01"));
            assertEquals("02:00:00:00:77:01", NetDevices.formatMac(NetDevices.macAddress(ifname)));
            assertEquals("02:00:00:00:77:01", sys(ifname, "address"));
            final ErrnoException multicast = assertThrows(ErrnoException.class,
                () -> NetDevices.setMacAddress(ifname, NetDevices.parseMac("01:00:5e:00:00:01")));
            assertEquals(Errno.EADDRNOTAVAIL, multicast.errno());

            assertEquals(0, NetDevices.flags(ifname) & LibC.IFF_UP);
            NetDevices.setUp(ifname, true);
            assertEquals(LibC.IFF_UP, NetDevices.flags(ifname) & LibC.IFF_UP);
            assertEquals(LibC.IFF_UP, Integer.decode(sys(ifname, "flags")) & LibC.IFF_UP);
            NetDevices.setUp(ifname, false);
            assertEquals(0, NetDevices.flags(ifname) & LibC.IFF_UP);

            final ErrnoException badMtu = assertThrows(ErrnoException.class, () -> NetDevices.setMtu(ifname, 20));
            assertEquals(Errno.EINVAL, badMtu.errno());
        }
        catch (final LastErrorException ex)
        {
            fail("tun ioctl failed: " + Errno.describe(ex.getErrorCode()));
        }
        finally
        {
            Fds.close(fd); // non-persistent: the kernel deletes the interface with its last fd
        }
        final long deadline = System.nanoTime() + 5_000_000_000L;
        while (Files.exists(Path.of("/sys/class/net", ifname)) && System.nanoTime() < deadline)
        {
            Thread.onSpinWait();
        }
        assertFalse(Files.exists(Path.of("/sys/class/net", ifname)), ifname + " outlived its fd");
    }
}
