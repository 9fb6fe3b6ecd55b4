package dev.vswitch.vhost;

import dev.vswitch.nativeio.EventFd;
import org.agrona.UnsafeAccess;
import sun.misc.Unsafe;

import java.lang.invoke.VarHandle;

import static dev.vswitch.vhost.VirtioNet.DESC_F_INDIRECT;
import static dev.vswitch.vhost.VirtioNet.DESC_F_NEXT;
import static dev.vswitch.vhost.VirtioNet.DESC_F_WRITE;

/**
 * The device side of one split virtqueue (virtio 1.2, 2.7), laid over guest memory. One thread (the PMD) drives
 * it; the guest driver runs concurrently on the other side of the shared memory, so:
 * <ul>
 * <li>avail->idx is read with acquire semantics, then each descriptor field is read once into a local (a guest
 * can rewrite a descriptor while we look at it);</li>
 * <li>used elements are written straight into the used ring but published with a single 16-bit release store of
 * used->idx per flush (one per PMD round), never a wider or split write;</li>
 * <li>a full fence separates that store from reading used_event / avail->flags for the interrupt decision.</li>
 * </ul>
 * Chain walks stop at the ring size (the indirect table size for indirect chains), so a looping or endless chain
 * costs the guest its packet, never the switch a hang.
 */
public final class SplitVirtqueue
{
    /** Largest indirect table accepted, in descriptors (QEMU and Linux never exceed the 1024-entry queue max). */
    public static final int MAX_INDIRECT = 1024;
    /** Largest byte count a single chain may describe (a 64 KB TSO frame plus header fits). */
    public static final long MAX_CHAIN_BYTES = 256 * 1024;

    public static final int ERR_HEAD = -1;
    public static final int ERR_INDEX = -2;
    public static final int ERR_LOOP = -3;
    public static final int ERR_ADDRESS = -4;
    public static final int ERR_INDIRECT = -5;
    public static final int ERR_DIRECTION = -6;
    public static final int ERR_TOO_LONG = -7;
    public static final int ERR_SEGMENTS = -8;

    private static final Unsafe U = UnsafeAccess.UNSAFE;

    private final int size;
    private final int mask;
    private final long desc;
    private final long avail;
    private final long used;
    private final GuestMemoryTable memory;
    private final boolean eventIdx;
    private volatile int callFd;
    /**
     * nanoTime when the PMD entered the call-fd write now in progress, 0 when none is: the front end shares the
     * eventfd's file description and can make that write block (clear O_NONBLOCK, saturate the counter), so the
     * port's control thread watches this and frees the PMD ({@link EventFd#releaseBlockedWriter}). Written around
     * each interrupt only, never per frame.
     */
    private volatile long signallingSince;
    /** The fd that write goes to (stable while signallingSince != 0). */
    private volatile int signallingFd = -1;

    private int lastAvail;
    /** avail->idx as last read: chains up to it are known to be there without touching the driver's line again. */
    private int seenAvailIdx;
    /** Last value written to used->flags / avail_event, so an unchanged value is not stored again every round. */
    private int kickSuppression = -1;
    private int usedIdx;
    private int pendingUsed;
    private int lastCheckedUsed;
    private long chainBytes;
    private boolean broken;
    private long interrupts;
    /** Set while a flush runs; still set at the next one if something was thrown out of it (see {@link #flush}). */
    private boolean flushOwed;

