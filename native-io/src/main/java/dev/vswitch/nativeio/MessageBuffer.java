package dev.vswitch.nativeio;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One direction's worth of preallocated native memory for a {@link UnixSocket}: a {@code struct msghdr}, one
 * {@code struct iovec}, a control buffer big enough for {@link #MAX_FDS} fds, a {@code struct pollfd} and a data
 * staging area. Allocated once per socket so that steady-state send/receive allocates nothing.
 * <p>
 * Layouts are the LP64 Linux ones (checked by {@link LibC}'s initialiser). Not thread-safe: a socket has one for
 * receiving and one for sending so a reader and a writer thread never share one.
 */
final class MessageBuffer
{
    /** Most fds carried by one message; vhost-user sends at most 8 (SET_MEM_TABLE). */
    static final int MAX_FDS = 16;

    /** Staging area size; larger sends and reads are split, which stream sockets allow anyway. */
    static final int DATA_CAPACITY = 8192;

    // struct msghdr { void *name; socklen_t namelen; struct iovec *iov; size_t iovlen;
    //                 void *control; size_t controllen; int flags; }
    private static final int MSG_NAME = 0;
    private static final int MSG_NAMELEN = 8;
    private static final int MSG_IOV = 16;
    private static final int MSG_IOVLEN = 24;
    private static final int MSG_CONTROL = 32;
    private static final int MSG_CONTROLLEN = 40;
    private static final int MSG_FLAGS = 48;
    private static final int MSGHDR_SIZE = 56;

    // struct iovec { void *base; size_t len; }
    private static final int IOV_BASE = 0;
    private static final int IOV_LEN = 8;
    private static final int IOVEC_SIZE = 16;

    // struct cmsghdr { size_t len; int level; int type; unsigned char data[]; }, data 8-byte aligned
    private static final int CMSG_LEN = 0;
    private static final int CMSG_LEVEL = 8;
    private static final int CMSG_TYPE = 12;
    private static final int CMSG_HDR_SIZE = 16;

    // struct pollfd { int fd; short events; short revents; }
    private static final int POLL_FD = 0;
    private static final int POLL_EVENTS = 4;
    private static final int POLL_REVENTS = 6;
    private static final int POLLFD_SIZE = 8;
    /** Slot 0: the socket; slot 1: the caller's wake eventfd, or -1 (poll ignores a negative fd). */
    static final int POLLFD_COUNT = 2;

    // struct sockaddr_un { sa_family_t family; char path[108]; }
    private static final int SUN_FAMILY = 0;
    private static final int SUN_PATH = 2;
    static final int SOCKADDR_UN_SIZE = 110;

    private static final int MSGHDR_OFFSET = 0;
    private static final int IOVEC_OFFSET = MSGHDR_OFFSET + MSGHDR_SIZE;
    private static final int CONTROL_OFFSET = IOVEC_OFFSET + IOVEC_SIZE;
    private static final int CONTROL_CAPACITY = cmsgSpace(MAX_FDS * Integer.BYTES);
    private static final int POLLFD_OFFSET = CONTROL_OFFSET + CONTROL_CAPACITY;
    static final int DATA_OFFSET = POLLFD_OFFSET + POLLFD_COUNT * POLLFD_SIZE;

    /** Holds the native allocation alive; JNA frees it via a Cleaner once this buffer is unreachable. */
    private final Memory memory;
    private final long address;
    private final UnsafeBuffer buffer;

    MessageBuffer()
    {
        memory = new Memory(DATA_OFFSET + DATA_CAPACITY);
        memory.clear();
        address = Pointer.nativeValue(memory);
        buffer = new UnsafeBuffer(address, (int)memory.size());
    }

    static int cmsgSpace(final int dataLength)
    {
        return CMSG_HDR_SIZE + align8(dataLength);
    }

    private static int align8(final int value)
    {
        return (value + 7) & ~7;
    }

    /** Raw view over the whole allocation; data starts at {@link #DATA_OFFSET}. */
    UnsafeBuffer buffer()
    {
        return buffer;
    }

    long dataAddress()
    {
        return address + DATA_OFFSET;
    }

    long msghdrAddress()
    {
        return address + MSGHDR_OFFSET;
    }

    long pollfdAddress()
    {
        return address + POLLFD_OFFSET;
    }

    /**
     * Write a NUL-terminated {@code sockaddr_un} for {@code pathBytes} (at most 107 bytes, checked by the caller).
     *
     * @return the address length to pass to bind/connect: offsetof(sun_path) + strlen + 1.
     */
    static int putSockaddr(final UnsafeBuffer buffer, final int offset, final byte[] pathBytes)
    {
        buffer.setMemory(offset, SOCKADDR_UN_SIZE, (byte)0);
        buffer.putShort(offset + SUN_FAMILY, (short)LibC.AF_UNIX);
        buffer.putBytes(offset + SUN_PATH, pathBytes);
        return SUN_PATH + pathBytes.length + 1;
    }

    /** Stage a {@code sockaddr_un} in the data area; see {@link #dataAddress()}. */
    int putSockaddr(final byte[] pathBytes)
    {
        return putSockaddr(buffer, DATA_OFFSET, pathBytes);
    }

    /** Fill msghdr for a recvmsg of up to {@code length} data bytes with room for {@link #MAX_FDS} fds. */
    void prepareReceive(final int length)
    {
        prepare(length, CONTROL_CAPACITY);
        // Zeroing the first header means a kernel that writes no control data leaves nothing for us to misparse.
        buffer.putLong(CONTROL_OFFSET + CMSG_LEN, 0);
    }

    /** Fill msghdr and a single SCM_RIGHTS cmsghdr for a sendmsg of {@code length} staged data bytes. */
    void prepareSend(final int length, final int[] fds, final int fdCount)
    {
        final int fdBytes = fdCount * Integer.BYTES;
        prepare(length, cmsgSpace(fdBytes));
        buffer.putLong(CONTROL_OFFSET + CMSG_LEN, CMSG_HDR_SIZE + fdBytes); // CMSG_LEN(): no trailing padding
        buffer.putInt(CONTROL_OFFSET + CMSG_LEVEL, LibC.SOL_SOCKET);
        buffer.putInt(CONTROL_OFFSET + CMSG_TYPE, LibC.SCM_RIGHTS);
        for (int i = 0; i < fdCount; i++)
        {
            buffer.putInt(CONTROL_OFFSET + CMSG_HDR_SIZE + i * Integer.BYTES, fds[i]);
        }
    }

    private void prepare(final int length, final int controlLength)
    {
        buffer.putLong(IOVEC_OFFSET + IOV_BASE, address + DATA_OFFSET);
        buffer.putLong(IOVEC_OFFSET + IOV_LEN, length);
        buffer.putLong(MSGHDR_OFFSET + MSG_NAME, 0);
        buffer.putInt(MSGHDR_OFFSET + MSG_NAMELEN, 0);
        buffer.putLong(MSGHDR_OFFSET + MSG_IOV, address + IOVEC_OFFSET);
        buffer.putLong(MSGHDR_OFFSET + MSG_IOVLEN, 1);
        buffer.putLong(MSGHDR_OFFSET + MSG_CONTROL, 0 == controlLength ? 0 : address + CONTROL_OFFSET);
        buffer.putLong(MSGHDR_OFFSET + MSG_CONTROLLEN, controlLength);
        buffer.putInt(MSGHDR_OFFSET + MSG_FLAGS, 0);
    }

    /** msg_flags as returned by recvmsg, e.g. {@link LibC#MSG_CTRUNC}. */
    int receivedFlags()
    {
        return buffer.getInt(MSGHDR_OFFSET + MSG_FLAGS);
    }

    /**
     * Walk the control data a recvmsg returned (CMSG_FIRSTHDR/CMSG_NXTHDR) and hand every SCM_RIGHTS fd over:
     * the first {@code fdsOut.length} go into {@code fdsOut}, the rest are closed so they cannot leak.
     *
     * @param fdsOut may be null, meaning close them all.
     * @return number of fds stored in {@code fdsOut}.
     */
    int takeFds(final int[] fdsOut)
    {
        final int limit = null == fdsOut ? 0 : fdsOut.length;
        final long controlLength = Math.min(buffer.getLong(MSGHDR_OFFSET + MSG_CONTROLLEN), CONTROL_CAPACITY);
        int stored = 0;
        long pos = 0;
        while (pos + CMSG_HDR_SIZE <= controlLength)
        {
            final int header = CONTROL_OFFSET + (int)pos;
            final long cmsgLength = buffer.getLong(header + CMSG_LEN);
            if (cmsgLength < CMSG_HDR_SIZE || pos + cmsgLength > controlLength)
            {
                break; // malformed or truncated header: nothing sane left to parse
            }
            if (buffer.getInt(header + CMSG_LEVEL) == LibC.SOL_SOCKET &&
                buffer.getInt(header + CMSG_TYPE) == LibC.SCM_RIGHTS)
            {
                final int count = (int)((cmsgLength - CMSG_HDR_SIZE) / Integer.BYTES);
                for (int i = 0; i < count; i++)
                {
                    final int fd = buffer.getInt(header + CMSG_HDR_SIZE + i * Integer.BYTES);
                    if (stored < limit)
                    {
                        fdsOut[stored++] = fd;
                    }
                    else
                    {
                        Fds.close(fd);
                    }
                }
            }
            pos += align8((int)cmsgLength);
        }
        return stored;
    }

    /** Set up the pollfd for a single fd. */
    void preparePoll(final int slot, final int fd, final short events)
    {
        final int at = POLLFD_OFFSET + slot * POLLFD_SIZE;
        buffer.putInt(at + POLL_FD, fd);
        buffer.putShort(at + POLL_EVENTS, events);
        buffer.putShort(at + POLL_REVENTS, (short)0);
    }

    short polledEvents(final int slot)
    {
        return buffer.getShort(POLLFD_OFFSET + slot * POLLFD_SIZE + POLL_REVENTS);
    }
}
