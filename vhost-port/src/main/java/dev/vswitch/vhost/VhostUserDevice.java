package dev.vswitch.vhost;

import dev.vswitch.nativeio.EventFd;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.pipeline.DatapathBarrier;
import dev.vswitch.pipeline.Log;

import java.util.concurrent.TimeUnit;

import static dev.vswitch.vhost.VhostUserMessage.*;
import static dev.vswitch.vhost.VirtioNet.bit;
import static dev.vswitch.vhost.VirtioNet.has;

/**
 * The vhost-user back-end state of one connection: negotiated features, the memory table and each vring's
 * configuration. Messages arrive on the port's control thread; rings are handed to the data path only when fully
 * configured, started and enabled, and withdrawn (with a quiescence wait) before anything they point at changes.
 * <p>
 * Treats every field as hostile: queue indices are checked before use, payload sizes are exact, fds a message
 * does not take are left for the caller to close, and repeated messages replace (and free) what came before.
 */
public final class VhostUserDevice implements AutoCloseable
{
    /** One queue pair: 0 = guest RX (we write), 1 = guest TX (we read). */
    public static final int MAX_QUEUES = 2;

    public static final long OFFERED_FEATURES = bit(VirtioNet.F_VERSION_1) | bit(VirtioNet.F_RING_INDIRECT_DESC) |
        bit(VirtioNet.F_RING_EVENT_IDX) | bit(VirtioNet.F_MRG_RXBUF) | bit(VirtioNet.F_PROTOCOL_FEATURES) |
        bit(VirtioNet.F_MAC) | bit(VirtioNet.F_STATUS) | bit(27 /* ANY_LAYOUT */) | bit(VirtioNet.F_MTU) |
        // True of this device, so it may say so: a port's TX chains are taken in avail order and completed in
        // that order (the pipeline keeps each port's frames in sequence), and RX buffers are taken in avail order,
        // a frame that cannot be delivered rewinding rather than skipping them. A driver that knows it (DPDK's
        // virtio PMD) recycles descriptors sequentially without walking a free list: its in-order paths.
        bit(VirtioNet.F_IN_ORDER) |
        // Offloads: a frame keeps its partial checksum / TSO super-frame across the switch to a peer that
        // negotiated the same; for any other peer the switch completes the checksum or segments in software.
        bit(VirtioNet.F_CSUM) | bit(VirtioNet.F_GUEST_CSUM) | bit(VirtioNet.F_HOST_TSO4) |
        bit(VirtioNet.F_HOST_TSO6) | bit(VirtioNet.F_HOST_ECN) | bit(VirtioNet.F_GUEST_TSO4) |
        bit(VirtioNet.F_GUEST_TSO6) | bit(VirtioNet.F_GUEST_ECN);
    public static final long OFFERED_PROTOCOL_FEATURES =
        bit(VirtioNet.PROTOCOL_F_MQ) | bit(VirtioNet.PROTOCOL_F_REPLY_ACK) | bit(VirtioNet.PROTOCOL_F_NET_MTU);

    /** Where started rings go: the port's data path. */
    public interface RingHost
    {
        /**
         * Publishes (or, with null, withdraws) the ring the PMD uses for queue {@code index}, with the features
         * negotiated for it (header layout, mergeable buffers, offloads).
         */
        void publishRing(int index, SplitVirtqueue ring, long features);

        /** Largest payload the port takes, to compare with what the front end reports (NET_SET_MTU). */
        int mtu();

        /** The port's counters: the control plane adds the kicks it drains. */
        dev.vswitch.pipeline.PortCounters counters();

        /** Why the data path took the port out of service, or null while it serves it. */
        default String quarantineReason()
        {
            return null;
        }

        /**
         * Any thread, without a system call: true if the data path quarantined the port, or has been inside a write
         * to the call fd of one of the rings it was given for longer than {@code stuckNanos}.
         */
        default boolean dataPathNeedsControl(final long nowNanos, final long stuckNanos)
        {
            return quarantineReason() != null;
        }

        /** The device has been reset after a quarantine: rings may be published again. */
        default void clearQuarantine()
        {
        }

