package dev.vswitch.nativeio;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * Direct-mapped (JNA {@link Native#register}) bindings for the Linux syscalls the JDK does not expose.
 * <p>
 * Direct mapping with primitive arguments is used so that a call allocates nothing on the Java heap: pointers are
 * passed as raw {@code long} addresses (LP64, so {@code long} == pointer == {@code size_t}) and the caller owns the
 * memory behind them. Methods declared {@code throws LastErrorException} have errno cleared before the call and
 * checked after it; JNA throws when it is non-zero. Use {@link Raw} where an expected error (EAGAIN on a non-blocking
 * fd) must not cost an exception.
 * <p>
 * Constants are the x86_64/aarch64 Linux values (the generic ABI); the static initialiser refuses other platforms
 * rather than silently passing wrong flags or struct layouts.
 */
public final class LibC
{
    // socket(2) / socketpair(2)
    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_NONBLOCK = 0x800;   // == O_NONBLOCK
    public static final int SOCK_CLOEXEC = 0x80000;  // == O_CLOEXEC

    // AF_INET datagram sockets: the handle netdevice(7) ioctls (SIOCSIFMTU, ...) are issued on
    public static final int AF_INET = 2;
    public static final int SOCK_DGRAM = 2;

    // netdevice(7): struct ifreq is ifr_name[IFNAMSIZ] followed by a 24-byte union (flags, mtu, hwaddr, ...)
    public static final int IFNAMSIZ = 16;
    public static final int IFREQ_SIZE = 40;
    public static final int IFREQ_UNION_OFFSET = IFNAMSIZ;
    public static final long SIOCGIFFLAGS = 0x8913;
    public static final long SIOCSIFFLAGS = 0x8914;
    public static final long SIOCGIFMTU = 0x8921;
    public static final long SIOCSIFMTU = 0x8922;
    public static final long SIOCSIFHWADDR = 0x8924;
    public static final long SIOCGIFHWADDR = 0x8927;
    /** net/if.h interface flags (ifr_flags, a short). */
    public static final int IFF_UP = 0x1;
    public static final int IFF_BROADCAST = 0x2;
    public static final int IFF_LOOPBACK = 0x8;
    public static final int IFF_RUNNING = 0x40;
    /** sa_family of ifr_hwaddr for Ethernet devices. */
    public static final int ARPHRD_ETHER = 1;
    public static final int ARPHRD_LOOPBACK = 772;

    // tun/tap (linux/if_tun.h); ioctl numbers are _IOW/_IOR('T', nr, int), the same on x86_64 and aarch64
    public static final long TUNSETIFF = 0x400454caL;
    public static final long TUNSETPERSIST = 0x400454cbL;
    public static final long TUNSETOFFLOAD = 0x400454d0L;
    public static final long TUNGETIFF = 0x800454d2L;
    public static final long TUNGETVNETHDRSZ = 0x800454d7L;
    public static final long TUNSETVNETHDRSZ = 0x400454d8L;
    /** ifr_flags for TUNSETIFF/TUNGETIFF (they share the ifreq flags field with the IFF_UP family above). */
    public static final int IFF_TUN = 0x0001;
    public static final int IFF_TAP = 0x0002;
    public static final int IFF_MULTI_QUEUE = 0x0100;
    public static final int IFF_PERSIST = 0x0800;
    public static final int IFF_NO_PI = 0x1000;
    public static final int IFF_VNET_HDR = 0x4000;
    public static final int IFF_TUN_EXCL = 0x8000;
    /** TUNSETOFFLOAD bits (an unsigned long passed by value). */
    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
    public static final int TUN_F_TSO6 = 0x04;
    public static final int TUN_F_TSO_ECN = 0x08;
    public static final int TUN_F_UFO = 0x10;

    /** struct iovec: {void *iov_base; size_t iov_len;}, 16 bytes on LP64. */
    public static final int IOVEC_SIZE = 16;

    // send/recv flags
    public static final int MSG_CTRUNC = 0x8;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int MSG_CMSG_CLOEXEC = 0x40000000;

    // ancillary data
    public static final int SOL_SOCKET = 1;
    public static final int SCM_RIGHTS = 1;

    // shutdown(2)
    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;

    // mmap(2)
    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;
    public static final int MAP_PRIVATE = 2;
    public static final long MAP_FAILED = -1L;

    // eventfd(2)
    public static final int EFD_SEMAPHORE = 1;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;

    // memfd_create(2)
    public static final int MFD_CLOEXEC = 1;
    public static final int MFD_ALLOW_SEALING = 2;

    // poll(2)
    public static final short POLLIN = 0x1;
    public static final short POLLPRI = 0x2;
    public static final short POLLOUT = 0x4;
    public static final short POLLERR = 0x8;
    public static final short POLLHUP = 0x10;
    public static final short POLLNVAL = 0x20;

    // lseek(2)
    public static final int SEEK_SET = 0;
    public static final int SEEK_CUR = 1;
    public static final int SEEK_END = 2;

    // fcntl(2) / open(2)
    public static final int F_GETFD = 1;
    public static final int F_SETFD = 2;
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int FD_CLOEXEC = 1;
    // file seals (memfd_create(2) with MFD_ALLOW_SEALING)
    public static final int F_ADD_SEALS = 1033;
    public static final int F_GET_SEALS = 1034;
    public static final int F_SEAL_SEAL = 1;
    public static final int F_SEAL_SHRINK = 2;
    public static final int F_SEAL_GROW = 4;
    public static final int F_SEAL_WRITE = 8;
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;

    // stat(2) st_mode file types, as reported by the "unix:mode" file attribute
    public static final int S_IFMT = 0xF000;
    public static final int S_IFSOCK = 0xC000;

    /** Not a compile-time constant on purpose: {@link Raw} reads it so that the platform check below runs first. */
    static final String LIBRARY = checkedLibraryName();

    static
    {
        Native.register(LibC.class, LIBRARY);
    }

    private static String checkedLibraryName()
    {
        if (!Platform.isLinux() || !Platform.is64Bit() || !(Platform.isIntel() || Platform.isARM()))
        {
            // Flag values and struct layouts hard-coded in this package are only right for LP64 x86_64/aarch64.
            throw new UnsupportedOperationException(
                "native-io supports 64-bit Linux on x86_64/aarch64 only, not " + Platform.RESOURCE_PREFIX);
        }
        return Platform.C_LIBRARY_NAME;
    }

    private LibC()
    {
    }

    // sockets
    public static native int socket(int domain, int type, int protocol) throws LastErrorException;

    /** @param sv address of an {@code int[2]} receiving the two fds. */
    public static native int socketpair(int domain, int type, int protocol, long sv) throws LastErrorException;

    public static native int bind(int fd, long addr, int addrLen) throws LastErrorException;

    public static native int listen(int fd, int backlog) throws LastErrorException;

    /** @param addr may be 0, as may {@code addrLenPtr} (address of a {@code socklen_t}). */
    public static native int accept4(int fd, long addr, long addrLenPtr, int flags) throws LastErrorException;

    public static native int connect(int fd, long addr, int addrLen) throws LastErrorException;

    public static native int shutdown(int fd, int how) throws LastErrorException;

    public static native long recv(int fd, long buf, long len, int flags) throws LastErrorException;

    public static native long send(int fd, long buf, long len, int flags) throws LastErrorException;

    public static native long recvmsg(int fd, long msghdr, int flags) throws LastErrorException;

    public static native long sendmsg(int fd, long msghdr, int flags) throws LastErrorException;

    // file descriptors
    public static native int close(int fd) throws LastErrorException;

    public static native long read(int fd, long buf, long count) throws LastErrorException;

    public static native long write(int fd, long buf, long count) throws LastErrorException;

    public static native long lseek(int fd, long offset, int whence) throws LastErrorException;

    /** @param iov address of a {@code struct iovec[iovcnt]} ({@link #IOVEC_SIZE} bytes each). */
    public static native long writev(int fd, long iov, int iovcnt) throws LastErrorException;

    /** @param iov address of a {@code struct iovec[iovcnt]} ({@link #IOVEC_SIZE} bytes each). */
    public static native long readv(int fd, long iov, int iovcnt) throws LastErrorException;

    /** @param fds address of a {@code struct pollfd[nfds]}. */
    public static native int poll(long fds, long nfds, int timeoutMillis) throws LastErrorException;

    /** Variadic in C; on LP64 an integer third argument is passed exactly like a fixed one. */
    public static native int fcntl(int fd, int cmd, long arg) throws LastErrorException;

    /** Variadic in C; see {@link #fcntl}. */
    public static native int ioctl(int fd, long request, long argp) throws LastErrorException;

    /** {@code path} is encoded with JNA's default (native) encoding, so keep it ASCII. */
    public static native int open(String path, int flags, int mode) throws LastErrorException;

    /** The same, with the path as a NUL-terminated string at a native address (no allocation per call). */
    public static native int open(long path, int flags, int mode) throws LastErrorException;

    public static native int unlink(String path) throws LastErrorException;

    public static native int ftruncate(int fd, long length) throws LastErrorException;

    // memory
    public static native long mmap(long addr, long length, int prot, int flags, int fd, long offset)
        throws LastErrorException;

    public static native int munmap(long addr, long length) throws LastErrorException;

    public static native int memfd_create(String name, int flags) throws LastErrorException;

    public static native int eventfd(int initval, int flags) throws LastErrorException;

    /** Not a syscall, but the cheapest way to get the libc message for an errno. */
    public static native String strerror(int errnum);

    /**
     * The same symbols without {@code throws LastErrorException}: they return -1 and leave errno in
     * {@link Native#getLastError()} (JNA saves it after every call). For hot paths where EAGAIN is routine and an
     * exception (with its stack trace) per call would be absurd.
     */
    public static final class Raw
    {
        static
        {
            Native.register(Raw.class, LIBRARY);
        }

        private Raw()
        {
        }

        public static native long read(int fd, long buf, long count);

        public static native long write(int fd, long buf, long count);

        public static native long writev(int fd, long iov, int iovcnt);

        public static native long readv(int fd, long iov, int iovcnt);

        public static native int poll(long fds, long nfds, int timeoutMillis);

        public static native long recv(int fd, long buf, long len, int flags);

        public static native long send(int fd, long buf, long len, int flags);
    }
}
