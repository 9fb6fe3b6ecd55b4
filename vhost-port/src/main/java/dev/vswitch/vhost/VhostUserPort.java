package dev.vswitch.vhost;

import dev.vswitch.pipeline.DatapathBarrier;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.offload.ChecksumCompletion;
import dev.vswitch.pipeline.offload.EthernetLayout;
import dev.vswitch.pipeline.offload.OffloadPolicy;
import dev.vswitch.pipeline.offload.TcpSegmenter;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import org.agrona.BufferUtil;
import org.agrona.UnsafeAccess;
import sun.misc.Unsafe;

import java.nio.ByteBuffer;

/**
 * A vhost-user port's data path. The switch reads frames from the guest's TX ring (queue 1) and writes frames into
 * its RX ring (queue 0). Rings are published by the control plane ({@link VhostUserDevice}) through volatile
 * fields; the PMD reads each once per call.
 */
public final class VhostUserPort implements SwitchPort, VhostUserDevice.RingHost
{
    /** Most RX buffers one frame may spread over with MRG_RXBUF (64 KB frame into 1.5 KB buffers needs 44). */
    static final int MAX_RX_BUFFERS = 64;
    private static final int MAX_RX_SEGMENTS = 256;
    /** PAUSEs between two re-checks of an empty RX ring: long enough for a refill in flight to land, no more. */
    private static final int RETRY_SPINS = 8;
    private static final Unsafe U = UnsafeAccess.UNSAFE;
    static final int MAX_MTU = 65535;
    /** Most frames one receive call takes (the configured burst is at most 256). */
    static final int MAX_BATCH = 256;
    /**
     * Frames up to this long are delivered whole from their event's head (see {@link PacketEvent#headBytes}), so
     * before delivery every line they take of the next destination buffers is stored to (claimLinesAhead), in a
     * pass over the burst so the misses to the other core overlap. Of a longer frame's buffer only the head's lines
     * are: the copy streams the rest and the hardware prefetcher follows it, while taking 512 bytes of each
     * 1500-byte frame ahead filled the L1 with lines evicted before their copy (0.93x).
     */
    static final int WHOLE_AHEAD_BYTES = PacketEvent.WHOLE_FRAME_BYTES;
    /** What a longer frame's destination buffer gets claimed of: the header's line and the next. */
    private static final int HEAD_AHEAD_BYTES = 65;
    /**
     * Most segments the super-frames one port sends may cause per PMD round: 64 KB frames at a 1448-byte MSS are 45
     * segments each, so a legitimate burst of 32 is ~1,450. Super-frames past the budget are dropped at the source
     * (counted there as rate-limited); the rest of the round belongs to the other ports.
     */
    public static final int GSO_SEGMENT_BUDGET = 4096;

    private final int id;
    private final String name;
    private final int rxRetries;
    /** Largest payload (IP packet) the port takes: a frame may be mtu + 14, + 4 when VLAN-tagged. */
    private final int mtu;
    private final PortCounters counters = new PortCounters();

    private volatile SplitVirtqueue rxRing;   // guest RX: we fill it
    private volatile SplitVirtqueue txRing;   // guest TX: we drain it
    /** Why the PMD took the port out of service (null while it serves it); the control thread resets the device. */
    private volatile String quarantined;
    /** The memory the published rings point into, for {@link #isDamaged}. */
    private volatile GuestMemoryTable memory;
    private volatile long ringRecoveries;
    private volatile long inFlightLost;
    // Negotiated with the current front end; written before the volatile ring store that publishes them.
    private volatile int headerLength = VirtioNetHdr.LENGTH;
    private volatile boolean mergeable;
    private volatile long features;
    /** Offloads the guest may ask for in what it sends (HOST_*), as {@link OffloadPolicy} ACCEPTS_* bits. */
    private volatile int guestSends;
    /** Offloads the guest takes in what it receives (GUEST_*), as {@link OffloadPolicy} ACCEPTS_* bits. */
    private volatile int guestAccepts;

