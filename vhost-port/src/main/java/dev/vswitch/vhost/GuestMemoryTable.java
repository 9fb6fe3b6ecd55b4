package dev.vswitch.vhost;

import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.Mmap;

import java.io.IOException;

/**
 * A front end's memory regions mapped into this process. Every guest address the data path touches goes through
 * here, and a range is only translated when it lies wholly inside a region: all arithmetic is on unsigned 64-bit
 * values in overflow-safe form (compare offsets and remaining sizes, never {@code addr + len}).
 */
public final class GuestMemoryTable implements AutoCloseable
{
    public static final int MAX_REGIONS = 8;

    private final int count;
    private final long[] guestPhys = new long[MAX_REGIONS];
    private final long[] size = new long[MAX_REGIONS];
    private final long[] userAddr = new long[MAX_REGIONS];
    private final long[] host = new long[MAX_REGIONS];
    private final long[] mapAddress = new long[MAX_REGIONS];
    private final long[] mapLength = new long[MAX_REGIONS];
    /**
     * Per region, the front end's fd when its file could not be sealed against shrinking (else -1): kept open so
     * {@link #isTruncated} can tell a fault caused by the front end truncating it from anything else.
     */
    private final int[] unsealedFd = {-1, -1, -1, -1, -1, -1, -1, -1};
    private boolean closed;

    private GuestMemoryTable(final int count)
    {
        this.count = count;
    }

    /**
     * Maps the regions of a SET_MEM_TABLE message. Takes ownership of the fds: they are closed before returning,
     * whether mapping succeeded or not (the mappings keep the memory alive), except the fd of a region whose file
     * cannot be sealed against shrinking, which the table keeps (and closes in {@link #close}).
     * <p>
     * A front end that truncates a mapped file makes our next access to the lost pages fault (SIGBUS): sealing
     * (F_SEAL_SHRINK) rules that out where the file allows it: QEMU's memory-backend-memfd seals its memfd itself
     * (seal=on is its default), a memfd made with MFD_ALLOW_SEALING gets the seal here. Elsewhere (DPDK's
     * --no-huge memfd, hugetlbfs files) the data path's supervisor relies on {@link #isTruncated}.
     */
    public static GuestMemoryTable map(
        final int count, final long[] gpa, final long[] sizes, final long[] uva, final long[] mmapOffset,
        final int[] fds) throws VhostUserException
    {
        try
        {
            if (count < 1 || count > MAX_REGIONS)
            {
                throw new VhostUserException("memory table has " + count + " regions, allowed 1.." + MAX_REGIONS);
            }
            final GuestMemoryTable table = new GuestMemoryTable(count);
            try
            {
                for (int i = 0; i < count; i++)
                {
                    table.mapRegion(i, gpa[i], sizes[i], uva[i], mmapOffset[i], fds);
                }
                table.firstRegionMapped();
            }
            catch (final VhostUserException | RuntimeException ex)
            {
                table.close();
                throw ex;
            }
            return table;
        }
        finally
        {
            for (int i = 0; i < Math.min(count, fds.length); i++)
            {
                Fds.close(fds[i]);   // -1 for fds a table kept
            }
        }
    }

    /** Wraps memory this process already owns (tests, benchmarks); nothing is unmapped on close. */
    public static GuestMemoryTable ofHostMemory(final long guestPhys, final long hostAddress, final long length)
    {
        final GuestMemoryTable table = new GuestMemoryTable(1);
        table.guestPhys[0] = guestPhys;
        table.size[0] = length;
        table.userAddr[0] = guestPhys;
        table.host[0] = hostAddress;
        table.firstRegionMapped();
        return table;
    }