        /** A ring started somewhere other than the front end's base: counted, so the loss is visible. */
        default void ringRecovered(final RingResume resume)
        {
        }
    }

    /** A call-fd write in progress for longer than this is a PMD blocked by the front end. */
    static final long SIGNAL_STUCK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** How long one quiescence wait lasts before the device looks for (and frees) a PMD stuck on its fds. */
    private static final long QUIESCE_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    /** After {@link #abandonWaits()}: how long a wait may still take before the device gives up on the PMD. */
    private static final long ABANDON_AFTER_NANOS = TimeUnit.SECONDS.toNanos(3);

    private static final class Vring
    {
        int num;
        long descUva;
        long usedUva;
        long availUva;
        boolean addressed;
        int base;
        int kickFd = -1;
        /** The kick eventfd's counter when last peeked at. */
        long kicksSeen;
        int callFd = -1;
        int errFd = -1;
        boolean started;
        boolean enabled;
        SplitVirtqueue live;
    }

    private final String name;
    private final RingHost host;
    private final DatapathBarrier barrier;
    private final Vring[] vrings = new Vring[MAX_QUEUES];
    private long features;
    private boolean featuresSet;
    private long protocolFeatures;
    private GuestMemoryTable memory;
    /** Set when the switch is stopping: waits for the PMD end after a bound, leaking rather than hanging. */
    private volatile boolean abandonWaits;
    /** Set when a wait was abandoned: the PMD may still hold our memory, so it is not unmapped. */
    private boolean leakOnReset;
    /** SET_OWNER received: the front end has finished its initial handshake. */
    private boolean owned;

    public VhostUserDevice(final String name, final RingHost host, final DatapathBarrier barrier)
    {
        this.name = name;
        this.host = host;
        this.barrier = barrier;
        for (int i = 0; i < MAX_QUEUES; i++)
        {
            vrings[i] = new Vring();
        }
    }

    public long features()
    {
        return features;
    }

    public boolean replyAckNegotiated()
    {
        return has(protocolFeatures, VirtioNet.PROTOCOL_F_REPLY_ACK);
    }

    /** True once SET_OWNER arrived (QEMU and DPDK send it as part of connecting, before any memory or ring). */
    public boolean isOwned()
    {
        return owned;
    }

    /**
     * A connection the back end made (client mode) is owned from the start: the front end it reached by its path is
     * the owner, whether or not it sends SET_OWNER (DPDK virtio-user in server mode does not after a reconnect).
     * Setup before SET_OWNER stays refused on connections a front end made to us.
     */
    public void ownedByConnecting()
    {
        owned = true;
    }

    public boolean isRunning(final int queue)
    {
        return vrings[queue].live != null;
    }

    /**
     * Handles one message. On return, if the message needs a reply, {@code msg} holds it (see
     * {@link VhostUserMessage#startReply}) and the method returns its total length; otherwise 0.
     *
     * @throws VhostUserException for a message the back end rejects (the caller decides: nack or disconnect).
     */
    public int handle(final VhostUserMessage msg) throws VhostUserException
    {
        if ((msg.flags() & VERSION_MASK) != VERSION)
        {
            throw new VhostUserException("unsupported protocol version in flags 0x" + Integer.toHexString(msg.flags()));
        }
        final int request = msg.request();
        if (!owned && needsOwner(request))
        {
            throw new VhostUserException(name(request) + " before SET_OWNER");
        }
        switch (request)
        {
            case GET_FEATURES:
                return replyU64(msg, OFFERED_FEATURES);
            case SET_FEATURES:
                setFeatures(payloadU64(msg));
                return 0;
            case SET_OWNER:
                owned = true;
                return 0;
            case RESET_OWNER:
                Log.info(name, "front end reset the device");
                reset();
                return 0;
            case GET_PROTOCOL_FEATURES:
                return replyU64(msg, OFFERED_PROTOCOL_FEATURES);
            case SET_PROTOCOL_FEATURES:
            {
                final long requested = payloadU64(msg);
                if ((requested & ~OFFERED_PROTOCOL_FEATURES) != 0)
                {
                    throw new VhostUserException("protocol features 0x" + Long.toHexString(requested) +
                        " not offered (offered 0x" + Long.toHexString(OFFERED_PROTOCOL_FEATURES) + ")");
                }
                protocolFeatures = requested;
                return 0;
            }
            case GET_QUEUE_NUM:
                return replyU64(msg, MAX_QUEUES / 2);
            case SET_MEM_TABLE:
                setMemTable(msg);
                return 0;
            case SET_VRING_NUM:
                setVringNum(msg);
                return 0;
            case SET_VRING_ADDR:
                setVringAddr(msg);
                return 0;
            case SET_VRING_BASE:
                setVringBase(msg);
                return 0;
            case GET_VRING_BASE:
                return getVringBase(msg);
            case SET_VRING_KICK:
            case SET_VRING_CALL:
            case SET_VRING_ERR:
                setVringFd(msg, request);
                return 0;
            case SET_VRING_ENABLE:
                setVringEnable(msg);
                return 0;
            case NET_SET_MTU:
                setMtu(payloadU64(msg));
                return 0;
            default:
                throw new VhostUserException("unsupported request " + name(request) + " (" + msg.size() +
                    " byte payload)");
        }
    }

