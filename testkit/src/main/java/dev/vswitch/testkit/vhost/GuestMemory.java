package dev.vswitch.testkit.vhost;

import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.LibC;
import dev.vswitch.nativeio.Mmap;
import org.agrona.UnsafeAccess;
import sun.misc.Unsafe;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;

/**
 * A fake guest's RAM for tests: one memfd of {@code size} bytes, mapped shared into this process, that the guest
 * "sees" at guest-physical address {@link #gpa()} and that its (fake) front-end process has at user virtual address
 * {@link #uva()}. gpa, uva and the real host address are three different numbers on purpose, so a test notices when
 * code mixes them up.
 * <p>
 * A bump allocator hands out aligned pieces of the region (rings, buffers); nothing is ever returned to it. All
 * multi-byte accessors are little-endian (virtio 1.x byte order; the tests only run on x86_64/aarch64 Linux).
 * <p>
 * The memfd stays open until {@link #close()}; {@link #fd()} is owned by this object (sending it with SCM_RIGHTS
 * passes a copy). {@link #dupFd()} returns a fresh fd to the same memory for APIs that take ownership, such as
 * the switch's guest memory table (vhost-port's tests build one over this memory).
 */
public final class GuestMemory implements AutoCloseable
{
    public static final long DEFAULT_GPA = 0x1_0000_0000L;
    public static final long DEFAULT_UVA = 0x7f00_0000_0000L;

    private static final Unsafe U = UnsafeAccess.UNSAFE;

    static
    {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
        {
            throw new IllegalStateException("virtio test support assumes a little-endian host");
        }
    }

    private final long size;
    private final long gpa;
    private final long uva;
    private final int fd;
    private final long host;
    private long next;   // offset of the next free byte
    private boolean closed;

    private GuestMemory(final String name, final long size, final long gpa, final long uva) throws IOException
    {
        this(name, size, gpa, uva, false);
    }

    private GuestMemory(final String name, final long size, final long gpa, final long uva, final boolean sealable)
        throws IOException
    {
        if (size <= 0)
        {
            throw new IllegalArgumentException("size " + size);
        }
        this.size = size;
        this.gpa = gpa;
        this.uva = uva;
        this.fd = sealable ? sealableMemfd(name, size) : Mmap.memfd(name, size);
        try
        {
            this.host = Mmap.map(fd, size);
        }
        catch (final IOException | RuntimeException ex)
        {
            Fds.close(fd);
            throw ex;
        }
    }

    /** {@code size} bytes at gpa {@link #DEFAULT_GPA}, uva {@link #DEFAULT_UVA}. */
    public static GuestMemory create(final long size)
    {
        return create("guest-ram", size, DEFAULT_GPA, DEFAULT_UVA);
    }

