package dev.vswitch.nativeio;

import com.sun.jna.Native;

/**
 * errno values (Linux generic ABI) and human-readable descriptions for exception messages.
 */
public final class Errno
{
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int EWOULDBLOCK = EAGAIN;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int ENOTDIR = 20;
    public static final int EISDIR = 21;
    public static final int EINVAL = 22;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int ENOSPC = 28;
    public static final int ESPIPE = 29;
    public static final int EPIPE = 32;
    public static final int ENAMETOOLONG = 36;
    public static final int EBADFD = 77;
    public static final int ENOTSOCK = 88;
    public static final int EOPNOTSUPP = 95;
    public static final int EADDRINUSE = 98;
    public static final int EADDRNOTAVAIL = 99;
    public static final int ECONNABORTED = 103;
    public static final int ECONNRESET = 104;
    public static final int ENOBUFS = 105;
    public static final int EISCONN = 106;
    public static final int ENOTCONN = 107;
    public static final int ETIMEDOUT = 110;
    public static final int ECONNREFUSED = 111;
    public static final int EALREADY = 114;
    public static final int EINPROGRESS = 115;

    private static final String[] NAMES = new String[128];

    static
    {
        // Symbolic names make logs greppable and match what people search for; strerror text alone does not.
        name(EPERM, "EPERM");
        name(ENOENT, "ENOENT");
        name(EINTR, "EINTR");
        name(EIO, "EIO");
        name(ENXIO, "ENXIO");
        name(EBADF, "EBADF");
        name(EAGAIN, "EAGAIN");
        name(ENOMEM, "ENOMEM");
        name(EACCES, "EACCES");
        name(EFAULT, "EFAULT");
        name(EBUSY, "EBUSY");
        name(EEXIST, "EEXIST");
        name(ENODEV, "ENODEV");
        name(ENOTDIR, "ENOTDIR");
        name(EISDIR, "EISDIR");
        name(EINVAL, "EINVAL");
        name(ENFILE, "ENFILE");
        name(EMFILE, "EMFILE");
        name(ENOSPC, "ENOSPC");
        name(ESPIPE, "ESPIPE");
        name(EPIPE, "EPIPE");
        name(ENAMETOOLONG, "ENAMETOOLONG");
        name(EBADFD, "EBADFD");
        name(ENOTSOCK, "ENOTSOCK");
        name(EOPNOTSUPP, "EOPNOTSUPP");
        name(EADDRINUSE, "EADDRINUSE");
        name(EADDRNOTAVAIL, "EADDRNOTAVAIL");
        name(ECONNABORTED, "ECONNABORTED");
        name(ECONNRESET, "ECONNRESET");
        name(ENOBUFS, "ENOBUFS");
        name(EISCONN, "EISCONN");
        name(ENOTCONN, "ENOTCONN");
        name(ETIMEDOUT, "ETIMEDOUT");
        name(ECONNREFUSED, "ECONNREFUSED");
        name(EALREADY, "EALREADY");
        name(EINPROGRESS, "EINPROGRESS");
    }

    private Errno()
    {
    }

    private static void name(final int errno, final String name)
    {
        NAMES[errno] = name;
    }

    /**
     * @return e.g. {@code "No such file or directory (ENOENT)"}, or {@code "... (errno 200)"} for unnamed values.
     */
    public static String describe(final int errno)
    {
        String text;
        try
        {
            text = LibC.strerror(errno);
        }
        catch (final RuntimeException | LinkageError ex)
        {
            text = null; // never let error reporting itself fail
        }
        if (null == text || text.isEmpty())
        {
            text = "Unknown error " + errno;
        }
        final String name = errno > 0 && errno < NAMES.length ? NAMES[errno] : null;
        return text + " (" + (null != name ? name : "errno " + errno) + ")";
    }

    /**
     * errno saved by JNA after the last native call on this thread; meaningful right after a {@link LibC.Raw}
     * call returned -1.
     */
    public static int last()
    {
        return Native.getLastError();
    }
}