    // Scratch owned by the PMD thread, allocated once.
    private final ByteBuffer headerMemory = BufferUtil.allocateDirectAligned(64, 64);
    /** The virtio_net_hdr of the frame at hand, read or written in the scratch buffer (a guest may split it). */
    private final VirtioNetHdr header = new VirtioNetHdr().wrap(BufferUtil.address(headerMemory));
    private final OffloadPolicy offloadPolicy = new OffloadPolicy();
    private final long[] dstAddress = new long[MAX_RX_SEGMENTS];
    private final int[] dstLength = new int[MAX_RX_SEGMENTS];
    private final int[] bufferHead = new int[MAX_RX_BUFFERS];
    private final long[] bufferBytes = new long[MAX_RX_BUFFERS];
    private final int[] batchHeads = new int[MAX_BATCH];
    private final PacketEvent[] batchEvents = new PacketEvent[MAX_BATCH];
    private int cursorSegment;
    private int cursorOffset;
    private boolean starvedThisRound;
    private int receivedThisRound;
    /** Set while a receive call holds chains it has not published: the ring and where it started. PMD-owned. */
    private SplitVirtqueue receiveRing;
    private int receiveCheckpoint;
    /** Segments this port's super-frames of the round would be cut into (at most, if a peer lacks TSO). */
    private int gsoSegmentsThisRound;
    /** Frames and bytes delivered to the guest this round: added to the counters once, at flush. PMD-owned. */
    private long txFramesThisRound;
    private long txBytesThisRound;
    private final TcpSegmenter segmenter = new TcpSegmenter(256 + MAX_MTU);
    private final PacketEvent segmentEvent = new PacketEvent();
    private final SegmentSink segmentSink = new SegmentSink();
    private SplitVirtqueue segmentRing;

    /** A port without an MTU limit of its own (frames up to 64 KB). */
    public VhostUserPort(final int id, final String name, final int rxRetries)
    {
        this(id, name, rxRetries, MAX_MTU);
    }

    public VhostUserPort(final int id, final String name, final int rxRetries, final int mtu)
    {
        this.id = id;
        this.name = name;
        this.rxRetries = rxRetries;
        this.mtu = mtu;
    }

    @Override
    public int mtu()
    {
        return mtu;
    }

