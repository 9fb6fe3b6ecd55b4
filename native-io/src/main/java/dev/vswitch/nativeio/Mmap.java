package dev.vswitch.nativeio;

import com.sun.jna.LastErrorException;

import java.io.IOException;

/**
 * Shared mappings of fds, e.g. guest memory regions a vhost-user front end hands over, and memfds to build such
 * memory in tests. Addresses are raw longs for use with Agrona's {@code UnsafeBuffer}.
 */
public final class Mmap
{
    private Mmap()
    {
    }

    /**
     * {@code mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)}. The mapping keeps the file alive, so the
     * fd may be closed afterwards.
     *
     * @return address of the mapping, never {@link LibC#MAP_FAILED}.
     */
    public static long map(final int fd, final long length) throws IOException
    {
        if (length <= 0)
        {
            throw new IllegalArgumentException("mmap length must be positive: " + length);
        }
        try
        {
            final long address = LibC.mmap(0, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
            if (LibC.MAP_FAILED == address)
            {
                throw new ErrnoException("mmap(fd " + fd + ", " + length + ")", Errno.last());
            }
            return address;
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException("mmap(fd " + fd + ", " + length + ")", ex.getErrorCode());
        }
    }

    /**
     * Release a mapping from {@link #map}. Errors (only possible for arguments that were never a mapping) are ignored
     * because this runs on teardown paths where throwing would hide the original problem.
     */
    public static void unmap(final long address, final long length)
    {
        if (0 == address || LibC.MAP_FAILED == address || length <= 0)
        {
            return;
        }
        try
        {
            LibC.munmap(address, length);
        }
        catch (final LastErrorException ignore)
        {
        }
    }

    /**
     * Anonymous shared memory: {@code memfd_create(name, MFD_CLOEXEC)} sized with {@code ftruncate}. Shows up in
     * {@code /proc/self/maps} as {@code /memfd:name} once mapped.
     *
     * @return the fd; the caller owns it.
     */
    public static int memfd(final String name, final long size) throws IOException
    {
        final int fd;
        try
        {
            fd = LibC.memfd_create(name, LibC.MFD_CLOEXEC);
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException("memfd_create(" + name + ")", ex.getErrorCode());
        }
        try
        {
            LibC.ftruncate(fd, size);
        }
        catch (final LastErrorException ex)
        {
            Fds.close(fd);
            throw new ErrnoException("ftruncate(memfd " + name + ", " + size + ")", ex.getErrorCode());
        }
        return fd;
    }
}
