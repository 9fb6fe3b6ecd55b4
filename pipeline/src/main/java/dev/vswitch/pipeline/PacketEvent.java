package dev.vswitch.pipeline;

import org.agrona.BufferUtil;
import org.agrona.UnsafeAccess;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One frame in flight through the pipeline. Pre-allocated in the Disruptor ring and reused: the frame is described
 * as a scatter list of host addresses (guest memory of the source port, or a buffer the source port owns), and the
 * destination copies from those segments. Only the head is copied into the event ({@link #head}, before any stage
 * runs: a short frame whole, a longer one's first bytes; {@link #copyHead}, {@link #takeHead}), and from classify on
 * the list delivers the head from that copy ({@link #commitHead}): what the stages judged is what every destination
 * gets, whatever the source guest writes into its buffer meanwhile. The rest of a frame longer than the head is
 * copied once, straight from the source's memory to the destination's.
 */
public final class PacketEvent
{
    private static final sun.misc.Unsafe UNSAFE = UnsafeAccess.UNSAFE;
    /** Longest scatter list a source may describe; longer chains are dropped at the source. */
    public static final int MAX_SEGMENTS = 64;
    /** Bytes of the frame's head copied out for parsing (covers Ethernet + 2 VLAN tags + IPv6 + L4 ports). */
    public static final int HEADER_BYTES = 128;
    /**
     * Frames up to this long are copied out whole, not just their first {@link #HEADER_BYTES}: the head is then the
     * whole frame, and each destination copies it with one call from this event's memory, where the rest would
     * have been a second call from the source's (1.03x at 256 bytes in the testpmd loop, bench/RESULTS.md). Longer
     * frames keep the short head: a second copy of their whole length would cost more than the call it saves.
     */
    public static final int WHOLE_FRAME_BYTES = 256;

    public static final int OUT_UNDECIDED = -1;
    public static final int OUT_FLOOD = -2;
    public static final int OUT_DROP = -3;

    // --- set by the source port
    public int inPort;
    /** Source-private completion cookie (e.g. the TX descriptor head), handed back in {@link SwitchPort#complete}. */
    public int completionToken;
    public int completionQueue;
    public final long[] segAddress = new long[MAX_SEGMENTS];
    public final int[] segLength = new int[MAX_SEGMENTS];
    public int segCount;
    public int frameLength;
    /** Non-zero when the source already decided to drop (bad chain, bad header); stages are skipped. */
    public int sourceDropReason;

    // --- virtio_net_hdr of the source, carried for offloads
    public int vnetFlags;
    public int gsoType;
    public int hdrLen;
    public int gsoSize;
    public int csumStart;
    public int csumOffset;

    // --- the head: copied by the source ({@link #copyHead}) or by classify ({@link #takeHead}); the rest by classify
    /**
     * The whole frame if it is at most {@link #WHOLE_FRAME_BYTES} long, else its first {@link #HEADER_BYTES};
     * off-heap so parsing is plain loads.
     */
    public final UnsafeBuffer head = new UnsafeBuffer(BufferUtil.allocateDirectAligned(WHOLE_FRAME_BYTES, 64));
    private final long headAddress = head.addressOffset();
    public int headLength;
    public long dstMac;
    public long srcMac;
    /** Ethertype after any VLAN tags. */
    public int etherType;
    /** VLAN id of the outer 802.1Q tag, 0 when untagged. */
    public int vlanId;
    public int l3Offset;
    public int l4Protocol;
    public int l4Offset;
    public int packetFlags;

    // --- verdict
    public int outPort;
    public int dropReason;

    public static final int FLAG_MULTICAST = 1;       // includes broadcast
    public static final int FLAG_BROADCAST = 1 << 1;
    public static final int FLAG_VLAN = 1 << 2;
    public static final int FLAG_ARP = 1 << 3;
    public static final int FLAG_IPV4 = 1 << 4;
    public static final int FLAG_IPV6 = 1 << 5;
    public static final int FLAG_TRUNCATED_L3 = 1 << 6;

    /** Resets per-frame state; called by the source before filling a claimed event. */
    public void reset(final int inPort)
    {
        this.inPort = inPort;
        completionToken = 0;
        completionQueue = 0;
        segCount = 0;
        frameLength = 0;
        sourceDropReason = 0;
        vnetFlags = 0;
        gsoType = 0;
        hdrLen = 0;
        gsoSize = 0;
        csumStart = 0;
        csumOffset = 0;
        headLength = 0;
        dstMac = 0;
        srcMac = 0;
        etherType = 0;
        vlanId = 0;
        l3Offset = 0;
        l4Protocol = 0;
        l4Offset = 0;
        packetFlags = 0;
        outPort = OUT_UNDECIDED;
        dropReason = 0;
    }

    /** How much of a frame the head holds: all of it up to {@link #WHOLE_FRAME_BYTES}, else {@link #HEADER_BYTES}. */
    public static int headBytes(final int frameLength)
    {
        return frameLength <= WHOLE_FRAME_BYTES ? frameLength : HEADER_BYTES;
    }

    /**
     * The head, for classify: copied out of the scatter list ({@link #headBytes} of the frame, or what the list
     * describes if that is less) unless the source copied it already ({@link #copyHead}).
     *
     * @return {@link #headLength}.
     */
    public int takeHead()
    {
        if (headLength == 0)
        {
            headLength = copyPrefix(headAddress, headBytes(frameLength));
        }
        return headLength;
    }

    /**
     * For a source whose receive reads its burst's frames in a pass anyway: copies the head there instead, from
     * {@code from}, where the frame's first {@code length} bytes ({@link #headBytes} of it) lie contiguous. The copy is
     * then each frame's first read, back to back for the burst (so the misses to the sender's core overlap), and its
     * bytes are read once, not read ahead and copied again by classify (1.03-1.04x at 256 B, bench/RESULTS.md).
     */
    public void copyHead(final long from, final int length)
    {
        UNSAFE.copyMemory(from, headAddress, length);
        headLength = length;
    }

    /**
     * Copies the frame's first bytes, at most {@code max}, out of the scatter list to {@code dst} (a guest may split
     * even the Ethernet header across descriptors). Plain loop, no allocation.
     *
     * @return bytes copied: min(max, bytes the scatter list describes).
     */
    public int copyPrefix(final long dst, final int max)
    {
        int copied = 0;
        for (int i = 0; i < segCount && copied < max; i++)
        {
            final int n = Math.min(segLength[i], max - copied);
            UNSAFE.copyMemory(segAddress[i], dst + copied, n);
            copied += n;
        }
        return copied;
    }

    /** Appends a segment; returns false when the scatter list is full. */
    public boolean addSegment(final long address, final int length)
    {
        if (segCount == MAX_SEGMENTS)
        {
            return false;
        }
        segAddress[segCount] = address;
        segLength[segCount] = length;
        segCount++;
        frameLength += length;
        return true;
    }

    /**
     * Makes edits a stage made to {@link #head} part of the frame, without writing the source's buffers (a guest's
     * TX memory, which the switch must never write): the scatter list is repointed so that its first
     * {@link #headLength} bytes come from {@code head} and the rest from the original segments, trimmed. Edits must
     * keep the frame's length (bytes are replaced, not inserted); the parsed fields are not re-derived, so a stage
     * that changes e.g. the MACs also updates {@link #dstMac}/{@link #srcMac} for the stages after it. Idempotent;
     * no allocation.
     *
     * @return false (nothing changed) when the list has no room: the head ends inside the first segment of a list
     * already holding {@link #MAX_SEGMENTS} segments.
     */
    public boolean commitHead()
    {
        final int n = headLength;
        if (n <= 0)
        {
            return true;
        }
        if (segCount == 1)
        {
            // The usual frame, one segment (classify commits every frame): no loops.
            final int length = segLength[0];
            if (length > n)
            {
                segAddress[1] = segAddress[0] + n;
                segLength[1] = length - n;
                segCount = 2;
            }
            segAddress[0] = headAddress;
            segLength[0] = n;
            return true;
        }
        int covered = 0;
        int first = 0;   // first segment not wholly inside the head
        while (first < segCount && covered + segLength[first] <= n)
        {
            covered += segLength[first];
            first++;
        }
        final int rest = segCount - first;
        if (1 + rest > MAX_SEGMENTS)
        {
            return false;
        }
        if (first == 0)
        {
            for (int i = segCount - 1; i >= 0; i--)   // make room for the head in front
            {
                segAddress[i + 1] = segAddress[i];
                segLength[i + 1] = segLength[i];
            }
        }
        else if (first > 1)
        {
            for (int i = 0; i < rest; i++)
            {
                segAddress[1 + i] = segAddress[first + i];
                segLength[1 + i] = segLength[first + i];
            }
        }
        if (rest > 0)
        {
            final int cut = n - covered;   // bytes of the first remaining segment the head now supplies
            segAddress[1] += cut;
            segLength[1] -= cut;
        }
        segAddress[0] = headAddress;
        segLength[0] = n;
        segCount = 1 + rest;
        return true;
    }

    public void drop(final int reason)
    {
        outPort = OUT_DROP;
        dropReason = reason;
    }

    public boolean isDropped()
    {
        return outPort == OUT_DROP;
    }
}