    private void mapRegion(final int i, final long gpa, final long len, final long uva, final long offset,
        final int[] fds) throws VhostUserException
    {
        final int fd = fds[i];
        if (len <= 0)   // also rejects sizes >= 2^63, far beyond any real guest
        {
            throw new VhostUserException("region " + i + ": size " + Long.toUnsignedString(len) + " invalid");
        }
        if (offset < 0 || offset > Long.MAX_VALUE - len)
        {
            throw new VhostUserException("region " + i + ": mmap_offset " + Long.toUnsignedString(offset) +
                " + size overflows");
        }
        if (Long.compareUnsigned(gpa, -1L - (len - 1)) > 0 || Long.compareUnsigned(uva, -1L - (len - 1)) > 0)
        {
            throw new VhostUserException("region " + i + ": address + size wraps around");
        }
        final long fileSize;
        try
        {
            fileSize = Fds.size(fd);
        }
        catch (final IOException ex)
        {
            throw new VhostUserException("region " + i + ": fd " + fd + " unusable: " + ex.getMessage());
        }
        // Mapping past the end of the file would SIGBUS on first touch: refuse it up front.
        if (fileSize < offset + len)
        {
            throw new VhostUserException("region " + i + ": file is " + fileSize + " bytes, region needs " +
                (offset + len));
        }
        final long address;
        try
        {
            address = Mmap.map(fd, offset + len);
        }
        catch (final IOException ex)
        {
            throw new VhostUserException("region " + i + ": mmap failed: " + ex.getMessage());
        }
        guestPhys[i] = gpa;
        size[i] = len;
        userAddr[i] = uva;
        mapAddress[i] = address;
        mapLength[i] = offset + len;
        host[i] = address + offset;
        if (!Fds.sealAgainstShrinking(fd))
        {
            unsealedFd[i] = fd;
            fds[i] = -1;
        }
    }

    /** True if the table has regions the front end could truncate (no F_SEAL_SHRINK on their file). */
    public boolean hasUnsealedRegions()
    {
        for (int i = 0; i < count; i++)
        {
            if (unsealedFd[i] >= 0)
            {
                return true;
            }
        }
        return false;
    }

    /** True if a region's file is now shorter than what we mapped of it (touching the rest would SIGBUS). */
    public boolean isTruncated()
    {
        for (int i = 0; i < count; i++)
        {
            if (unsealedFd[i] >= 0 && Fds.statSize(unsealedFd[i]) < mapLength[i])
            {
                return true;
            }
        }
        return false;
    }

    public int regionCount()
    {
        return count;
    }

    /** Index of the region holding guest-physical {@code gpa}, or -1. */
    public int regionOf(final long gpa)
    {
        for (int i = 0; i < count; i++)
        {
            if (Long.compareUnsigned(gpa - guestPhys[i], size[i]) < 0 && Long.compareUnsigned(gpa, guestPhys[i]) >= 0)
            {
                return i;
            }
        }
        return -1;
    }

    /** Bytes from {@code gpa} to the end of region {@code r} (gpa must be inside it). */
    public long remaining(final int r, final long gpa)
    {
        return size[r] - (gpa - guestPhys[r]);
    }

    public long hostAddress(final int r, final long gpa)
    {
        return host[r] + (gpa - guestPhys[r]);
    }

    /**
     * Region 0 again, as plain fields: {@link #gpaToHost} tries it first without the loop over the arrays (DPDK's
     * virtio-user has one region; QEMU's first holds the guest's memory below 3 GiB). Set once, before the table
     * is published to the data path (as the arrays are); size 0 until then, so nothing matches.
     */
    private long firstGuestPhys;
    private long firstSize;
    private long firstHost;

    private void firstRegionMapped()
    {
        firstGuestPhys = guestPhys[0];
        firstSize = size[0];
        firstHost = host[0];
    }

    /** Host address of [gpa, gpa+len) if it lies wholly inside one region, else 0. */
    public long gpaToHost(final long gpa, final long len)
    {
        // No region wraps around (mapRegion), so one unsigned compare says whether gpa is inside.
        final long offset = gpa - firstGuestPhys;
        if (Long.compareUnsigned(offset, firstSize) < 0 && Long.compareUnsigned(len, firstSize - offset) <= 0)
        {
            return firstHost + offset;
        }
        final int r = regionOf(gpa);
        if (r < 0 || Long.compareUnsigned(len, remaining(r, gpa)) > 0)
        {
            return 0;
        }
        return hostAddress(r, gpa);
    }

    /** Host address of the front end's virtual range [uva, uva+len) (ring addresses), or 0. */
    public long uvaToHost(final long uva, final long len)
    {
        for (int i = 0; i < count; i++)
        {
            final long offset = uva - userAddr[i];
            if (Long.compareUnsigned(uva, userAddr[i]) >= 0 && Long.compareUnsigned(offset, size[i]) < 0 &&
                Long.compareUnsigned(len, size[i] - offset) <= 0)
            {
                return host[i] + offset;
            }
        }
        return 0;
    }

    /** Unmaps every region. Only call once no data path can still read this table (see DatapathBarrier). */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        for (int i = 0; i < count; i++)
        {
            if (mapAddress[i] != 0)
            {
                Mmap.unmap(mapAddress[i], mapLength[i]);
                mapAddress[i] = 0;
            }
            Fds.close(unsealedFd[i]);
            unsealedFd[i] = -1;
        }
    }
}
