package dev.vswitch.bench.latency;

import dev.vswitch.nativeio.EventFd;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import dev.vswitch.vhost.VirtioNet;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.agrona.UnsafeAccess;
import sun.misc.Unsafe;

import java.io.IOException;
import java.nio.file.Path;

/**
 * One measuring "guest": a vhost-user front end ({@link FrontEnd}, the test-jar's QEMU stand-in) with its own memfd
 * guest memory and one queue pair of driver-side split rings ({@link DriverRing} lays them out), driven in poll mode
 * without allocation.
 * <p>
 * The rings are used the way DPDK's virtio PMD uses them: every descriptor owns one fixed 2 KiB buffer (descriptor
 * {@code i} always points at buffer {@code i}), so the hot path only writes lengths, avail entries and the avail
 * index. RX: all descriptors are posted up front and each one is re-posted as soon as its frame has been read.
 * TX: a stack of free descriptor ids, refilled from the used ring. Both rings carry NO_INTERRUPT (we poll, so the
 * device need not write the call eventfds). Kicks are off by default (both devices under test poll their rings);
 * with {@code kicks} on, the TX and RX rings are kicked after a publish unless the device set NO_NOTIFY, as a
 * virtio driver does.
 * <p>
 * Not thread-safe: one thread drives both rings.
 */
final class ProbePort implements AutoCloseable
{
    static final int BUFFER_BYTES = 2048;
    /** VERSION_1 + MRG_RXBUF (12-byte header) + PROTOCOL_FEATURES; no EVENT_IDX, no offloads. */
    static final long WANTED_FEATURES = VirtioNet.bit(VirtioNet.F_VERSION_1) | VirtioNet.bit(VirtioNet.F_MRG_RXBUF) |
        VirtioNet.bit(VirtioNet.F_PROTOCOL_FEATURES);

    private static final Unsafe U = UnsafeAccess.UNSAFE;

    private final String name;
    private final int size;
    private final int mask;
    private final boolean kicks;
    private final GuestMemory mem;
    private final FrontEnd frontEnd;
    private final long features;
    private final int headerLength;

    // RX ring (queue 0): device-writable buffers.
    private final long rxAvail;       // host address of avail ring
    private final long rxUsed;        // host address of used ring
    private final long rxBuffers;     // host address of buffer 0
    private int rxAvailIdx;
    private int rxLastUsed;
    private final int rxKickFd;

    // TX ring (queue 1).
    private final long txDesc;
    private final long txAvail;
    private final long txUsed;
    private final long txBuffers;
    private final int[] txFree;
    private int txFreeCount;
    private int txAvailIdx;
    private int txLastUsed;
    private final int txKickFd;

    private ProbePort(final String name, final int size, final boolean kicks, final GuestMemory mem,
        final FrontEnd frontEnd, final DriverRing rx, final DriverRing tx, final long rxBufferGpa,
        final long txBufferGpa, final long features)
    {
        this.name = name;
        this.size = size;
        this.mask = size - 1;
        this.kicks = kicks;
        this.mem = mem;
        this.frontEnd = frontEnd;
        this.features = features;
        this.headerLength = VirtioNet.has(features, VirtioNet.F_VERSION_1) ||
            VirtioNet.has(features, VirtioNet.F_MRG_RXBUF) ? VirtioNetHdr.LENGTH : VirtioNetHdr.LENGTH_LEGACY;
        this.rxAvail = rx.availHost();
        this.rxUsed = rx.usedHost();
        this.rxAvailIdx = rx.availIdx();
        this.rxLastUsed = rx.lastUsed();
        this.rxBuffers = mem.host(rxBufferGpa);
        this.rxKickFd = frontEnd.kickFd(FrontEnd.RX_QUEUE);
        this.txDesc = tx.descHost();
        this.txAvail = tx.availHost();
        this.txUsed = tx.usedHost();
        this.txAvailIdx = tx.availIdx();
        this.txLastUsed = tx.lastUsed();
        this.txBuffers = mem.host(txBufferGpa);
        this.txKickFd = frontEnd.kickFd(FrontEnd.TX_QUEUE);
        this.txFree = new int[size];
        for (int i = 0; i < size; i++)
        {
            txFree[i] = size - 1 - i;
        }
        txFreeCount = size;
    }

    /**
     * Connects to a device under test listening on {@code socket}, starts the device (memfd guest memory, two rings
     * of {@code size}) and posts every RX buffer.
     */
    static ProbePort open(final String name, final Path socket, final int size, final boolean kicks,
        final int connectTimeoutMillis) throws IOException
    {
        final long ringBytes = (DriverRing.footprint(size) + 4095) & -4096L;
        final long memBytes = 2 * ringBytes + 2L * size * BUFFER_BYTES + (1 << 20);
        final GuestMemory mem = GuestMemory.create("latency-probe-" + name, memBytes, GuestMemory.DEFAULT_GPA,
            GuestMemory.DEFAULT_UVA);
        FrontEnd fe = null;
        try
        {
            final DriverRing rx = DriverRing.allocate(mem, size);
            final DriverRing tx = DriverRing.allocate(mem, size);
            final long rxBuf = mem.alloc((long)size * BUFFER_BYTES, 4096);
            final long txBuf = mem.alloc((long)size * BUFFER_BYTES, 4096);
            for (int i = 0; i < size; i++)
            {
                rx.writeDesc(i, rxBuf + (long)i * BUFFER_BYTES, BUFFER_BYTES, VirtioNet.DESC_F_WRITE, 0);
                tx.writeDesc(i, txBuf + (long)i * BUFFER_BYTES, 0, 0, 0);
            }
            // We poll: ask the device not to signal the call eventfds.
            rx.setAvailFlags(VirtioNet.AVAIL_F_NO_INTERRUPT);
            tx.setAvailFlags(VirtioNet.AVAIL_F_NO_INTERRUPT);
            fe = FrontEnd.connect(socket, connectTimeoutMillis).timeoutMillis(5_000);
            final long features = fe.startDevice(mem, rx, tx, WANTED_FEATURES);
            final ProbePort port = new ProbePort(name, size, kicks, mem, fe, rx, tx, rxBuf, txBuf, features);
            for (int i = 0; i < size; i++)
            {
                port.rxRepost(i);
            }
            port.rxPublish();
            return port;
        }
        catch (final IOException | RuntimeException ex)
        {
            if (fe != null)
            {
                fe.close();
            }
            mem.close();
            throw ex;
        }
    }