    @Override
    public int id()
    {
        return id;
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public PortCounters counters()
    {
        return counters;
    }

    @Override
    public boolean isUp()
    {
        return rxRing != null;
    }

    /** Virtio features negotiated with the current front end (0 before the first one started its rings). */
    public long features()
    {
        return features;
    }

    public boolean isReceiving()
    {
        return txRing != null;
    }

    /** For tests and benchmarks that lay rings out themselves: no offloads negotiated. */
    public void publishRing(final int index, final SplitVirtqueue ring, final int headerLength,
        final boolean mergeable)
    {
        publishRing(index, ring, (mergeable ? VirtioNet.bit(VirtioNet.F_MRG_RXBUF) : 0) |
            (headerLength == VirtioNetHdr.LENGTH ? VirtioNet.bit(VirtioNet.F_VERSION_1) : 0));
    }

    @Override
    public void publishRing(final int index, final SplitVirtqueue ring, final long features)
    {
        if (ring != null && quarantined != null)
        {
            return;   // the control thread is about to reset the device: nothing goes back to the PMD before that
        }
        if (ring != null)
        {
            this.memory = ring.memory();
            this.mergeable = VirtioNet.has(features, VirtioNet.F_MRG_RXBUF);
            this.headerLength = VirtioNet.has(features, VirtioNet.F_VERSION_1) || mergeable ?
                VirtioNetHdr.LENGTH : VirtioNetHdr.LENGTH_LEGACY;
            this.guestSends = offloads(features, VirtioNet.F_CSUM, VirtioNet.F_HOST_TSO4, VirtioNet.F_HOST_TSO6,
                VirtioNet.F_HOST_ECN);
            this.guestAccepts = offloads(features, VirtioNet.F_GUEST_CSUM, VirtioNet.F_GUEST_TSO4,
                VirtioNet.F_GUEST_TSO6, VirtioNet.F_GUEST_ECN);
            this.features = features;
        }
        if (index == 0)
        {
            rxRing = ring;
        }
        else
        {
            txRing = ring;
        }
    }

    /** The negotiated feature bits of one direction as {@link OffloadPolicy} ACCEPTS_* bits. */
    private static int offloads(final long features, final int csum, final int tso4, final int tso6, final int ecn)
    {
        return (VirtioNet.has(features, csum) ? OffloadPolicy.ACCEPTS_CSUM : 0) |
            (VirtioNet.has(features, tso4) ? OffloadPolicy.ACCEPTS_TSO4 : 0) |
            (VirtioNet.has(features, tso6) ? OffloadPolicy.ACCEPTS_TSO6 : 0) |
            (VirtioNet.has(features, ecn) ? OffloadPolicy.ACCEPTS_ECN : 0);
    }

    /** On the PMD thread: stop touching the guest's memory now; the control thread resets the device. */
    @Override
    public void quarantine(final String reason)
    {
        rxRing = null;
        txRing = null;
        quarantined = reason;
    }

    /** Why the data path took the port out of service, or null. */
    public String quarantineReason()
    {
        return quarantined;
    }

    @Override
    public boolean dataPathNeedsControl(final long nowNanos, final long stuckNanos)
    {
        final SplitVirtqueue rx = rxRing;
        final SplitVirtqueue tx = txRing;
        return quarantined != null || (rx != null && rx.isSignallingLongerThan(nowNanos, stuckNanos)) ||
            (tx != null && tx.isSignallingLongerThan(nowNanos, stuckNanos));
    }

    /** The control thread has reset the device: a new front end may start rings again. */
    public void clearQuarantine()
    {
        quarantined = null;
        memory = null;
    }

    /** True if the guest memory under the rings was truncated (the mappings would fault). Fault path only. */
    @Override
    public boolean isDamaged()
    {
        final GuestMemoryTable m = memory;
        return m != null && (rxRing != null || txRing != null) && m.isTruncated();
    }

    /** Creates the control-plane device for this port's connections. */
    public VhostUserDevice newDevice(final DatapathBarrier barrier)
    {
        return new VhostUserDevice(name, this, barrier);
    }

    @Override
    public void ringRecovered(final RingResume resume)
    {
        ringRecoveries++;
        inFlightLost += resume.lost();
    }

    /** Rings started from the ring's own used index instead of the front end's base (control thread writes). */
    public long ringRecoveries()
    {
        return ringRecoveries;
    }

    /** Frames lost in chains a previous back end took and never returned, when the front end's base told. */
    public long inFlightLost()
    {
        return inFlightLost;
    }

    // ------------------------------------------------------------------ switch <- guest TX

    @Override
    public int receive(final PacketPublisher publisher, final int budget)
    {
        final SplitVirtqueue ring = txRing;
        if (ring == null)
        {
            return 0;
        }
        final int n = Math.min(Math.min(ring.available(), budget), MAX_BATCH);
        // Where to go back to if this call is cut short by a throw (see abortReceive).
        receiveRing = ring;
        receiveCheckpoint = ring.checkpoint();
        final int[] heads = batchHeads;
        int taken = 0;
        while (taken < n)
        {
            final int head = ring.pop();
            if (head < 0)
            {
                break;   // the guest wrote a head index outside the ring: ring is marked broken
            }
            heads[taken++] = head;
        }
        if (taken == 0)
        {
            receiveRing = null;
            return 0;
        }
        // The burst is taken in passes rather than frame by frame: each frame's descriptors and bytes were just
        // written by the guest's core, so every first read of them is a miss to that core. Done back to back for
        // the whole burst, those misses overlap; interleaved with each frame's own work, they would queue.
        publisher.claimBatch(taken);
        final PacketEvent[] events = batchEvents;
        for (int i = 0; i < taken; i++)
        {
            final PacketEvent e = publisher.batchEvent(i, id);
            events[i] = e;
            e.completionToken = heads[i];
            final int segs = ring.walk(heads[i], e.segAddress, e.segLength, 0, false);
            if (segs < 0)
            {
                e.sourceDropReason = DropReason.BAD_CHAIN;
            }
            else
            {
                e.segCount = segs;
                e.frameLength = (int)ring.chainBytes();
            }
        }
        final int hdrLen = headerLength;
        takeHeads(events, taken, hdrLen);
        long bytes = 0;
        for (int i = 0; i < taken; i++)
        {
            final PacketEvent e = events[i];
            if (e.sourceDropReason == DropReason.NONE)
            {
                e.sourceDropReason = stripHeader(e, hdrLen);
            }
            if (e.sourceDropReason != DropReason.NONE)
            {
                counters.drop(e.sourceDropReason);
            }
            else if (e.gsoType != VirtioNetHdr.GSO_NONE &&
                (e.sourceDropReason = checkSuperFrame(e)) != DropReason.NONE)
            {
                counters.drop(e.sourceDropReason);
            }
            else
            {
                bytes += e.frameLength;
                if (e.gsoType != VirtioNetHdr.GSO_NONE)
                {
                    counters.increment(PortCounters.RX_GSO);
                }
            }
        }
        receiveRing = null;   // from here on the frames belong to the pipeline, which completes them
        publisher.publishBatch();
        receivedThisRound += taken;
        counters.add(PortCounters.RX_PACKETS, taken);
        counters.add(PortCounters.RX_BYTES, bytes);
        return taken;
    }

    /**
     * A throw cut the last receive short before its frames were published (the PMD publishes what was claimed
     * as dropped, without completions): un-take the chains, so the guest loses no descriptor and the frames are
     * taken again next round. Matters for a port that is not quarantined, e.g. when HotSpot delivers another
     * port's memory fault here (see PmdAgent).
     */
    @Override
    public void abortReceive()
    {
        final SplitVirtqueue ring = receiveRing;
        if (ring != null)
        {
            receiveRing = null;
            ring.rewind(receiveCheckpoint);
        }
    }

    /** Where takeHeads leaves the sum of the bytes it touched, so the JIT cannot drop the loads as unused. */
    private long touchSink;

    /**
     * Each frame's head into its event, in one pass over the burst before anything else reads the frames: the copy
     * is each frame's first read of its bytes, back to back for the burst, so the misses to the guest's core overlap
     * instead of queueing one per frame, and no byte is read twice. The usual layout (Linux and DPDK put the
     * virtio_net_hdr and the frame in one buffer) is copied from the first segment, past the header
     * ({@link PacketEvent#copyHead}); a frame laid out otherwise has the lines of its first segment that the header
     * strip and classify will read touched instead (plain loads with no use but a sum), and classify copies its head
     * ({@link PacketEvent#takeHead}).
     */
    private void takeHeads(final PacketEvent[] events, final int count, final int hdrLen)
    {
        final int skip = guestSends == 0 ? hdrLen : 0;   // then the header is not read (headerStripped)
        long sum = 0;
        for (int i = 0; i < count; i++)
        {
            final PacketEvent e = events[i];
            final int frameLength = e.frameLength - hdrLen;
            if (e.sourceDropReason != DropReason.NONE || e.segCount == 0 || frameLength < EthernetLayout.ETH_HLEN)
            {
                continue;   // dropped by stripHeader
            }
            final long address = e.segAddress[0];
            final int head = PacketEvent.headBytes(frameLength);
            final int limit = Math.min(e.segLength[0], hdrLen + head);
            if (limit == hdrLen + head)
            {
                sum += skip == 0 ? U.getByte(address) : 0;   // the header's line: stripHeader reads the header
                e.copyHead(address + hdrLen, head);
                continue;
            }
            for (int offset = skip; offset < limit; offset += 64)
            {
                sum += U.getByte(address + offset);
            }
            if (limit > 0)
            {
                sum += U.getByte(address + limit - 1);
            }
        }
        touchSink = sum;
    }

    /**
     * Reads the virtio_net_hdr (which a guest may split over descriptors) and removes it from the scatter list.
     * Returns a drop reason, or NONE.
     */
    private int stripHeader(final PacketEvent e, final int hdrLen)
    {
        if (e.frameLength < hdrLen)
        {
            return DropReason.BAD_CHAIN;   // shorter than the header itself (CVE-2022-2132)
        }
        final long scratch = header.address();
        if (e.segLength[0] > hdrLen)
        {
            // The usual case (Linux and DPDK put the header and the frame in one buffer): two moves, no call; and
            // no read at all from a front end that negotiated no offloads (see headerStripped).
            if (guestSends != 0)
            {
                VirtioNetHdr.move(e.segAddress[0], scratch, hdrLen);
            }
            e.segAddress[0] += hdrLen;
            e.segLength[0] -= hdrLen;
            return headerStripped(e, hdrLen);
        }
        int need = hdrLen;
        int seg = 0;
        while (need > 0)
        {
            final int n = Math.min(need, e.segLength[seg]);
            U.copyMemory(e.segAddress[seg], scratch + (hdrLen - need), n);
            need -= n;
            if (n == e.segLength[seg])
            {
                seg++;
            }
            else
            {
                e.segAddress[seg] += n;
                e.segLength[seg] -= n;
            }
        }
        if (seg > 0)
        {
            final int left = e.segCount - seg;
            System.arraycopy(e.segAddress, seg, e.segAddress, 0, left);
            System.arraycopy(e.segLength, seg, e.segLength, 0, left);
            e.segCount = left;
        }
        return headerStripped(e, hdrLen);
    }

    /** After the header left the scatter list for the scratch buffer: its request onto the event, and checked. */
    private int headerStripped(final PacketEvent e, final int hdrLen)
    {
        final int frameLength = e.frameLength - hdrLen;
        e.frameLength = frameLength;
        if (frameLength < EthernetLayout.ETH_HLEN)
        {
            return DropReason.RUNT;
        }
        if (guestSends == 0)
        {
            // A front end that negotiated no offloads must leave the header's fields zero (virtio 1.2, 5.1.6.2.1):
            // they ask nothing of the switch, so they are not read and the event's stay as reset (a plain frame).
            // Reading them would cost a miss to the guest's core per frame, for a line that often holds nothing
            // else of the frame (DPDK's vhost does not read them either).
            return DropReason.NONE;
        }
        header.copyTo(e);
        // A header may only ask for what was negotiated, and must point inside the frame (the TAP port checks the
        // kernel's the same way).
        return OffloadPolicy.checkReceived(e.vnetFlags, e.gsoType, e.hdrLen, e.gsoSize, e.csumStart, e.csumOffset,
            frameLength, guestSends);
    }

    /**
     * A super-frame's headers are validated here, at its source, as the segmenter of any destination would, so a
     * malformed one is dropped and counted against the port that sent it, not against the ports it was meant
     * for; and the segments it could cause are charged to this port's budget for the round.
     */
    private int checkSuperFrame(final PacketEvent e)
    {
        final int segments = segmenter.plan(e, e.gsoSize);
        if (segments < 0)
        {
            return DropReason.BAD_HEADER;
        }
        if (gsoSegmentsThisRound + segments > GSO_SEGMENT_BUDGET)
        {
            return DropReason.RATE_LIMITED;
        }
        gsoSegmentsThisRound += segments;
        return DropReason.NONE;
    }

    @Override
    public void complete(final PacketEvent e)
    {
        final SplitVirtqueue ring = txRing;
        if (ring != null)
        {
            ring.putUsed(e.completionToken, 0);
        }
    }

    // ------------------------------------------------------------------ switch -> guest RX

    @Override
    public void prepareTransmit(final int frames, final int longestFrame)
    {
        final SplitVirtqueue ring = rxRing;
        if (ring != null)
        {
            // No frame comes back to the port it came from, so this port's own frames of the round are not coming.
            ring.claimLinesAhead(Math.min(frames - receivedThisRound, MAX_BATCH),
                longestFrame <= WHOLE_AHEAD_BYTES ? headerLength + longestFrame : HEAD_AHEAD_BYTES);
        }
    }

    /**
     * Delivers a frame into the guest's RX ring, as {@link OffloadPolicy} decides from the frame's offload request,
     * the offloads this guest negotiated (GUEST_*) and its MTU: passed on with its request in the header (one
     * partial checksum, one TCP super-frame with the recomputed hdr_len), its checksum completed while copying, or
     * cut into segments that fit the guest's MTU.
     */
    @Override
    public boolean transmit(final PacketEvent e)
    {
        final SplitVirtqueue ring = rxRing;
        if (ring == null)
        {
            counters.drop(DropReason.PORT_DOWN);
            return false;
        }
        final OffloadPolicy policy = offloadPolicy;
        switch (policy.decide(e, guestAccepts, mtu))
        {
            case OffloadPolicy.PASS:
                if ((e.vnetFlags & VirtioNetHdr.F_NEEDS_CSUM) == 0 && e.gsoType == VirtioNetHdr.GSO_NONE)
                {
                    return enqueue(ring, e, false, -1, 0);
                }
                final boolean gso = e.gsoType != VirtioNetHdr.GSO_NONE;
                final boolean delivered = enqueue(ring, e, true, -1, 0);
                if (delivered && gso)
                {
                    counters.increment(PortCounters.TX_GSO);
                }
                return delivered;
            case OffloadPolicy.COMPLETE:
                return completeChecksum(ring, e);
            case OffloadPolicy.SEGMENT:
                segmentRing = ring;
                segmentEvent.inPort = e.inPort;
                final int sent = segmenter.segment(e, policy.segmentSize(), segmentSink);
                segmentRing = null;
                if (sent < 0)
                {
                    counters.drop(DropReason.BAD_HEADER);
                    return false;
                }
                return sent > 0;
            default:
                counters.drop(policy.dropReason());
                return false;
        }
    }

    /** The guest did not negotiate GUEST_CSUM: the checksum is computed and patched into the guest's copy. */
    private boolean completeChecksum(final SplitVirtqueue ring, final PacketEvent e)
    {
        int checksum = ChecksumCompletion.compute(e);
        if (checksum < 0)   // validated at the source; a stage that rewrote the frame may have broken it
        {
            counters.drop(DropReason.BAD_HEADER);
            return false;
        }
        if (checksum == 0)
        {
            checksum = 0xffff;   // 0 means "no checksum" to UDP (and is invalid over IPv6); same value for TCP
        }
        final boolean delivered = enqueue(ring, e, false, e.csumStart + e.csumOffset, checksum);
        if (delivered)
        {
            counters.increment(PortCounters.TX_CSUM_FILLED);
        }
        return delivered;
    }

    /** Receives each segment the segmenter cuts and delivers it as a plain frame (checksums already complete). */
    private final class SegmentSink implements TcpSegmenter.Sink
    {
        @Override
        public boolean accept(final long address, final int length)
        {
            final PacketEvent segment = segmentEvent;
            segment.reset(segment.inPort);   // keeps the source port, clears everything else
            segment.addSegment(address, length);
            if (length > mtu + 18)
            {
                counters.drop(DropReason.TOO_BIG);
                return false;
            }
            final boolean delivered = enqueue(segmentRing, segment, false, -1, 0);
            if (delivered)
            {
                counters.increment(PortCounters.TX_SEGMENTED);
            }
            return delivered;
        }
    }

    /**
     * Copies one frame into RX buffers: the virtio_net_hdr (the source's offload fields when {@code passHeader},
     * else a plain one), then the frame; optionally patches a 16-bit value at frame offset {@code patchOffset}
     * (a checksum completed in software) in the destination, so the source's memory is never written.
     */
    private boolean enqueue(final SplitVirtqueue ring, final PacketEvent e, final boolean passHeader,
        final int patchOffset, final int patchValue)
    {
        final int hdrLen = headerLength;
        final long need = (long)hdrLen + e.frameLength;
        final int checkpoint = ring.checkpoint();
        int buffers = 0;
        int segs = 0;
        long capacity = 0;
        final boolean mrg = mergeable;

        while (capacity < need)
        {
            // Too big is decided before waiting for buffers: no amount of waiting would make it fit.
            if (buffers == MAX_RX_BUFFERS || (!mrg && buffers == 1))
            {
                ring.rewind(checkpoint);
                counters.drop(DropReason.TOO_BIG);
                return false;
            }
            if (!awaitBuffer(ring))
            {
                ring.rewind(checkpoint);
                counters.drop(DropReason.RING_FULL);
                return false;
            }
            final int head = ring.pop();
            if (head < 0)
            {
                counters.drop(DropReason.BAD_CHAIN);
                return false;
            }
            final int newSegs = ring.walk(head, dstAddress, dstLength, segs, true);
            if (newSegs < 0)
            {
                // A bad RX chain costs this guest the frame; the chain stays unconsumed for it to sort out.
                ring.rewind(checkpoint);
                counters.drop(DropReason.BAD_CHAIN);
                return false;
            }
            segs = newSegs;
            bufferHead[buffers] = head;
            bufferBytes[buffers] = ring.chainBytes();
            capacity += ring.chainBytes();
            buffers++;
        }

        final VirtioNetHdr h = header.clear(hdrLen);
        if (passHeader)
        {
            // The request as the policy passes it on: NEEDS_CSUM (a super-frame always has it), the super-frame's
            // type and size, hdr_len recomputed from its headers (0 for a checksum alone); DATA_VALID never.
            final boolean gso = e.gsoType != VirtioNetHdr.GSO_NONE;
            h.set(e.vnetFlags & VirtioNetHdr.F_NEEDS_CSUM, e.gsoType, offloadPolicy.headerLength(),
                gso ? e.gsoSize : 0, e.csumStart, e.csumOffset);
        }
        if (hdrLen == VirtioNetHdr.LENGTH)
        {
            h.numBuffers(buffers);
        }
        cursorSegment = 0;
        cursorOffset = 0;
        if (dstLength[0] >= hdrLen)
        {
            VirtioNetHdr.move(h.address(), dstAddress[0], hdrLen);   // two moves, no copy call (see move)
            cursorOffset = hdrLen;
            if (cursorOffset == dstLength[0])
            {
                cursorSegment = 1;
                cursorOffset = 0;
            }
        }
        else
        {
            copyOut(h.address(), hdrLen);
        }
        for (int i = 0; i < e.segCount; i++)
        {
            copyOut(e.segAddress[i], e.segLength[i]);
        }
        if (patchOffset >= 0)
        {
            patchShort(hdrLen + patchOffset, patchValue);
        }

        long left = need;
        for (int i = 0; i < buffers; i++)
        {
            final long written = Math.min(left, bufferBytes[i]);
            ring.putUsed(bufferHead[i], (int)written);
            left -= written;
        }
        txFramesThisRound++;
        txBytesThisRound += e.frameLength;
        return true;
    }

    /**
     * True when the RX ring has a buffer, re-checking a bounded number of times while the guest refills it. A ring
     * still empty after its retries is starved for the rest of the PMD round: later frames to it drop at once, so a
     * slow guest costs the round at most one retry sequence, never one per frame (all ports share this thread).
     */
    private boolean awaitBuffer(final SplitVirtqueue ring)
    {
        if (ring.hasAvailable())
        {
            return true;
        }
        if (starvedThisRound)
        {
            return false;
        }
        for (int attempt = 0; attempt < rxRetries; attempt++)
        {
            counters.increment(PortCounters.RX_RETRIES);
            for (int spin = 0; spin < RETRY_SPINS; spin++)
            {
                Thread.onSpinWait();
            }
            if (ring.available() > 0)
            {
                return true;
            }
        }
        starvedThisRound = true;
        return false;
    }

    /** Copies {@code length} bytes from {@code src} into the destination segments at the cursor. */
    private void copyOut(final long src, final int length)
    {
        long from = src;
        int left = length;
        while (left > 0)
        {
            final int room = dstLength[cursorSegment] - cursorOffset;
            final int n = Math.min(room, left);
            U.copyMemory(from, dstAddress[cursorSegment] + cursorOffset, n);
            from += n;
            left -= n;
            cursorOffset += n;
            if (cursorOffset == dstLength[cursorSegment])
            {
                cursorSegment++;
                cursorOffset = 0;
            }
        }
    }

    /** Writes a big-endian 16-bit value at byte {@code offset} of what was just copied (it may straddle buffers). */
    private void patchShort(final int offset, final int value)
    {
        int skip = offset;
        int seg = 0;
        while (skip >= dstLength[seg])
        {
            skip -= dstLength[seg];
            seg++;
        }
        U.putByte(dstAddress[seg] + skip, (byte)(value >>> 8));
        if (skip + 1 < dstLength[seg])
        {
            U.putByte(dstAddress[seg] + skip + 1, (byte)value);
        }
        else
        {
            U.putByte(dstAddress[seg + 1], (byte)value);
        }
    }

    /** Delivered frames and bytes are counted per round, not per frame (two counter stores a frame): added here. */
    @Override
    public void publishCounts()
    {
        if (txFramesThisRound != 0)
        {
            counters.add(PortCounters.TX_PACKETS, txFramesThisRound);
            counters.add(PortCounters.TX_BYTES, txBytesThisRound);
            txFramesThisRound = 0;
            txBytesThisRound = 0;
        }
    }

    @Override
    public void flush()
    {
        publishCounts();
        starvedThisRound = false;
        receivedThisRound = 0;
        gsoSegmentsThisRound = 0;
        final SplitVirtqueue tx = txRing;
        if (tx != null && tx.needsFlush())
        {
            if (tx.flush())
            {
                counters.increment(PortCounters.INTERRUPTS);
            }
            tx.suppressKicks();
        }
        final SplitVirtqueue rx = rxRing;
        if (rx != null && rx.needsFlush() && rx.flush())
        {
            counters.increment(PortCounters.INTERRUPTS);
        }
    }
}
