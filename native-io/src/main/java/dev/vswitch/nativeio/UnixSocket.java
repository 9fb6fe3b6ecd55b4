package dev.vswitch.nativeio;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.EOFException;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A blocking AF_UNIX SOCK_STREAM socket (always CLOEXEC) that can pass fds with SCM_RIGHTS, which the JDK's
 * {@code UnixDomainSocketAddress} channels cannot. This is the vhost-user control channel.
 * <p>
 * Threading: one thread may receive (receive/receiveFully/awaitReadable/accept) while another sends, because each
 * direction has its own preallocated {@link MessageBuffer}; two concurrent receivers or two concurrent senders are
 * not supported. Use {@link #shutdown()} to wake a thread blocked in a receive before {@link #close()}.
 */
public final class UnixSocket implements AutoCloseable
{
    /** sizeof(sun_path) - 1 for the terminating NUL. */
    public static final int MAX_PATH_BYTES = MessageBuffer.SOCKADDR_UN_SIZE - 3;
    public static final int LISTEN_BACKLOG = 8;
    /** Most fds one {@link #receive} or {@link #sendWithFds} can carry. */
    public static final int MAX_FDS = MessageBuffer.MAX_FDS;

    private static final int SOCKET_TYPE = LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC;

    private final int fd;
    private final Path path;
    private final MessageBuffer rx = new MessageBuffer();
    private final MessageBuffer tx = new MessageBuffer();
    private volatile boolean closed;

    private UnixSocket(final int fd, final Path path)
    {
        this.fd = fd;
        this.path = path;
    }

    /**
     * Bind and listen on {@code path}. A socket file left behind by a dead listener is removed first; a live listener
     * (one that accepts a probe connection) is left alone and reported as EADDRINUSE. Non-socket files are never
     * removed, so bind fails on them.
     */
    public static UnixSocket listen(final Path path) throws IOException
    {
        final byte[] pathBytes = pathBytes(path);
        removeStaleSocket(path, pathBytes);
        final UnixSocket socket = new UnixSocket(newSocket("listen(" + path + ")"), path);
        try
        {
            final int addrLen = socket.tx.putSockaddr(pathBytes);
            try
            {
                LibC.bind(socket.fd, socket.tx.dataAddress(), addrLen);
            }
            catch (final LastErrorException ex)
            {
                throw new ErrnoException("bind(" + path + ")", ex.getErrorCode());
            }
            try
            {
                LibC.listen(socket.fd, LISTEN_BACKLOG);
            }
            catch (final LastErrorException ex)
            {
                throw new ErrnoException("listen(" + path + ")", ex.getErrorCode());
            }
            return socket;
        }
        catch (final IOException | RuntimeException ex)
        {
            socket.close();
            throw ex;
        }
    }

    /**
     * Connect to a listener at {@code path}.
     *
     * @throws ErrnoException with errno ENOENT or ECONNREFUSED if nobody listens there (yet), so callers can retry.
     */
    public static UnixSocket connect(final Path path) throws IOException
    {
        final byte[] pathBytes = pathBytes(path);
        final UnixSocket socket = new UnixSocket(newSocket("connect(" + path + ")"), path);
        try
        {
            final int addrLen = socket.tx.putSockaddr(pathBytes);
            while (true)
            {
                try
                {
                    LibC.connect(socket.fd, socket.tx.dataAddress(), addrLen);
                    return socket;
                }
                catch (final LastErrorException ex)
                {
                    final int errno = ex.getErrorCode();
                    if (Errno.EISCONN == errno)
                    {
                        return socket; // an EINTR-interrupted attempt completed in the background
                    }
                    if (Errno.EINTR != errno)
                    {
                        throw new ErrnoException("connect(" + path + ")", errno);
                    }
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            socket.close();
            throw ex;
        }
    }

    /** A connected pair from socketpair(2): both ends in one process, for tests and in-process front ends. */
    public static UnixSocket[] pair() throws IOException
    {
        final Memory sv = new Memory(2 * Integer.BYTES);
        try
        {
            LibC.socketpair(LibC.AF_UNIX, SOCKET_TYPE, 0, Pointer.nativeValue(sv));
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException("socketpair", ex.getErrorCode());
        }
        return new UnixSocket[]{ new UnixSocket(sv.getInt(0), null), new UnixSocket(sv.getInt(Integer.BYTES), null) };
    }

    /** Block until a peer connects to this listening socket. */
    public UnixSocket accept() throws IOException
    {
        final int listenFd = checkOpen();
        while (true)
        {
            try
            {
                return new UnixSocket(LibC.accept4(listenFd, 0, 0, LibC.SOCK_CLOEXEC), null);
            }
            catch (final LastErrorException ex)
            {
                final int errno = ex.getErrorCode();
                // ECONNABORTED: the peer gave up while queued; just wait for the next one.
                if (Errno.EINTR != errno && Errno.ECONNABORTED != errno)
                {
                    throw new ErrnoException("accept(" + describe() + ")", errno);
                }
            }
        }
    }

    /**
     * Wait until a receive would not block.
     *
     * @param timeoutMillis negative waits forever.
     * @return true if data is readable or the peer hung up/errored (the next receive then reports EOF or the error),
     * false on timeout.
     */
    public boolean awaitReadable(final int timeoutMillis) throws IOException
    {
        return awaitReadable(timeoutMillis, -1);
    }

    /**
     * Wait until a receive would not block, the timeout passes, or {@code wakeFd} (an eventfd another thread signals
     * to interrupt the wait, -1 for none) becomes readable. Reads nothing from {@code wakeFd}: the caller drains it.
     * It lets a control thread sleep for as long as it has nothing to do and still stop, or act, at once when told.
     *
     * @param timeoutMillis negative waits forever.
     * @return true if data is readable or the peer hung up/errored (the next receive then reports EOF or the error),
     * false on timeout or wake-up.
     */
    public boolean awaitReadable(final int timeoutMillis, final int wakeFd) throws IOException
    {
        final int socketFd = checkOpen();
        final long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        int remaining = timeoutMillis;
        try
        {
            while (true)
            {
                rx.preparePoll(0, socketFd, (short)(LibC.POLLIN | LibC.POLLHUP | LibC.POLLERR));
                rx.preparePoll(1, wakeFd, LibC.POLLIN);
                final int ready = LibC.Raw.poll(rx.pollfdAddress(), MessageBuffer.POLLFD_COUNT, remaining);
                if (ready > 0)
                {
                    final short events = rx.polledEvents(0);
                    if ((events & LibC.POLLNVAL) != 0 || (rx.polledEvents(1) & LibC.POLLNVAL) != 0)
                    {
                        throw new ErrnoException("poll(" + describe() + ((events & LibC.POLLNVAL) != 0 ? "" :
                            ", wake fd " + wakeFd) + ")", Errno.EBADF);
                    }
                    return events != 0;
                }
                if (0 == ready)
                {
                    return false;
                }
                final int errno = Errno.last();
                if (Errno.EINTR != errno)
                {
                    throw new ErrnoException("poll(" + describe() + ")", errno);
                }
                if (timeoutMillis >= 0)
                {
                    remaining = (int)Math.max(0, (deadline - System.nanoTime()) / 1_000_000L);
                }
            }
        }
        finally
        {
            Reference.reachabilityFence(this); // rx's memory must outlive the native call
        }
    }

    /**
     * One recvmsg(MSG_CMSG_CLOEXEC) of up to {@code len} bytes (fewer if more than the internal staging size),
     * collecting up to {@link #MAX_FDS} SCM_RIGHTS fds. Fds that do not fit in {@code fdsOut} are closed.
     *
     * @param fdsOut     receives fds; may be null to close them all.
     * @param fdCountOut if non-null, element 0 is set to the number of fds stored in {@code fdsOut}.
     * @return bytes read, 0 when the peer has closed.
     * @throws IOException on error, or if control data was truncated (more than {@link #MAX_FDS} fds, or the fd
     *                     limit was hit): fds were lost, so the stream cannot be trusted any more.
     */
    public int receive(final byte[] buf, final int off, final int len, final int[] fdsOut, final int[] fdCountOut)
        throws IOException
    {
        Objects.checkFromIndexSize(off, len, buf.length);
        if (0 == len)
        {
            throw new IllegalArgumentException("len must be positive: a 0-byte read is indistinguishable from EOF");
        }
        final int socketFd = checkOpen();
        final int chunk = Math.min(len, MessageBuffer.DATA_CAPACITY);
        try
        {
            long bytes;
            while (true)
            {
                rx.prepareReceive(chunk);
                try
                {
                    bytes = LibC.recvmsg(socketFd, rx.msghdrAddress(), LibC.MSG_CMSG_CLOEXEC);
                    break;
                }
                catch (final LastErrorException ex)
                {
                    if (Errno.EINTR != ex.getErrorCode())
                    {
                        throw new ErrnoException("recvmsg(" + describe() + ")", ex.getErrorCode());
                    }
                }
            }

            final int fdCount = rx.takeFds(fdsOut);
            if ((rx.receivedFlags() & LibC.MSG_CTRUNC) != 0)
            {
                for (int i = 0; i < fdCount; i++)
                {
                    Fds.close(fdsOut[i]);
                }
                throw new IOException("recvmsg(" + describe() + "): control data truncated (MSG_CTRUNC), fds lost:" +
                    " peer sent more than " + MAX_FDS + " fds or the process hit its fd limit");
            }
            if (null != fdCountOut)
            {
                fdCountOut[0] = fdCount;
            }
            rx.buffer().getBytes(MessageBuffer.DATA_OFFSET, buf, off, (int)bytes);
            return (int)bytes;
        }
        finally
        {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Read exactly {@code len} bytes. Fds arriving meanwhile are closed.
     *
     * @throws EOFException if the peer closes first.
     */
    public void receiveFully(final byte[] buf, final int off, final int len) throws IOException
    {
        Objects.checkFromIndexSize(off, len, buf.length);
        int done = 0;
        while (done < len)
        {
            final int bytes = receive(buf, off + done, len - done, null, null);
            if (0 == bytes)
            {
                throw new EOFException(
                    "peer closed " + describe() + " after " + done + " of " + len + " expected bytes");
            }
            done += bytes;
        }
    }

    /**
     * Send all of {@code len} bytes, looping over partial writes. MSG_NOSIGNAL turns a dead peer into an EPIPE
     * {@link ErrnoException} instead of a process-killing SIGPIPE.
     */
    public void send(final byte[] buf, final int off, final int len) throws IOException
    {
        Objects.checkFromIndexSize(off, len, buf.length);
        final int socketFd = checkOpen();
        final UnsafeBuffer staging = tx.buffer();
        int done = 0;
        try
        {
            while (done < len)
            {
                final int chunk = Math.min(len - done, MessageBuffer.DATA_CAPACITY);
                staging.putBytes(MessageBuffer.DATA_OFFSET, buf, off + done, chunk);
                try
                {
                    done += (int)LibC.send(socketFd, tx.dataAddress(), chunk, LibC.MSG_NOSIGNAL);
                }
                catch (final LastErrorException ex)
                {
                    if (Errno.EINTR != ex.getErrorCode())
                    {
                        throw new ErrnoException("send(" + describe() + ")", ex.getErrorCode());
                    }
                }
            }
        }
        finally
        {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Send {@code len} bytes with {@code fds[0..fdCount)} attached as SCM_RIGHTS to the first byte, in one sendmsg
     * (any remainder that the kernel did not take, or beyond the staging size, follows via {@link #send}). The fds
     * stay open here; the receiver gets duplicates.
     */
    public void sendWithFds(final byte[] buf, final int off, final int len, final int[] fds, final int fdCount)
        throws IOException
    {
        Objects.checkFromIndexSize(off, len, buf.length);
        if (0 == fdCount)
        {
            send(buf, off, len);
            return;
        }
        Objects.checkFromIndexSize(0, fdCount, fds.length);
        if (fdCount > MAX_FDS)
        {
            throw new IllegalArgumentException("at most " + MAX_FDS + " fds per message, got " + fdCount);
        }
        if (0 == len)
        {
            throw new IllegalArgumentException("fds need at least one data byte to travel with on a stream socket");
        }
        final int socketFd = checkOpen();
        final int chunk = Math.min(len, MessageBuffer.DATA_CAPACITY);
        int sent;
        try
        {
            tx.buffer().putBytes(MessageBuffer.DATA_OFFSET, buf, off, chunk);
            while (true)
            {
                tx.prepareSend(chunk, fds, fdCount);
                try
                {
                    sent = (int)LibC.sendmsg(socketFd, tx.msghdrAddress(), LibC.MSG_NOSIGNAL);
                    break;
                }
                catch (final LastErrorException ex)
                {
                    if (Errno.EINTR != ex.getErrorCode()) // EINTR means nothing, fds included, was sent
                    {
                        throw new ErrnoException("sendmsg(" + describe() + ")", ex.getErrorCode());
                    }
                }
            }
        }
        finally
        {
            Reference.reachabilityFence(this);
        }
        if (sent < len)
        {
            send(buf, off + sent, len - sent);
        }
    }

    /** shutdown(SHUT_RDWR): wakes blocked receivers (they see EOF) and tells the peer; errors are ignored. */
    public void shutdown()
    {
        if (!closed)
        {
            try
            {
                LibC.shutdown(fd, LibC.SHUT_RDWR);
            }
            catch (final LastErrorException ignore)
            {
                // ENOTCONN for a listener or an already-reset connection: nothing to undo.
            }
        }
    }

    /** @return the fd, or -1 once closed so a stale number is never handed out. */
    public int fd()
    {
        return closed ? -1 : fd;
    }

    /**
     * Close the fd; safe to call more than once. Does not unlink a listener's path, so a restarted process can tell
     * a stale file (connect refused) from a live one. The native buffers are freed by the GC, not here, so a racing
     * call on another thread can never touch freed memory.
     */
    @Override
    public void close()
    {
        if (!closed)
        {
            synchronized (this)
            {
                if (closed)
                {
                    return;
                }
                closed = true;
            }
            Fds.close(fd);
        }
    }

    @Override
    public String toString()
    {
        return describe();
    }

    private String describe()
    {
        return "unix socket fd " + fd + (null != path ? " " + path : "");
    }

    private int checkOpen() throws IOException
    {
        if (closed)
        {
            throw new IOException(describe() + " is closed");
        }
        return fd;
    }

    private static int newSocket(final String operation) throws IOException
    {
        try
        {
            return LibC.socket(LibC.AF_UNIX, SOCKET_TYPE, 0);
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException(operation + ": socket", ex.getErrorCode());
        }
    }

    private static byte[] pathBytes(final Path path) throws IOException
    {
        final byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length > MAX_PATH_BYTES)
        {
            throw new IOException("unix socket path must be 1.." + MAX_PATH_BYTES + " bytes (sun_path limit), " +
                "got " + bytes.length + ": " + path);
        }
        return bytes;
    }

    /**
     * Remove {@code path} only if it is a socket nobody is listening on. The liveness probe uses a non-blocking
     * connect so a listener with a full backlog (EAGAIN) counts as live instead of hanging us.
     */
    private static void removeStaleSocket(final Path path, final byte[] pathBytes) throws IOException
    {
        final int mode;
        try
        {
            mode = (Integer)Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        }
        catch (final NoSuchFileException ex)
        {
            return;
        }
        if ((mode & LibC.S_IFMT) != LibC.S_IFSOCK)
        {
            return; // not ours to delete; bind will report EADDRINUSE
        }

        final int probeFd;
        try
        {
            probeFd = LibC.socket(LibC.AF_UNIX, SOCKET_TYPE | LibC.SOCK_NONBLOCK, 0);
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException("listen(" + path + "): probe socket", ex.getErrorCode());
        }
        final Memory addr = new Memory(MessageBuffer.SOCKADDR_UN_SIZE);
        final int addrLen = MessageBuffer.putSockaddr(
            new UnsafeBuffer(Pointer.nativeValue(addr), MessageBuffer.SOCKADDR_UN_SIZE), 0, pathBytes);
        int errno = 0;
        try
        {
            LibC.connect(probeFd, Pointer.nativeValue(addr), addrLen);
        }
        catch (final LastErrorException ex)
        {
            errno = ex.getErrorCode();
        }
        finally
        {
            Fds.close(probeFd);
            Reference.reachabilityFence(addr);
        }
        if (0 == errno || Errno.EAGAIN == errno || Errno.EINPROGRESS == errno)
        {
            throw new ErrnoException("listen(" + path + "): a live listener owns this socket", Errno.EADDRINUSE);
        }
        Files.deleteIfExists(path);
    }
}