    /**
     * @param desc  host address of the descriptor table (16 * size bytes, already bounds-checked)
     * @param avail host address of the avail ring (6 + 2 * size bytes)
     * @param used  host address of the used ring (6 + 8 * size bytes)
     * @param base  next avail index to process (SET_VRING_BASE); used->idx continues from the same value
     */
    public SplitVirtqueue(final int size, final long desc, final long avail, final long used,
        final GuestMemoryTable memory, final boolean eventIdx, final int callFd, final int base)
    {
        if (size <= 0 || size > VirtioNet.MAX_QUEUE_SIZE || (size & (size - 1)) != 0)
        {
            throw new IllegalArgumentException("queue size " + size + " is not a power of two <= 32768");
        }
        this.size = size;
        this.mask = size - 1;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
        this.memory = memory;
        this.eventIdx = eventIdx;
        this.callFd = callFd;
        this.lastAvail = base & 0xffff;
        this.seenAvailIdx = lastAvail;
        this.usedIdx = base & 0xffff;
        this.lastCheckedUsed = usedIdx;
    }

    /** used->idx of the ring at {@code used}, as the guest sees it now (guest-written: any value). */
    public static int usedIndex(final long used)
    {
        return U.getShortVolatile(null, used + 2) & 0xffff;
    }

    /** avail->idx of the ring at {@code avail}, as the driver last published it (guest-written: any value). */
    public static int availIndex(final long avail)
    {
        return U.getShortVolatile(null, avail + 2) & 0xffff;
    }

    public static long descTableBytes(final int size)
    {
        return 16L * size;
    }

    public static long availRingBytes(final int size)
    {
        return 6L + 2L * size;
    }

    public static long usedRingBytes(final int size)
    {
        return 6L + 8L * size;
    }

    public int size()
    {
        return size;
    }

    /** Host address of the descriptor table. */
    public long descAddress()
    {
        return desc;
    }

    /** Host address of the avail ring. */
    public long availAddress()
    {
        return avail;
    }

    /** Host address of the used ring. */
    public long usedAddress()
    {
        return used;
    }

    /** The memory table the ring's addresses point into. */
    public GuestMemoryTable memory()
    {
        return memory;
    }

    /** Next avail index the device will process; what GET_VRING_BASE returns once the ring is stopped. */
    public int lastAvailIndex()
    {
        return lastAvail;
    }

    public boolean isBroken()
    {
        return broken;
    }

    public long interrupts()
    {
        return interrupts;
    }

    /** nanoTime (| 1) when the write to the call fd now in progress began, or 0 if none is in progress. */
    public long signallingSince()
    {
        return signallingSince;
    }

    /** Any thread: true if the call-fd write now in progress began more than {@code nanos} before {@code nowNanos}. */
    public boolean isSignallingLongerThan(final long nowNanos, final long nanos)
    {
        return isSignallingLongerThan(signallingSince, nowNanos, nanos);
    }

    /** The same, for a {@link #signallingSince} value already read (a caller that also reports it). */
    static boolean isSignallingLongerThan(final long since, final long nowNanos, final long nanos)
    {
        return since != 0 && nowNanos - since > nanos;
    }

    /** The call fd of the write in progress (meaningful while {@link #signallingSince} is not 0). */
    public int signallingFd()
    {
        return signallingFd;
    }

    /** A new call eventfd takes effect at the next flush. */
    public void callFd(final int fd)
    {
        callFd = fd;
    }

    /**
     * Tells the driver not to kick while we poll. Without EVENT_IDX that is the NO_NOTIFY flag; with it, the driver
     * only kicks when its idx crosses avail_event, so we park avail_event just behind the index we have reached.
     */
    public void suppressKicks()
    {
        // The driver polls the used ring's lines: a store it would see as unchanged still takes the line away
        // from its core, so only a new value is written.
        final int value = eventIdx ? (lastAvail - 1) & 0xffff : VirtioNet.USED_F_NO_NOTIFY;
        if (value != kickSuppression)
        {
            kickSuppression = value;
            putShortRelease(eventIdx ? used + 4 + 8L * size : used, value);
        }
    }

    /**
     * Descriptor chains the driver has made available and we have not taken. Marks the ring broken (and returns 0)
     * if the driver claims more than the ring can hold.
     */
    public int available()
    {
        if (broken)
        {
            return 0;
        }
        final int idx = U.getShortVolatile(null, avail + 2) & 0xffff;   // acquire: ring entries read after this
        final int n = (idx - lastAvail) & 0xffff;
        if (n > size)
        {
            broken = true;
            return 0;
        }
        seenAvailIdx = idx;
        return n;
    }

