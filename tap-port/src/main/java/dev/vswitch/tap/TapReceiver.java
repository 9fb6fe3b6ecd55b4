package dev.vswitch.tap;

import dev.vswitch.nativeio.Errno;
import dev.vswitch.nativeio.LibC;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.offload.EthernetLayout;
import dev.vswitch.pipeline.offload.OffloadPolicy;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import org.agrona.BufferUtil;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;

/**
 * A TAP port's receive path (switch &lt;- host): one non-blocking {@code read(2)} per frame into a pool of
 * {@code burst} switch-owned buffers, the kernel's {@code virtio_net_hdr} checked as every port checks a received
 * header ({@link OffloadPolicy#checkReceived}), the frame published as one segment pointing into its buffer.
 *
 * <h2>Buffer ownership</h2>
 * The buffer is the frame's until the pipeline calls {@link #complete}. Buffers are handed out in ring order and the
 * pipeline gives them back in the same order: the Disruptor runs the one pipeline handler over events in sequence
 * order, and {@code PmdAgent} runs every frame received in a round through the stages and {@code complete()} before
 * that round ends. So every buffer is free again when the next round's {@link #receive} starts, and {@code burst}
 * buffers cover a whole budget ({@code PmdAgent} never hands a port more than {@code burst}). This class does not
 * merely trust this: it counts frames in flight and takes no more than the free buffers, so a caller that kept
 * frames across rounds would only slow the port down, never have a frame overwritten under it. A caller that
 * completed this port's frames out of order would break the invariant; the pipeline cannot.
 *
 * <p>PMD thread only; allocates nothing after construction.
 */
final class TapReceiver
{
    /** Largest frame a read can return: the largest MTU the kernel allows a tap, plus link headers fit the slack. */
    static final int MAX_FRAME = 65535;
    /** Room past the 64 KiB frame for the Ethernet + VLAN headers of a 65535-byte MTU frame, and then some. */
    static final int SLACK = 256;
    /** Bytes offered to each read: header, then the frame. A read returning more than this was truncated. */
    static final int READ_CAPACITY = VirtioNetHdr.LENGTH + MAX_FRAME + SLACK;
    /** Distance between two pool buffers; a multiple of the cache line so each buffer starts on one. */
    static final int STRIDE = (READ_CAPACITY + 63) & ~63;

    private final int portId;
    private final PortCounters counters;
    private final TapErrors errors;
    /** Offloads the kernel may ask for (what TUNSETOFFLOAD gave it), as ACCEPTS_* bits. */
    private final int kernelSends;
    private final ByteBuffer poolMemory;
    private final long poolAddress;
    private final int poolSize;
    private final VirtioNetHdr header = new VirtioNetHdr();
    private int nextBuffer;
    private int inFlight;

    TapReceiver(final int portId, final int burst, final boolean offloads, final PortCounters counters,
        final TapErrors errors)
    {
        this.portId = portId;
        this.counters = counters;
        this.errors = errors;
        this.kernelSends = TapOffloads.accepts(offloads);
        poolSize = burst;
        poolMemory = BufferUtil.allocateDirectAligned(burst * STRIDE, 64);
        poolAddress = BufferUtil.address(poolMemory);
    }

    /** Reads up to {@code budget} frames (no more than the free buffers) and publishes the good ones. */
    int receive(final int fd, final PacketPublisher publisher, final int budget)
    {
        final int reads = Math.min(budget, poolSize - inFlight);
        final VirtioNetHdr h = header;
        int taken = 0;
        int published = 0;
        int gso = 0;
        long bytes = 0;
        int slot = nextBuffer;
        while (taken < reads)
        {
            final long buffer = poolAddress + (long)slot * STRIDE;
            final long got = LibC.Raw.read(fd, buffer, READ_CAPACITY);
            if (got < 0)
            {
                final int errno = Errno.last();
                if (Errno.EINTR == errno)
                {
                    continue;
                }
                if (Errno.EAGAIN != errno)
                {
                    errors.readFailed(errno);
                }
                break;   // EAGAIN: nothing queued
            }
            taken++;
            final int frameLength = (int)got - VirtioNetHdr.LENGTH;
            h.wrap(buffer);
            int reason;
            if (got < VirtioNetHdr.LENGTH)
            {
                reason = DropReason.BAD_HEADER;
            }
            else if (got > READ_CAPACITY)
            {
                reason = DropReason.TOO_BIG;   // the kernel returns the full length of a frame it had to truncate
            }
            else
            {
                // malformed, or asking for offloads this tap was not given
                reason = OffloadPolicy.checkReceived(h.flags(), h.gsoType(), h.hdrLen(), h.gsoSize(), h.csumStart(),
                    h.csumOffset(), frameLength, kernelSends);
                if (reason == DropReason.NONE && frameLength < EthernetLayout.ETH_HLEN)
                {
                    reason = DropReason.RUNT;
                }
            }
            if (reason != DropReason.NONE)
            {
                counters.drop(reason);   // the buffer was never published: the next read reuses it
                continue;
            }

            final PacketEvent e = publisher.claim(portId);
            e.completionToken = slot;
            h.copyTo(e);
            e.addSegment(buffer + VirtioNetHdr.LENGTH, frameLength);
            publisher.publish();

            if (e.gsoType != VirtioNetHdr.GSO_NONE)
            {
                gso++;
            }
            published++;
            bytes += frameLength;
            slot = slot + 1 == poolSize ? 0 : slot + 1;
        }
        nextBuffer = slot;
        inFlight += published;
        if (taken > 0)
        {
            // Like the vhost-user port: rx counts every frame taken, bytes only those that went on.
            counters.add(PortCounters.RX_PACKETS, taken);
            counters.add(PortCounters.RX_BYTES, bytes);
            if (gso > 0)
            {
                counters.add(PortCounters.RX_GSO, gso);
            }
        }
        Reference.reachabilityFence(poolMemory);
        return published;
    }

    /** The pipeline is done with a received frame: its buffer (the oldest in flight) is free for the next read. */
    void complete()
    {
        if (inFlight > 0)
        {
            inFlight--;
        }
    }
}
