package dev.vswitch.testkit.vhost;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The DRIVER (guest) side of one split virtqueue (virtio 1.2, 2.7), laid out in a {@link GuestMemory} so the same
 * bytes can be handed to the switch, either directly (vhost-port's tests build the device side over the same
 * addresses) or over a vhost-user socket (fd from
 * {@link GuestMemory#fd()}, ring addresses from {@link #descUva()} etc.).
 * <p>
 * Layout at the ring's gpa: descriptor table (16 * size), then the avail ring (flags, idx, ring[size], used_event),
 * then, 64-byte aligned, the used ring (flags, idx, ring[size] of {id, len}, avail_event). {@link #footprint} gives
 * the bytes needed.
 * <p>
 * Well-behaved use: {@link #addTx}/{@link #addRx} build a chain from free descriptors, put the data in buffers from
 * a per-ring pool of {@code slotBytes}-sized slots (bigger pieces come straight from the guest memory and are not
 * recycled), and make it available. {@link #pollUsed()} consumes used elements and recycles the chain's descriptors
 * and slots. Hostile use: {@link #writeDesc}, {@link #putAvailEntry}, {@link #setAvailIdx}, {@link #publishAvail}
 * write anything at all; the free list only knows about chains this class built.
 * <p>
 * Indexes: the ring can start at any 16-bit index ({@code startIndex}), which both avail->idx and used->idx are
 * initialised to; give the device the same value as its base (the device queue's {@code base}, or
 * SET_VRING_BASE). Start near 65535 to exercise wrap-around.
 * <p>
 * Not thread-safe: one test thread plays the driver. Index stores are release stores and index loads acquire
 * loads, so a device running on another thread sees consistent rings.
 * <p>
 * The layout constants below are the driver's own reading of the spec, deliberately not imported from the switch's
 * device side: a test that used the device's constants to build the rings it feeds the device would agree with
 * the device's mistakes.
 */
public final class DriverRing
{
    public static final int DEFAULT_SLOT_BYTES = 2048;
    /** virtio_net_hdr with num_buffers (VERSION_1 / MRG_RXBUF). */
    public static final int NET_HDR_LEN = 12;
    /** Largest split queue size (virtio 1.2, 2.7: Queue Size is at most 32768). */
    public static final int MAX_QUEUE_SIZE = 32768;
    /** virtq_desc.flags (2.7.5). */
    public static final int DESC_F_NEXT = 1;
    public static final int DESC_F_WRITE = 2;
    public static final int DESC_F_INDIRECT = 4;
    /** virtq_avail.flags (2.7.6) and virtq_used.flags (2.7.8). */
    public static final int AVAIL_F_NO_INTERRUPT = 1;
    public static final int USED_F_NO_NOTIFY = 1;
    /** Byte written into fresh device-writable buffers so a test can tell untouched bytes apart. */
    public static final byte POISON = (byte)0xEE;

    /** One used element; {@code data} is the first {@code len} bytes of a device-writable chain built here, else null. */
    public record Used(int id, int len, byte[] data)
    {
        @Override
        public String toString()
        {
            return "Used[id=" + id + ", len=" + len + "]";
        }
    }

    /** What this ring remembers about a chain it built, until the device returns it. */
    private static final class Chain
    {
        final int[] descs;          // direct descriptor indexes (head first)
        final long[] bufGpa;        // data buffers in chain order
        final int[] bufLen;
        final List<Long> slots;     // pool slots to recycle (buffers and indirect table)
        final boolean writable;

        Chain(final int[] descs, final long[] bufGpa, final int[] bufLen, final List<Long> slots,
            final boolean writable)
        {
            this.descs = descs;
            this.bufGpa = bufGpa;
            this.bufLen = bufLen;
            this.slots = slots;
            this.writable = writable;
        }
    }

    private final GuestMemory mem;
    private final int size;
    private final int mask;
    private final long descGpa;
    private final long availGpa;
    private final long usedGpa;
    private final int startIndex;
    private final int slotBytes;

    private final int[] freeDesc;
    private int freeCount;
    private final Chain[] chains;
    private final ArrayDeque<Long> freeSlots = new ArrayDeque<>();

    private int availIdx;   // next avail->idx value the driver will publish (shadow)
    private int lastUsed;   // next used element the driver will consume (shadow)
    private boolean eventIdx;

    /** Bytes from the ring's gpa to the end of its used ring. */
    public static long footprint(final int size)
    {
        return usedOffset(size) + usedRingBytes(size);
    }

    /** struct virtq_desc[size]: 16 bytes each. */
    public static long descTableBytes(final int size)
    {
        return 16L * size;
    }

    /** flags, idx, ring[size], used_event: 2 bytes each. */
    public static long availRingBytes(final int size)
    {
        return 6L + 2L * size;
    }

    /** flags, idx, ring[size] of {id, len} (8 bytes each), avail_event. */
    public static long usedRingBytes(final int size)
    {
        return 6L + 8L * size;
    }

    private static long usedOffset(final int size)
    {
        final long availEnd = descTableBytes(size) + availRingBytes(size);
        return (availEnd + 63) & -64L;
    }

    /** Allocates a ring of {@code size} from {@code mem}, starting at index 0. */
    public static DriverRing allocate(final GuestMemory mem, final int size)
    {
        return allocate(mem, size, 0);
    }

    public static DriverRing allocate(final GuestMemory mem, final int size, final int startIndex)
    {
        return new DriverRing(mem, size, mem.alloc(footprint(size), 4096), startIndex, DEFAULT_SLOT_BYTES);
    }

    /** A ring at guest-physical {@code gpa} (16-byte aligned, {@link #footprint} bytes inside {@code mem}). */
    public DriverRing(final GuestMemory mem, final int size, final long gpa)
    {
        this(mem, size, gpa, 0, DEFAULT_SLOT_BYTES);
    }

    public DriverRing(final GuestMemory mem, final int size, final long gpa, final int startIndex)
    {
        this(mem, size, gpa, startIndex, DEFAULT_SLOT_BYTES);
    }

    public DriverRing(final GuestMemory mem, final int size, final long gpa, final int startIndex,
        final int slotBytes)
    {
        if (size <= 0 || size > MAX_QUEUE_SIZE || (size & (size - 1)) != 0)
        {
            throw new IllegalArgumentException("ring size " + size);
        }
        if ((gpa & 15) != 0 || !mem.contains(gpa, footprint(size)))
        {
            throw new IllegalArgumentException("ring at 0x" + Long.toHexString(gpa) + " misaligned or outside memory");
        }
        if (slotBytes < 16)
        {
            throw new IllegalArgumentException("slotBytes " + slotBytes);
        }
        this.mem = mem;
        this.size = size;
        this.mask = size - 1;
        this.descGpa = gpa;
        this.availGpa = gpa + descTableBytes(size);
        this.usedGpa = gpa + usedOffset(size);
        this.startIndex = startIndex & 0xffff;
        this.slotBytes = slotBytes;
        this.freeDesc = new int[size];
        this.chains = new Chain[size];
        for (int i = 0; i < size; i++)
        {
            freeDesc[i] = size - 1 - i;   // pops 0, 1, 2, ...
        }
        freeCount = size;
        mem.fill(gpa, footprint(size), (byte)0);
        availIdx = this.startIndex;
        lastUsed = this.startIndex;
        mem.putShortRelease(availGpa + 2, availIdx);
        mem.putShortRelease(usedGpa + 2, lastUsed);
    }

    // ------------------------------------------------------------------ geometry

    public int size()
    {
        return size;
    }

    public GuestMemory memory()
    {
        return mem;
    }

    /** The index both avail->idx and used->idx started at: the device's base. */
    public int startIndex()
    {
        return startIndex;
    }

    public long descGpa()
    {
        return descGpa;
    }

    public long availGpa()
    {
        return availGpa;
    }

    public long usedGpa()
    {
        return usedGpa;
    }

    /** Front-end virtual addresses, as SET_VRING_ADDR carries them. */
    public long descUva()
    {
        return mem.uvaOf(descGpa);
    }

    public long availUva()
    {
        return mem.uvaOf(availGpa);
    }

    public long usedUva()
    {
        return mem.uvaOf(usedGpa);
    }

    public long descHost()
    {
        return mem.host(descGpa);
    }

    public long availHost()
    {
        return mem.host(availGpa);
    }

    public long usedHost()
    {
        return mem.host(usedGpa);
    }

    /** gpa of descriptor {@code i} of the table (no range check on i, so hostile tests can aim anywhere). */
    public long descGpa(final int i)
    {
        return descGpa + 16L * i;
    }

    // ------------------------------------------------------------------ virtio_net_hdr

    /** A 12-byte virtio_net_hdr (little-endian fields). */
    public static byte[] netHeader(final int flags, final int gsoType, final int hdrLen, final int gsoSize,
        final int csumStart, final int csumOffset, final int numBuffers)
    {
        final ByteBuffer b = ByteBuffer.allocate(NET_HDR_LEN).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte)flags).put((byte)gsoType).putShort((short)hdrLen).putShort((short)gsoSize)
            .putShort((short)csumStart).putShort((short)csumOffset).putShort((short)numBuffers);
        return b.array();
    }

    /** An all-zero 12-byte header (no offloads). */
    public static byte[] netHeader()
    {
        return new byte[NET_HDR_LEN];
    }

    /** num_buffers of a received frame's header (bytes 10..11, little-endian). */
    public static int numBuffers(final byte[] frameWithHeader)
    {
        return (frameWithHeader[10] & 0xff) | (frameWithHeader[11] & 0xff) << 8;
    }

    // ------------------------------------------------------------------ well-behaved chains

    /** Zero header + {@code payload} in one descriptor, made available. Returns the head. */
    public int addTx(final byte[] payload)
    {
        return addTx(netHeader(), payload, false);
    }

    /**
     * Queues header + payload for transmission, made available at once. {@code chunkLengths} splits the
     * concatenated bytes into descriptors (they must sum to header.length + payload.length); none means one
     * descriptor. E.g. {@code 12, n} puts the header in its own descriptor, {@code 6, 6 + n} splits the header.
     *
     * @param indirect put the chain in an indirect table referenced by a single ring descriptor.
     * @return the head descriptor index.
     */
    public int addTx(final byte[] header, final byte[] payload, final boolean indirect, final int... chunkLengths)
    {
        final byte[] all = new byte[header.length + payload.length];
        System.arraycopy(header, 0, all, 0, header.length);
        System.arraycopy(payload, 0, all, header.length, payload.length);
        final int[] lens = chunkLengths.length == 0 ? new int[] {all.length} : chunkLengths;
        if (Arrays.stream(lens).sum() != all.length)
        {
            throw new IllegalArgumentException("chunk lengths " + Arrays.toString(lens) + " do not sum to " +
                all.length);
        }
        final byte[][] chunks = new byte[lens.length][];
        int at = 0;
        for (int i = 0; i < lens.length; i++)
        {
            chunks[i] = Arrays.copyOfRange(all, at, at + lens[i]);
            at += lens[i];
        }
        final int head = buildChain(chunks, false, indirect);
        publishAvail(head);
        return head;
    }

    /** One device-writable chain with buffers of the given lengths, made available. Returns the head. */
    public int addRx(final int... lengths)
    {
        final int head = buildChain(writableChunks(lengths), true, false);
        publishAvail(head);
        return head;
    }

    /** Like {@link #addRx} but through an indirect table. */
    public int addRxIndirect(final int... lengths)
    {
        final int head = buildChain(writableChunks(lengths), true, true);
        publishAvail(head);
        return head;
    }

    /** {@code count} single-descriptor RX buffers of {@code length} bytes, published with one avail->idx store. */
    public int[] addRxBuffers(final int count, final int length)
    {
        final int[] heads = new int[count];
        for (int i = 0; i < count; i++)
        {
            heads[i] = buildChain(writableChunks(length), true, false);
        }
        publishAvail(heads);
        return heads;
    }

    private static byte[][] writableChunks(final int... lengths)
    {
        final byte[][] chunks = new byte[lengths.length][];
        for (int i = 0; i < lengths.length; i++)
        {
            chunks[i] = new byte[lengths[i]];
            Arrays.fill(chunks[i], POISON);
        }
        return chunks;
    }

    /**
     * Builds a chain (one descriptor per chunk, each buffer holding the chunk's bytes) without making it available.
     * All descriptors get WRITE if {@code writable}. Returns the head; publish it with {@link #publishAvail}.
     */
    public int buildChain(final byte[][] chunks, final boolean writable, final boolean indirect)
    {
        if (chunks.length == 0)
        {
            throw new IllegalArgumentException("empty chain");
        }
        final int needDescs = indirect ? 1 : chunks.length;
        if (needDescs > freeCount)
        {
            throw new IllegalStateException("driver ring full: " + needDescs + " descriptors wanted, " +
                freeCount + " free");
        }
        final List<Long> slots = new ArrayList<>();
        final long[] bufGpa = new long[chunks.length];
        final int[] bufLen = new int[chunks.length];
        for (int i = 0; i < chunks.length; i++)
        {
            bufGpa[i] = buffer(chunks[i].length, slots);
            bufLen[i] = chunks[i].length;
            mem.putBytes(bufGpa[i], chunks[i]);
        }
        final int wflag = writable ? DESC_F_WRITE : 0;
        final int[] descs;
        if (indirect)
        {
            final long table = buffer(16 * chunks.length, slots);
            for (int i = 0; i < chunks.length; i++)
            {
                final boolean last = i == chunks.length - 1;
                mem.putDesc(table + 16L * i, bufGpa[i], bufLen[i], wflag | (last ? 0 : DESC_F_NEXT),
                    last ? 0 : i + 1);
            }
            descs = new int[] {allocDesc()};
            writeDesc(descs[0], table, 16 * chunks.length, DESC_F_INDIRECT, 0);
        }
        else
        {
            descs = new int[chunks.length];
            for (int i = 0; i < chunks.length; i++)
            {
                descs[i] = allocDesc();
            }
            for (int i = 0; i < chunks.length; i++)
            {
                final boolean last = i == chunks.length - 1;
                writeDesc(descs[i], bufGpa[i], bufLen[i], wflag | (last ? 0 : DESC_F_NEXT),
                    last ? 0 : descs[i + 1]);
            }
        }
        chains[descs[0]] = new Chain(descs, bufGpa, bufLen, slots, writable);
        return descs[0];
    }

    private long buffer(final int length, final List<Long> slots)
    {
        if (length > slotBytes)
        {
            return mem.alloc(length, 64);   // not recycled
        }
        final Long slot = freeSlots.poll();
        final long gpa = slot != null ? slot : mem.alloc(slotBytes, 64);
        slots.add(gpa);
        return gpa;
    }

    /** Descriptors not in use by chains this ring built. */
    public int freeDescriptors()
    {
        return freeCount;
    }

    // ------------------------------------------------------------------ raw access (hostile drivers)

    /** Takes a descriptor index off the free list (for hand-built chains). */
    public int allocDesc()
    {
        if (freeCount == 0)
        {
            throw new IllegalStateException("no free descriptors");
        }
        return freeDesc[--freeCount];
    }

    /** Writes descriptor {@code i} of the table verbatim. */
    public void writeDesc(final int i, final long addr, final int len, final int flags, final int next)
    {
        mem.putDesc(descGpa(i), addr, len, flags, next);
    }

    /** A buffer of {@code length} bytes from guest memory (never recycled); returns its gpa. */
    public long allocBuffer(final int length)
    {
        return mem.alloc(length, 64);
    }

    /** Writes {@code head} into the avail ring slot for the next index, without publishing avail->idx. */
    public void putAvailEntry(final int head)
    {
        putAvailEntryAt(availIdx, head);
    }

    /** Writes avail->ring[index % size] = head. */
    public void putAvailEntryAt(final int index, final int head)
    {
        mem.putShort(availGpa + 4 + 2L * (index & mask), head);
    }

    /** Makes {@code heads} available with a single release store of avail->idx. */
    public void publishAvail(final int... heads)
    {
        for (final int head : heads)
        {
            putAvailEntryAt(availIdx, head);
            availIdx = (availIdx + 1) & 0xffff;
        }
        mem.putShortRelease(availGpa + 2, availIdx);
    }

    /** Stores avail->idx verbatim (release) and makes it the driver's shadow too. */
    public void setAvailIdx(final int idx)
    {
        availIdx = idx & 0xffff;
        mem.putShortRelease(availGpa + 2, availIdx);
    }

    /** The driver's next avail->idx (what it has published). */
    public int availIdx()
    {
        return availIdx;
    }

    // ------------------------------------------------------------------ used ring

    /** used->idx as the device last published it (acquire load). */
    public int usedIdx()
    {
        return mem.getShortAcquire(usedGpa + 2);
    }

    /** The next used index the driver will consume. */
    public int lastUsed()
    {
        return lastUsed;
    }

    /** Used elements published and not yet consumed. */
    public int pendingUsed()
    {
        return (usedIdx() - lastUsed) & 0xffff;
    }

    /** The used element at ring position {@code index % size}, whether or not used->idx covers it yet. */
    public Used usedElem(final int index)
    {
        final long e = usedGpa + 4 + 8L * (index & mask);
        return new Used(mem.getInt(e), mem.getInt(e + 4), null);
    }

    /**
     * Consumes the next used element, or returns null if the device has published none. Recycles the chain's
     * descriptors and buffers if this ring built it; for a device-writable chain the element carries the first
     * {@code len} bytes the device wrote.
     */
    public Used pollUsed()
    {
        if (usedIdx() == lastUsed)
        {
            return null;
        }
        final Used raw = usedElem(lastUsed);
        lastUsed = (lastUsed + 1) & 0xffff;
        final int id = raw.id();
        byte[] data = null;
        if (id >= 0 && id < size && chains[id] != null)
        {
            final Chain c = chains[id];
            chains[id] = null;
            if (c.writable)
            {
                data = readChain(c, raw.len());
            }
            for (final int d : c.descs)
            {
                freeDesc[freeCount++] = d;
            }
            freeSlots.addAll(c.slots);
        }
        return new Used(id, raw.len(), data);
    }

    /** Every used element published so far, in order. */
    public List<Used> drainUsed()
    {
        final List<Used> out = new ArrayList<>();
        for (Used u = pollUsed(); u != null; u = pollUsed())
        {
            out.add(u);
        }
        return out;
    }

    /** Current contents of the buffers of an outstanding chain built here (e.g. to check nothing was written). */
    public byte[] chainContents(final int head)
    {
        final Chain c = chains[head];
        if (c == null)
        {
            throw new IllegalArgumentException("no outstanding chain at " + head);
        }
        return readChain(c, Integer.MAX_VALUE);
    }

    private byte[] readChain(final Chain c, final int len)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        int left = len;
        for (int i = 0; i < c.bufGpa.length && left > 0; i++)
        {
            final int n = Math.min(left, c.bufLen[i]);
            out.writeBytes(mem.getBytes(c.bufGpa[i], n));
            left -= n;
        }
        return out.toByteArray();
    }

    // ------------------------------------------------------------------ notifications

    /** Whether the driver behaves as if VIRTIO_F_EVENT_IDX was negotiated (affects {@link #kickNeeded}). */
    public void setEventIdx(final boolean on)
    {
        eventIdx = on;
    }

    public boolean eventIdx()
    {
        return eventIdx;
    }

    /** avail->flags (e.g. {@link #AVAIL_F_NO_INTERRUPT}). */
    public void setAvailFlags(final int flags)
    {
        mem.putShortRelease(availGpa, flags);
    }

    public int availFlags()
    {
        return mem.getShort(availGpa);
    }

    /** used_event (avail->ring[size]): the used index the driver wants an interrupt after (EVENT_IDX). */
    public void setUsedEvent(final int idx)
    {
        mem.putShortRelease(availGpa + 4 + 2L * size, idx);
    }

    public int usedEvent()
    {
        return mem.getShort(availGpa + 4 + 2L * size);
    }

    /** used->flags as the device wrote them (e.g. {@link #USED_F_NO_NOTIFY}). */
    public int usedFlags()
    {
        return mem.getShortAcquire(usedGpa);
    }

    /** avail_event (used->ring[size]) as the device wrote it (EVENT_IDX). */
    public int availEvent()
    {
        return mem.getShortAcquire(usedGpa + 4 + 8L * size);
    }

    /**
     * Whether a driver that moved avail->idx from {@code oldAvailIdx} to {@link #availIdx()} must kick: with
     * EVENT_IDX, vring_need_event(avail_event, new, old); without, unless the device set NO_NOTIFY.
     */
    public boolean kickNeeded(final int oldAvailIdx)
    {
        if (eventIdx)
        {
            return needEvent(availEvent(), availIdx, oldAvailIdx);
        }
        return (usedFlags() & USED_F_NO_NOTIFY) == 0;
    }

    /** vring_need_event of virtio 1.2, 2.7.10: did the index moving from old to new pass event? */
    public static boolean needEvent(final int event, final int newIdx, final int oldIdx)
    {
        return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }
}