    /**
     * True if at least one chain is available. Answers from the avail->idx already read while chains up to it
     * remain, and reads the driver's index again only when they are used up: the driver writes that line for every
     * buffer it adds, so reading it per frame would pull the line across cores per frame.
     */
    public boolean hasAvailable()
    {
        return (!broken && lastAvail != seenAvailIdx) || available() > 0;
    }

    /**
     * Starts taking ownership of the cache lines the next {@code count} receive chains will be written through: for
     * each chain whose head is a plain device-writable descriptor, a zero byte is stored at the start of its buffer
     * and at the start of every further cache line its first {@code bytes} span (where the virtio_net_hdr and the
     * frame's first bytes will go; the caller sizes it from the round's longest frame). The driver read those
     * lines last, so the first store to each waits for the other core to give the line up; issued back to back, the
     * waits overlap instead of stalling the copies one frame at a time. Writing a buffer the driver has made
     * available is the device's right (its contents mean nothing until the buffer is used), and only addresses
     * that translate into guest memory are written. Nothing is consumed.
     */
    public void claimLinesAhead(final int count, final int bytes)
    {
        final int ahead = Math.min(count, available());
        for (int i = 0; i < ahead; i++)
        {
            final int head = availEntry(lastAvail + i);
            if (head >= size)
            {
                return;
            }
            final long d = desc + 16L * head;
            final long address = U.getLong(d);
            final long lengthFlagsNext = U.getLong(d + 8);
            final long length = descLength(lengthFlagsNext);
            final int flags = descFlags(lengthFlagsNext);
            if ((flags & (DESC_F_WRITE | DESC_F_INDIRECT)) != DESC_F_WRITE || length == 0)
            {
                continue;
            }
            final long span = Math.min(length, bytes);
            final long host = memory.gpaToHost(address, span);
            if (host != 0)
            {
                final long end = host + span;
                for (long line = host; line < end; line = (line & ~63L) + 64)   // the start, then each line's
                {
                    U.putByte(line, (byte)0);
                }
            }
        }
    }

    /**
     * The head in avail->ring[slot & mask], in 0..65535 whatever happens to the load. If the guest truncated its
     * memory under us, the load faults (SIGBUS) and compiled code does not stop there: HotSpot skips the load, runs
     * on and raises an InternalError later, and the register keeps what it held before. Read as an unsigned short,
     * the compiler would trust the value to be 0..65535 and check {@code head >= size} with a signed compare that a
     * stale negative value passes, and the next descriptor read would land far outside any mapping (SIGSEGV: the JVM
     * dies; seen in the suite, reproduced by TruncatedRingProbe). So the entry is read inside a 32-bit load and cut
     * out with a shift, an instruction that runs on whatever the register holds. (Entry - 2 is avail->idx or the
     * entry before: inside the ring.)
     */
    private int availEntry(final int slot)
    {
        return U.getInt(avail + 2 + 2L * (slot & mask)) >>> 16;
    }

    /*
     * A descriptor is addr (le64) then len (le32), flags (le16), next (le16). The last three are read as one 64-bit
     * load and cut apart here, with shifts and masks that run whatever the load left behind (see availEntry).
     */
    private static long descLength(final long lengthFlagsNext)
    {
        return lengthFlagsNext & 0xFFFF_FFFFL;
    }

    private static int descFlags(final long lengthFlagsNext)
    {
        return (int)(lengthFlagsNext >>> 32) & 0xffff;
    }

    private static int descNext(final long lengthFlagsNext)
    {
        return (int)(lengthFlagsNext >>> 48);
    }

