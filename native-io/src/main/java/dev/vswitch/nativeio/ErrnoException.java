package dev.vswitch.nativeio;

import java.io.IOException;

/**
 * An {@link IOException} from a failed syscall that keeps the errno, so callers can branch on it (e.g. retry a
 * connect on {@link Errno#ENOENT}/{@link Errno#ECONNREFUSED}) without parsing messages.
 */
public class ErrnoException extends IOException
{
    private static final long serialVersionUID = 1L;

    private final int errno;

    /**
     * @param operation what failed, e.g. {@code "connect(/run/vhost0.sock)"}; the message appends strerror.
     */
    public ErrnoException(final String operation, final int errno)
    {
        super(operation + ": " + Errno.describe(errno));
        this.errno = errno;
    }

    public int errno()
    {
        return errno;
    }
}