    public static GuestMemory create(final String name, final long size, final long gpa, final long uva)
    {
        try
        {
            return new GuestMemory(name, size, gpa, uva);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * Like {@link #create(long)}, but the memfd allows seals (MFD_ALLOW_SEALING, as QEMU's memory-backend-memfd
     * creates it): a back end can add F_SEAL_SHRINK so that {@link #truncate} fails.
     */
    public static GuestMemory createSealable(final long size)
    {
        try
        {
            return new GuestMemory("guest-ram-sealable", size, DEFAULT_GPA, DEFAULT_UVA, true);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    private static int sealableMemfd(final String name, final long size) throws IOException
    {
        try
        {
            final int fd = LibC.memfd_create(name, LibC.MFD_CLOEXEC | LibC.MFD_ALLOW_SEALING);
            LibC.ftruncate(fd, size);
            return fd;
        }
        catch (final com.sun.jna.LastErrorException ex)
        {
            throw new IOException("sealable memfd: errno " + ex.getErrorCode());
        }
    }

    /**
     * What a hostile front end does: shrinks the memory file under the back end's mapping. After this, neither side
     * may touch the lost pages (SIGBUS). Returns 0, or the errno (EPERM once the back end has sealed the file).
     */
    public int truncate(final long length)
    {
        try
        {
            LibC.ftruncate(fd, length);
            return 0;
        }
        catch (final com.sun.jna.LastErrorException ex)
        {
            return ex.getErrorCode();
        }
    }

    public long size()
    {
        return size;
    }

    /** Guest-physical address of the first byte. */
    public long gpa()
    {
        return gpa;
    }

    /** Front-end virtual address of the first byte (what SET_MEM_TABLE's userspace_addr carries). */
    public long uva()
    {
        return uva;
    }

    /** Host (this process) address of the first byte. */
    public long hostBase()
    {
        return host;
    }

    /** The memfd, owned by this object. */
    public int fd()
    {
        return fd;
    }

    /** A new fd for the same memory (re-opened through /proc/self/fd); the caller owns it. */
    public int dupFd()
    {
        return LibC.open("/proc/self/fd/" + fd, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
    }

    // ------------------------------------------------------------------ allocation

    /** Allocates {@code bytes} (zeroed, since nothing is reused) aligned to {@code align}; returns the gpa. */
    public long alloc(final long bytes, final long align)
    {
        if (bytes < 0 || align <= 0 || (align & (align - 1)) != 0)
        {
            throw new IllegalArgumentException("alloc(" + bytes + ", " + align + ")");
        }
        // Align the guest-physical address (gpa is itself page aligned in practice, but do not rely on it).
        final long start = ((gpa + next + align - 1) & -align) - gpa;
        if (start + bytes > size || start + bytes < start)
        {
            throw new IllegalStateException("guest memory exhausted: " + bytes + " bytes wanted, " +
                (size - next) + " left of " + size);
        }
        next = start + bytes;
        return gpa + start;
    }

    public long alloc(final long bytes)
    {
        return alloc(bytes, 16);
    }

    /** Bytes the bump allocator has not handed out yet. */
    public long free()
    {
        return size - next;
    }

    // ------------------------------------------------------------------ translation

    public boolean contains(final long guestPhys, final long len)
    {
        final long off = guestPhys - gpa;
        return Long.compareUnsigned(guestPhys, gpa) >= 0 && Long.compareUnsigned(off, size) <= 0 &&
            Long.compareUnsigned(len, size - off) <= 0;
    }

    /** Host address of gpa {@code guestPhys}; throws if it is not inside this memory. */
    public long host(final long guestPhys)
    {
        if (!contains(guestPhys, 0) || guestPhys - gpa == size)
        {
            throw new IllegalArgumentException("gpa 0x" + Long.toHexString(guestPhys) + " not in guest memory");
        }
        return host + (guestPhys - gpa);
    }

    /** Front-end virtual address of gpa {@code guestPhys}. */
    public long uvaOf(final long guestPhys)
    {
        host(guestPhys);   // range check
        return uva + (guestPhys - gpa);
    }

    // ------------------------------------------------------------------ access by gpa (little-endian)

    public void putBytes(final long guestPhys, final byte[] src, final int offset, final int length)
    {
        check(guestPhys, length);
        U.copyMemory(src, Unsafe.ARRAY_BYTE_BASE_OFFSET + offset, null, host + (guestPhys - gpa), length);
    }

    public void putBytes(final long guestPhys, final byte[] src)
    {
        putBytes(guestPhys, src, 0, src.length);
    }

    public byte[] getBytes(final long guestPhys, final int length)
    {
        check(guestPhys, length);
        final byte[] dst = new byte[length];
        U.copyMemory(null, host + (guestPhys - gpa), dst, Unsafe.ARRAY_BYTE_BASE_OFFSET, length);
        return dst;
    }

    public void fill(final long guestPhys, final long length, final byte value)
    {
        check(guestPhys, length);
        U.setMemory(host + (guestPhys - gpa), length, value);
    }

    public void putLong(final long guestPhys, final long value)
    {
        check(guestPhys, 8);
        U.putLong(host + (guestPhys - gpa), value);
    }

    public long getLong(final long guestPhys)
    {
        check(guestPhys, 8);
        return U.getLong(host + (guestPhys - gpa));
    }

    public void putInt(final long guestPhys, final int value)
    {
        check(guestPhys, 4);
        U.putInt(host + (guestPhys - gpa), value);
    }

    public int getInt(final long guestPhys)
    {
        check(guestPhys, 4);
        return U.getInt(host + (guestPhys - gpa));
    }

    public void putShort(final long guestPhys, final int value)
    {
        check(guestPhys, 2);
        U.putShort(host + (guestPhys - gpa), (short)value);
    }

    /** 16-bit store with release semantics (ring indexes). */
    public void putShortRelease(final long guestPhys, final int value)
    {
        check(guestPhys, 2);
        U.putShortVolatile(null, host + (guestPhys - gpa), (short)value);
    }

    /** Unsigned 16-bit load. */
    public int getShort(final long guestPhys)
    {
        check(guestPhys, 2);
        return U.getShort(host + (guestPhys - gpa)) & 0xffff;
    }

    /** Unsigned 16-bit load with acquire semantics (ring indexes). */
    public int getShortAcquire(final long guestPhys)
    {
        check(guestPhys, 2);
        return U.getShortVolatile(null, host + (guestPhys - gpa)) & 0xffff;
    }

    /** Copies {@code length} bytes from any host address of this process (e.g. a segment the switch produced). */
    public static byte[] readHost(final long hostAddress, final int length)
    {
        final byte[] dst = new byte[length];
        U.copyMemory(null, hostAddress, dst, Unsafe.ARRAY_BYTE_BASE_OFFSET, length);
        return dst;
    }

    /** Copies {@code src} to a host address of this process. */
    public static void writeHost(final long hostAddress, final byte[] src)
    {
        U.copyMemory(src, Unsafe.ARRAY_BYTE_BASE_OFFSET, null, hostAddress, src.length);
    }

    /** Writes one 16-byte split-ring descriptor at {@code guestPhys} (a descriptor table entry, direct or indirect). */
    public void putDesc(final long guestPhys, final long addr, final int len, final int flags, final int next)
    {
        check(guestPhys, 16);
        final long h = host + (guestPhys - gpa);
        U.putLong(h, addr);
        U.putInt(h + 8, len);
        U.putShort(h + 12, (short)flags);
        U.putShort(h + 14, (short)next);
    }

    private void check(final long guestPhys, final long length)
    {
        if (closed)
        {
            throw new IllegalStateException("guest memory closed");
        }
        if (!contains(guestPhys, length))
        {
            throw new IllegalArgumentException("[0x" + Long.toHexString(guestPhys) + ", +" + length +
                ") not in guest memory [0x" + Long.toHexString(gpa) + ", +" + size + ")");
        }
    }

    /** Unmaps and closes the memfd. Any table the switch built over this memory must no longer be used. */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        Mmap.unmap(host, size);
        Fds.close(fd);
    }
}