    /** Takes the next available head; returns {@link #ERR_HEAD} (and breaks the ring) for an index >= size. */
    public int pop()
    {
        final int head = availEntry(lastAvail);
        if (head >= size)
        {
            broken = true;
            return ERR_HEAD;
        }
        lastAvail = (lastAvail + 1) & 0xffff;
        return head;
    }

    /** Position to return to with {@link #rewind} if buffers taken for a frame turn out not to be usable. */
    public int checkpoint()
    {
        return lastAvail;
    }

    public void rewind(final int checkpoint)
    {
        lastAvail = checkpoint;
    }

    /** Bytes described by the last successful {@link #walk}. */
    public long chainBytes()
    {
        return chainBytes;
    }

    /**
     * Translates the chain at {@code head} into host segments, appended from {@code first}.
     *
     * @param writable true for a receive (guest RX) chain, whose descriptors must all be device-writable; false for
     *                 a transmit chain, whose descriptors must all be device-readable.
     * @return the new segment count, or a negative ERR_* code.
     */
    public int walk(final int head, final long[] segAddress, final int[] segLength, final int first,
        final boolean writable)
    {
        if (head >= 0 && head < size && first < segAddress.length)
        {
            // The usual chain, as Linux and DPDK post it: one plain descriptor inside one region, taken without the
            // general loop. Anything else (chained, indirect, empty, too long, crossing a region, wrong direction)
            // goes the general way below, which reads the descriptor again and checks it on its own.
            final long d = desc + 16L * head;
            final long address = U.getLong(d);
            final long lengthFlagsNext = U.getLong(d + 8);
            final long length = descLength(lengthFlagsNext);
            final int flags = descFlags(lengthFlagsNext);
            final int expected = writable ? DESC_F_WRITE : 0;
            if ((flags & (DESC_F_NEXT | DESC_F_INDIRECT | DESC_F_WRITE)) == expected && length != 0 &&
                length <= MAX_CHAIN_BYTES)
            {
                final long host = memory.gpaToHost(address, length);
                if (host != 0)
                {
                    segAddress[first] = host;
                    segLength[first] = (int)length;
                    chainBytes = length;
                    return first + 1;
                }
            }
        }
        long table = desc;
        int tableSize = size;
        int index = head;
        int hops = 0;
        boolean indirect = false;
        int segs = first;
        long total = 0;
        final int maxSegs = segAddress.length;

        while (true)
        {
            if (index >= tableSize)
            {
                return ERR_INDEX;
            }
            if (++hops > tableSize)
            {
                return ERR_LOOP;
            }
            final long d = table + 16L * index;
            // Each field read exactly once: the guest may be rewriting this descriptor right now.
            long address = U.getLong(d);
            final long lengthFlagsNext = U.getLong(d + 8);
            final long length = descLength(lengthFlagsNext);
            final int flags = descFlags(lengthFlagsNext);
            final int next = descNext(lengthFlagsNext);

            if ((flags & DESC_F_INDIRECT) != 0)
            {
                if (indirect || (flags & DESC_F_NEXT) != 0 || length == 0 || (length & 15) != 0 ||
                    length > 16L * MAX_INDIRECT)
                {
                    return ERR_INDIRECT;
                }
                final long hostTable = memory.gpaToHost(address, length);
                if (hostTable == 0)
                {
                    return ERR_ADDRESS;
                }
                table = hostTable;
                tableSize = (int)(length >>> 4);
                index = 0;
                hops = 0;
                indirect = true;
                continue;
            }
            if (((flags & DESC_F_WRITE) != 0) != writable)
            {
                return ERR_DIRECTION;
            }
            total += length;
            if (total > MAX_CHAIN_BYTES)
            {
                return ERR_TOO_LONG;
            }
            if (length != 0 && Long.compareUnsigned(address + (length - 1), address) < 0)
            {
                return ERR_ADDRESS;   // wraps past 2^64, even if a region happens to start at 0
            }
            long remaining = length;
            while (remaining > 0)
            {
                final int r = memory.regionOf(address);
                if (r < 0)
                {
                    return ERR_ADDRESS;
                }
                final long n = Math.min(remaining, memory.remaining(r, address));
                if (segs == maxSegs)
                {
                    return ERR_SEGMENTS;
                }
                segAddress[segs] = memory.hostAddress(r, address);
                segLength[segs] = (int)n;
                segs++;
                address += n;
                remaining -= n;
            }
            if ((flags & DESC_F_NEXT) == 0)
            {
                chainBytes = total;
                return segs;
            }
            index = next;
        }
    }