    String name()
    {
        return name;
    }

    long features()
    {
        return features;
    }

    int headerLength()
    {
        return headerLength;
    }

    // ------------------------------------------------------------------ RX

    /** Used RX elements the device has published and we have not consumed (acquire load of used->idx). */
    int rxPending()
    {
        return ((U.getShortVolatile(null, rxUsed + 2) & 0xffff) - rxLastUsed) & 0xffff;
    }

    /** Descriptor id of the {@code k}-th pending used element (k < {@link #rxPending()}). */
    int rxId(final int k)
    {
        return U.getInt(rxUsed + 4 + 8L * ((rxLastUsed + k) & mask));
    }

    /** Bytes the device wrote into the {@code k}-th pending element (virtio-net header included). */
    int rxLen(final int k)
    {
        return U.getInt(rxUsed + 4 + 8L * ((rxLastUsed + k) & mask) + 4);
    }

    /** Host address of the frame (after the virtio-net header) in RX buffer {@code id}. */
    long rxFrame(final int id)
    {
        return rxBuffers + (long)(id & mask) * BUFFER_BYTES + headerLength;
    }

    /** Marks {@code n} used elements consumed. Re-post their buffers with {@link #rxRepost}, then {@link #rxPublish}. */
    void rxConsume(final int n)
    {
        rxLastUsed = (rxLastUsed + n) & 0xffff;
    }

    /** Writes buffer {@code id} into the next avail slot (not yet visible to the device). */
    void rxRepost(final int id)
    {
        U.putShort(rxAvail + 4 + 2L * (rxAvailIdx & mask), (short)id);
        rxAvailIdx = (rxAvailIdx + 1) & 0xffff;
    }

    /** Release store of avail->idx (and a kick if enabled and wanted). */
    void rxPublish()
    {
        U.putShortVolatile(null, rxAvail + 2, (short)rxAvailIdx);
        if (kicks && (U.getShortVolatile(null, rxUsed) & VirtioNet.USED_F_NO_NOTIFY) == 0)
        {
            EventFd.signal(rxKickFd);
        }
    }

    // ------------------------------------------------------------------ TX

    /** Returns descriptors the device has finished with to the free stack. */
    void txReclaim()
    {
        final int usedIdx = U.getShortVolatile(null, txUsed + 2) & 0xffff;
        while (txLastUsed != usedIdx)
        {
            txFree[txFreeCount++] = U.getInt(txUsed + 4 + 8L * (txLastUsed & mask)) & mask;
            txLastUsed = (txLastUsed + 1) & 0xffff;
        }
    }

    /** A free TX descriptor id (reclaiming first if none is free), or -1 if the device holds all of them. */
    int txAcquire()
    {
        if (txFreeCount == 0)
        {
            txReclaim();
            if (txFreeCount == 0)
            {
                return -1;
            }
        }
        return txFree[--txFreeCount];
    }

    /** Host address where the frame of TX buffer {@code id} goes (its virtio-net header stays all zero). */
    long txFrame(final int id)
    {
        return txBuffers + (long)id * BUFFER_BYTES + headerLength;
    }

    /** Queues TX buffer {@code id} holding a frame of {@code frameLength} bytes (not yet visible). */
    void txPost(final int id, final int frameLength)
    {
        U.putInt(txDesc + 16L * id + 8, headerLength + frameLength);
        U.putShort(txAvail + 4 + 2L * (txAvailIdx & mask), (short)id);
        txAvailIdx = (txAvailIdx + 1) & 0xffff;
    }

    /** Release store of avail->idx (and a kick if enabled and the device did not set NO_NOTIFY). */
    void txPublish()
    {
        U.putShortVolatile(null, txAvail + 2, (short)txAvailIdx);
        if (kicks && (U.getShortVolatile(null, txUsed) & VirtioNet.USED_F_NO_NOTIFY) == 0)
        {
            EventFd.signal(txKickFd);
        }
    }

    /** TX descriptors the device has not returned yet. */
    int txOutstanding()
    {
        return size - txFreeCount;
    }

    /** Stops the rings the way QEMU does (GET_VRING_BASE), closes the connection and unmaps the memory. */
    @Override
    public void close()
    {
        try
        {
            frontEnd.stopDevice();
        }
        catch (final IOException | RuntimeException ignored)
        {
            // the device under test may already be gone; closing is all that is left to do
        }
        frontEnd.close();
        mem.close();
    }
}