    /**
     * Requests that set up memory or rings need an owner (vhost-user.rst: SET_OWNER "must be sent before any other
     * setup"); queries (GET_FEATURES, GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM), which QEMU sends first, do not.
     */
    private static boolean needsOwner(final int request)
    {
        switch (request)
        {
            case SET_MEM_TABLE:
            case SET_VRING_NUM:
            case SET_VRING_ADDR:
            case SET_VRING_BASE:
            case SET_VRING_KICK:
            case SET_VRING_CALL:
            case SET_VRING_ERR:
            case SET_VRING_ENABLE:
                return true;
            default:
                return false;
        }
    }

    private void setFeatures(final long requested) throws VhostUserException
    {
        if ((requested & ~OFFERED_FEATURES) != 0)
        {
            throw new VhostUserException("features 0x" + Long.toHexString(requested) + " include bits not offered" +
                " (0x" + Long.toHexString(requested & ~OFFERED_FEATURES) + ")");
        }
        for (final Vring v : vrings)
        {
            if (v.live != null && requested != features)
            {
                throw new VhostUserException("features changed while rings are running");
            }
        }
        features = requested;
        featuresSet = true;
        Log.info(name, "features negotiated 0x" + Long.toHexString(requested) + " (" + describe(requested) + ")");
    }

    static String describe(final long f)
    {
        final StringBuilder sb = new StringBuilder();
        if (has(f, VirtioNet.F_VERSION_1)) sb.append("VERSION_1 ");
        if (has(f, VirtioNet.F_MRG_RXBUF)) sb.append("MRG_RXBUF ");
        if (has(f, VirtioNet.F_RING_EVENT_IDX)) sb.append("EVENT_IDX ");
        if (has(f, VirtioNet.F_RING_INDIRECT_DESC)) sb.append("INDIRECT_DESC ");
        if (has(f, VirtioNet.F_PROTOCOL_FEATURES)) sb.append("PROTOCOL_FEATURES ");
        if (has(f, VirtioNet.F_CSUM)) sb.append("CSUM ");
        if (has(f, VirtioNet.F_GUEST_CSUM)) sb.append("GUEST_CSUM ");
        if (has(f, VirtioNet.F_HOST_TSO4)) sb.append("HOST_TSO4 ");
        if (has(f, VirtioNet.F_HOST_TSO6)) sb.append("HOST_TSO6 ");
        if (has(f, VirtioNet.F_GUEST_TSO4)) sb.append("GUEST_TSO4 ");
        if (has(f, VirtioNet.F_GUEST_TSO6)) sb.append("GUEST_TSO6 ");
        if (has(f, VirtioNet.F_MTU)) sb.append("MTU ");
        if (has(f, VirtioNet.F_IN_ORDER)) sb.append("IN_ORDER ");
        return sb.toString().trim();
    }