    /** Returns a chain to the driver. Invisible to it until {@link #flush}. */
    public void putUsed(final int head, final int length)
    {
        final long element = used + 4 + 8L * (usedIdx & mask);
        U.putInt(element, head);
        U.putInt(element + 4, length);
        usedIdx = (usedIdx + 1) & 0xffff;
        pendingUsed++;
    }

    public int pendingUsed()
    {
        return pendingUsed;
    }

    /**
     * True if {@link #flush} has work: used elements to publish, or a flush that something cut short and that is
     * owed to the driver. The port calls flush only then, so the check must cover both.
     */
    public boolean needsFlush()
    {
        return pendingUsed > 0 || flushOwed;
    }

    /**
     * Publishes the used elements added since the last flush with one release store of used->idx, then interrupts
     * the driver if, and only if, it asked to be: with EVENT_IDX when used->idx moved past used_event, otherwise
     * when NO_INTERRUPT is clear.
     * <p>
     * A flush cut short by a throw (HotSpot delivers a pending asynchronous error, e.g. the InternalError of an
     * earlier fault in another guest's memory, at the next VM transition: the native write of the interrupt is
     * one) leaves {@link #flushOwed} set; the next flush then publishes used->idx again and interrupts
     * unconditionally (both are idempotent; a spare interrupt is harmless, a lost one stalls the driver).
     *
     * @return true if an interrupt was sent.
     */
    public boolean flush()
    {
        final boolean owed = flushOwed;
        if (pendingUsed == 0 && !owed)
        {
            return false;
        }
        flushOwed = true;   // until this flush has run to its end
        pendingUsed = 0;
        final int newUsed = usedIdx;
        putShortRelease(used + 2, newUsed);
        VarHandle.fullFence();   // the store above must be visible before we read what the driver wants

        final int oldUsed = lastCheckedUsed;
        lastCheckedUsed = newUsed;
        final boolean notify;
        if (owed)
        {
            notify = true;
        }
        else if (eventIdx)
        {
            final int usedEvent = U.getShort(avail + 4 + 2L * size) & 0xffff;
            notify = needEvent(usedEvent, newUsed, oldUsed);
        }
        else
        {
            notify = (U.getShort(avail) & VirtioNet.AVAIL_F_NO_INTERRUPT) == 0;
        }
        final int fd = callFd;
        final boolean sent = notify && fd >= 0;
        if (sent)
        {
            interrupt(fd);
            interrupts++;
        }
        flushOwed = false;
        return sent;
    }

    /** Writes the call eventfd, stamped so that the control thread can see a write the front end made block. */
    private void interrupt(final int fd)
    {
        signallingFd = fd;
        signallingSince = System.nanoTime() | 1;   // never 0, which means "not signalling"
        try
        {
            EventFd.signal(fd);
        }
        finally
        {
            // Also when something is thrown out of the write: a stamp left behind would read as a write still
            // blocked, and the control thread would reset a port whose front end did nothing wrong.
            signallingSince = 0;
        }
    }

    /** vring_need_event from the virtio spec: did the index move from old to new pass event? */
    static boolean needEvent(final int event, final int newIdx, final int oldIdx)
    {
        return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }

    private static void putShortRelease(final long address, final int value)
    {
        VarHandle.releaseFence();
        U.putShort(address, (short)value);   // one aligned 16-bit store: never torn
    }
}