    private void setMtu(final long mtu) throws VhostUserException
    {
        if (!has(protocolFeatures, VirtioNet.PROTOCOL_F_NET_MTU))
        {
            throw new VhostUserException("NET_SET_MTU without the MTU protocol feature negotiated");
        }
        if (mtu < 68 || mtu > 65535)
        {
            throw new VhostUserException("NET_SET_MTU " + Long.toUnsignedString(mtu) + " outside 68..65535");
        }
        if (mtu > host.mtu())
        {
            Log.warn(name, "front end MTU " + mtu + " is above the port's " + host.mtu() +
                "; larger frames towards it are dropped and counted (too-big)");
        }
        else
        {
            Log.info(name, "front end MTU " + mtu);
        }
    }

    private void setMemTable(final VhostUserMessage msg) throws VhostUserException
    {
        final int size = msg.size();
        if (size < 8)
        {
            throw new VhostUserException("SET_MEM_TABLE payload of " + size + " bytes");
        }
        final int count = msg.u32(0);
        if (count < 1 || count > GuestMemoryTable.MAX_REGIONS || size != 8 + 32 * count)
        {
            throw new VhostUserException("SET_MEM_TABLE with " + Integer.toUnsignedString(count) + " regions in " +
                size + " bytes");
        }
        if (msg.fdCount != count)
        {
            throw new VhostUserException("SET_MEM_TABLE with " + count + " regions but " + msg.fdCount + " fds");
        }
        final long[] gpa = new long[count];
        final long[] sizes = new long[count];
        final long[] uva = new long[count];
        final long[] offsets = new long[count];
        final int[] fds = new int[count];
        for (int i = 0; i < count; i++)
        {
            final int o = 8 + 32 * i;
            gpa[i] = msg.u64(o);
            sizes[i] = msg.u64(o + 8);
            uva[i] = msg.u64(o + 16);
            offsets[i] = msg.u64(o + 24);
            fds[i] = msg.takeFd(i);
        }
        for (int i = 0; i < count; i++)
        {
            for (int j = i + 1; j < count; j++)
            {
                // Sizes may be hostile: compare without forming an end address that could wrap (map() rejects
                // wrapping regions; an overlap check must not be fooled by one first).
                if (overlaps(gpa[i], sizes[i], gpa[j], sizes[j]) || overlaps(uva[i], sizes[i], uva[j], sizes[j]))
                {
                    for (final int fd : fds)
                    {
                        Fds.close(fd);
                    }
                    throw new VhostUserException("SET_MEM_TABLE regions " + i + " and " + j + " overlap");
                }
            }
        }
        final GuestMemoryTable fresh = GuestMemoryTable.map(count, gpa, sizes, uva, offsets, fds);

        // Rings point into the old table: stop them, swap, unmap, restart them over the new one.
        final boolean[] wasLive = new boolean[MAX_QUEUES];
        for (int q = 0; q < MAX_QUEUES; q++)
        {
            wasLive[q] = vrings[q].live != null;
            deactivate(q);
        }
        final GuestMemoryTable old = memory;
        memory = fresh;
        if (old != null)
        {
            old.close();
        }
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            total += sizes[i];
        }
        Log.info(name, "memory table: " + count + " region(s), " + (total >> 20) + " MiB mapped, " +
            (fresh.hasUnsealedRegions() ? "not sealable against shrinking (size watched)" : "sealed against shrinking"));
        VhostUserException firstFailure = null;
        for (int q = 0; q < MAX_QUEUES; q++)   // try every ring: one that no longer fits must not keep others down
        {
            try
            {
                if (wasLive[q])
                {
                    activate(q);
                }
            }
            catch (final VhostUserException ex)
            {
                firstFailure = firstFailure == null ? ex : firstFailure;
            }
        }
        if (firstFailure != null)
        {
            throw firstFailure;
        }
    }

    /** [a, a+aLen) and [b, b+bLen) share a byte (unsigned, no end address formed). */
    static boolean overlaps(final long a, final long aLen, final long b, final long bLen)
    {
        return Long.compareUnsigned(a, b) <= 0 ? Long.compareUnsigned(b - a, aLen) < 0 :
            Long.compareUnsigned(a - b, bLen) < 0;
    }

    private Vring vring(final long index) throws VhostUserException
    {
        // Validate the whole field, not a truncated copy of it.
        if (index < 0 || index >= MAX_QUEUES)
        {
            throw new VhostUserException("vring index " + Long.toUnsignedString(index) + " out of range (" +
                MAX_QUEUES + " queues)");
        }
        return vrings[(int)index];
    }

    private void setVringNum(final VhostUserMessage msg) throws VhostUserException
    {
        expectSize(msg, 8);
        final Vring v = vring(msg.u32(0) & 0xFFFF_FFFFL);
        final int num = msg.u32(4);
        if (num < 1 || num > VirtioNet.MAX_QUEUE_SIZE || (num & (num - 1)) != 0)
        {
            throw new VhostUserException("vring size " + Integer.toUnsignedString(num) +
                " is not a power of two in 1..32768");
        }
        if (v.live != null)
        {
            throw new VhostUserException("SET_VRING_NUM while the ring is running");
        }
        v.num = num;
    }

    private void setVringAddr(final VhostUserMessage msg) throws VhostUserException
    {
        expectSize(msg, 40);
        final int index = (int)checkIndex(msg.u32(0) & 0xFFFF_FFFFL);
        final Vring v = vrings[index];
        final boolean wasLive = v.live != null;
        deactivate(index);
        v.descUva = msg.u64(8);
        v.usedUva = msg.u64(16);
        v.availUva = msg.u64(24);
        v.addressed = true;
        if (wasLive)
        {
            activate(index);
        }
    }

    private long checkIndex(final long index) throws VhostUserException
    {
        vring(index);
        return index;
    }

    private void setVringBase(final VhostUserMessage msg) throws VhostUserException
    {
        expectSize(msg, 8);
        final Vring v = vring(msg.u32(0) & 0xFFFF_FFFFL);
        if (v.live != null)
        {
            throw new VhostUserException("SET_VRING_BASE while the ring is running");
        }
        final int base = msg.u32(4);
        if ((base & ~0xffff) != 0)
        {
            throw new VhostUserException("SET_VRING_BASE " + Integer.toUnsignedString(base) +
                " does not fit a split ring's 16-bit index");
        }
        v.base = base;
    }

    private int getVringBase(final VhostUserMessage msg) throws VhostUserException
    {
        expectSize(msg, 8);
        final int index = (int)checkIndex(msg.u32(0) & 0xFFFF_FFFFL);
        final Vring v = vrings[index];
        v.started = false;
        deactivate(index);
        Log.info(name, "ring " + index + " stopped at index " + v.base);
        msg.startReply(8);
        msg.putU32(0, index);
        msg.putU32(4, v.base);
        return HEADER_SIZE + 8;
    }

    private void setVringFd(final VhostUserMessage msg, final int request) throws VhostUserException
    {
        expectSize(msg, 8);
        final long value = msg.u64(0);
        if ((value & ~0x1FFL) != 0)
        {
            throw new VhostUserException(name(request) + " payload 0x" + Long.toHexString(value) + " has unknown bits");
        }
        final int index = (int)checkIndex(value & 0xff);
        final boolean noFd = (value & 0x100) != 0;
        if (noFd ? msg.fdCount != 0 : msg.fdCount != 1)
        {
            throw new VhostUserException(name(request) + " for ring " + index + " came with " + msg.fdCount +
                " fds" + (noFd ? " but says it has none" : ", expected 1"));
        }
        final int fd = noFd ? -1 : msg.takeFd(0);
        if (fd >= 0 && !EventFd.isEventFd(fd))
        {
            final String what = EventFd.describe(fd);
            Fds.close(fd);
            throw new VhostUserException(name(request) + " for ring " + index + ": fd is not an eventfd (" + what +
                ")");
        }
        if (fd >= 0)
        {
            EventFd.setNonBlocking(fd);   // hygiene only: the front end shares the description (see quiesce)
        }
        final Vring v = vrings[index];
        if (request == SET_VRING_KICK)
        {
            Fds.close(v.kickFd);
            v.kickFd = fd;
            v.kicksSeen = fd >= 0 ? Math.max(0, EventFd.peekCount(fd)) : 0;
            // A ring is started by its kick fd (vhost-user.rst, "Starting and stopping rings"). We poll rather than
            // wait for kicks, so a front end that never kicks again (e.g. after reconnecting) still gets served.
            v.started = true;
            if (!has(features, VirtioNet.F_PROTOCOL_FEATURES))
            {
                v.enabled = true;
            }
            activate(index);
        }
        else if (request == SET_VRING_CALL)
        {
            final int old = v.callFd;
            v.callFd = fd;
            if (v.live != null)
            {
                v.live.callFd(fd);
                quiesce();   // the PMD may be writing the old fd right now
            }
            Fds.close(old);
        }
        else
        {
            Fds.close(v.errFd);
            v.errFd = fd;
        }
    }

    private void setVringEnable(final VhostUserMessage msg) throws VhostUserException
    {
        expectSize(msg, 8);
        final int index = (int)checkIndex(msg.u32(0) & 0xFFFF_FFFFL);
        final int enable = msg.u32(4);
        if (!has(features, VirtioNet.F_PROTOCOL_FEATURES) && featuresSet)
        {
            throw new VhostUserException("SET_VRING_ENABLE without PROTOCOL_FEATURES negotiated");
        }
        if (enable != 0 && enable != 1)
        {
            throw new VhostUserException("SET_VRING_ENABLE value " + Integer.toUnsignedString(enable));
        }
        vrings[index].enabled = enable == 1;
        if (enable == 1)
        {
            activate(index);
        }
        else
        {
            deactivate(index);
        }
    }

    /** Hands a ring to the data path once everything it needs is known and checked. */
    private void activate(final int index) throws VhostUserException
    {
        final Vring v = vrings[index];
        if (v.live != null || !v.started || !v.enabled || !v.addressed || v.num == 0 || memory == null)
        {
            return;
        }
        final int num = v.num;
        final long desc = memory.uvaToHost(v.descUva, SplitVirtqueue.descTableBytes(num));
        final long avail = memory.uvaToHost(v.availUva, SplitVirtqueue.availRingBytes(num));
        final long used = memory.uvaToHost(v.usedUva, SplitVirtqueue.usedRingBytes(num));
        if (desc == 0 || avail == 0 || used == 0)
        {
            throw new VhostUserException("ring " + index + " addresses (desc 0x" + Long.toHexString(v.descUva) +
                ", avail 0x" + Long.toHexString(v.availUva) + ", used 0x" + Long.toHexString(v.usedUva) +
                ") are not inside guest memory");
        }
        if ((desc & 15) != 0 || (avail & 1) != 0 || (used & 3) != 0)
        {
            throw new VhostUserException("ring " + index + " addresses are misaligned");
        }
        checkNoOverlap(index, desc, avail, used, num);
        // The front end's base is a claim; the ring in guest memory says where the device really stopped.
        final RingResume resume = new RingResume(index, num, v.base, SplitVirtqueue.usedIndex(used),
            SplitVirtqueue.availIndex(avail));
        if (!resume.consistent())
        {
            Log.error(name, resume.refusal());
            throw new VhostUserException(resume.refusal());
        }
        if (resume.recovered())
        {
            Log.warn(name, resume.describe());
            v.base = resume.resumeAt();
            host.ringRecovered(resume);
        }
        final SplitVirtqueue ring = new SplitVirtqueue(num, desc, avail, used, memory,
            has(features, VirtioNet.F_RING_EVENT_IDX), v.callFd, v.base);
        ring.suppressKicks();
        v.live = ring;
        host.publishRing(index, ring, features);
        Log.info(name, "ring " + index + (index % 2 == 0 ? " (guest rx)" : " (guest tx)") + " started: size " +
            num + ", base " + v.base + (v.kickFd < 0 ? ", no kick fd (polled)" : ""));
    }

    /**
     * The parts we write (used rings) must not overlap anything else a ring is made of: no real driver lays rings
     * out that way, and a used ring written over a descriptor table or another ring's avail ring turns the device's
     * own writes into hostile input. Read-only parts (descriptor tables, avail rings) may not overlap each other
     * either, within a ring and across the port's rings.
     */
    private void checkNoOverlap(final int index, final long desc, final long avail, final long used, final int num)
        throws VhostUserException
    {
        final long[] start = new long[3 * MAX_QUEUES];
        final long[] length = new long[3 * MAX_QUEUES];
        final String[] what = new String[3 * MAX_QUEUES];
        int n = 0;
        for (int q = 0; q < MAX_QUEUES; q++)
        {
            final SplitVirtqueue other = q == index ? null : vrings[q].live;
            if (q != index && other == null)
            {
                continue;
            }
            final int size = q == index ? num : other.size();
            start[n] = q == index ? desc : other.descAddress();
            length[n] = SplitVirtqueue.descTableBytes(size);
            what[n++] = "ring " + q + " descriptors";
            start[n] = q == index ? avail : other.availAddress();
            length[n] = SplitVirtqueue.availRingBytes(size);   // with used_event
            what[n++] = "ring " + q + " avail";
            start[n] = q == index ? used : other.usedAddress();
            length[n] = SplitVirtqueue.usedRingBytes(size);    // with avail_event
            what[n++] = "ring " + q + " used";
        }
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                if (Long.compareUnsigned(start[i], start[j] + length[j]) < 0 &&
                    Long.compareUnsigned(start[j], start[i] + length[i]) < 0)
                {
                    throw new VhostUserException("ring " + index + " refused: " + what[i] + " overlaps " + what[j]);
                }
            }
        }
    }

    /** Withdraws a ring from the data path and waits until no PMD round can still be using it. */
    private void deactivate(final int index)
    {
        final Vring v = vrings[index];
        final SplitVirtqueue ring = v.live;
        if (ring == null)
        {
            return;
        }
        host.publishRing(index, null, 0);
        if (!quiesce())
        {
            leakOnReset = true;   // the PMD never came back: leave the ring's memory mapped (we are exiting)
        }
        // Every frame of a round is completed and flushed before the round ends, so the next avail index is
        // exactly where the guest can resume.
        v.base = ring.lastAvailIndex();
        v.live = null;
        if (ring.isBroken())
        {
            Log.warn(name, "ring " + index + " was stopped after the guest broke it (bad avail index or head)");
        }
    }

    /**
     * Counts what the front end sent on the kick eventfds. The data path polls and never waits on them; kicks are
     * suppressed (NO_NOTIFY / avail_event), so a climbing count means a front end that ignores that. The counters
     * are peeked at, never read: a read could block this thread on a description the front end made blocking.
     */
    public void countKicks()
    {
        long kicks = 0;
        for (final Vring v : vrings)
        {
            if (v.kickFd >= 0)
            {
                final long count = EventFd.peekCount(v.kickFd);
                if (count >= 0)
                {
                    kicks += count >= v.kicksSeen ? count - v.kicksSeen : count;   // lower: the front end read it
                    v.kicksSeen = count;
                }
            }
        }
        if (kicks != 0)
        {
            host.counters().add(dev.vswitch.pipeline.PortCounters.KICKS, kicks);
        }
    }

    /**
     * Waits until the PMD can no longer use what was just withdrawn, and frees it if the front end has it blocked:
     * the PMD's only blocking call is the write to a call eventfd, which blocks while the counter is saturated and
     * the description is blocking, both of which the front end controls. A read of the counter (from here, with
     * O_NONBLOCK set again) wakes that write. Never throws; returns false only after {@link #abandonWaits()}.
     */
    private boolean quiesce()
    {
        final long start = System.nanoTime();
        long nextLog = start + TimeUnit.SECONDS.toNanos(5);
        while (!barrier.awaitQuiescent(QUIESCE_SLICE_NANOS))
        {
            releaseStuckSignals(0);
            final long now = System.nanoTime();
            if (abandonWaits && now - start > ABANDON_AFTER_NANOS)
            {
                Log.warn(name, "data path did not finish a round in " + TimeUnit.NANOSECONDS.toMillis(now - start) +
                    " ms while stopping; leaving this port's memory mapped");
                return false;
            }
            if (now - nextLog > 0)
            {
                Log.warn(name, "still waiting for the data path (" + TimeUnit.NANOSECONDS.toSeconds(now - start) +
                    " s)");
                nextLog = now + TimeUnit.SECONDS.toNanos(5);
            }
        }
        return true;
    }

    /**
     * Frees the PMD from each of this device's rings whose call-fd write has lasted longer than {@code minNanos}.
     *
     * @return true if one was found.
     */
    private boolean releaseStuckSignals(final long minNanos)
    {
        boolean found = false;
        for (final Vring v : vrings)
        {
            final SplitVirtqueue ring = v.live;
            if (ring == null)
            {
                continue;
            }
            if (ring.isSignallingLongerThan(System.nanoTime(), minNanos))
            {
                EventFd.releaseBlockedWriter(ring.signallingFd());
                found = true;
            }
        }
        return found;
    }

    /**
     * Called by the control thread after every message, at its housekeeping and when the {@link DataPathWatchdog}
     * wakes it ({@link #dataPathNeedsControl} true): throws, so the endpoint drops the front end and resets the
     * device, if the data path quarantined the port, if the guest memory under the rings was truncated, or if a
     * call-fd write has blocked the PMD for longer than {@link #SIGNAL_STUCK_NANOS} (then the rings are withdrawn
     * first, so the PMD cannot be caught again on the way out, and it is freed).
     */
    public void watchDataPath() throws VhostUserException
    {
        final String quarantine = host.quarantineReason();
        if (quarantine != null)
        {
            throw new VhostUserException("data path quarantined the port after a fault in " + quarantine);
        }
        for (int q = 0; q < MAX_QUEUES; q++)
        {
            final SplitVirtqueue ring = vrings[q].live;
            if (ring == null)
            {
                continue;
            }
            final long since = ring.signallingSince();
            if (SplitVirtqueue.isSignallingLongerThan(since, System.nanoTime(), SIGNAL_STUCK_NANOS))
            {
                host.counters().increment(dev.vswitch.pipeline.PortCounters.SIGNAL_STUCK);
                host.publishRing(0, null, 0);
                host.publishRing(1, null, 0);
                releaseStuckSignals(0);
                throw new VhostUserException("ring " + q + ": writing its call eventfd blocked the data path for " +
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since) + " ms (counter saturated, " +
                    "O_NONBLOCK cleared by the front end)");
            }
        }
        final GuestMemoryTable m = memory;
        if (m != null && m.hasUnsealedRegions() && (vrings[0].live != null || vrings[1].live != null) &&
            m.isTruncated())
        {
            host.publishRing(0, null, 0);
            host.publishRing(1, null, 0);
            throw new VhostUserException("guest memory was truncated under the mapped rings");
        }
    }

    /**
     * For the {@link DataPathWatchdog}, from its thread: true if {@link #watchDataPath} would now find the port
     * quarantined or a call-fd write stuck. Volatile reads only.
     */
    boolean dataPathNeedsControl(final long nowNanos)
    {
        return host.dataPathNeedsControl(nowNanos, SIGNAL_STUCK_NANOS);
    }

    /** The switch is stopping: from now on a wait for the PMD ends after a bound instead of lasting. */
    public void abandonWaits()
    {
        abandonWaits = true;
    }

    /** Back to a fresh device: rings stopped, fds closed, memory unmapped (the connection went away). */
    public void reset()
    {
        for (int q = 0; q < MAX_QUEUES; q++)
        {
            deactivate(q);
            final Vring v = vrings[q];
            Fds.close(v.kickFd);
            Fds.close(v.callFd);
            Fds.close(v.errFd);
            vrings[q] = new Vring();
        }
        if (memory != null)
        {
            if (!leakOnReset)
            {
                memory.close();
            }
            memory = null;
        }
        host.clearQuarantine();
        features = 0;
        owned = false;
        featuresSet = false;
        protocolFeatures = 0;
    }

    @Override
    public void close()
    {
        reset();
    }

    private static long payloadU64(final VhostUserMessage msg) throws VhostUserException
    {
        expectSize(msg, 8);
        return msg.u64(0);
    }

    private static void expectSize(final VhostUserMessage msg, final int expected) throws VhostUserException
    {
        if (msg.size() != expected)
        {
            throw new VhostUserException(name(msg.request()) + " payload is " + msg.size() + " bytes, expected " +
                expected);
        }
    }

    private static int replyU64(final VhostUserMessage msg, final long value)
    {
        msg.startReply(8);
        msg.putU64(0, value);
        return HEADER_SIZE + 8;
    }
}
