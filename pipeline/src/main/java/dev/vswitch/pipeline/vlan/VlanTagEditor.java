package dev.vswitch.pipeline.vlan;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import org.agrona.BufferUtil;
import org.agrona.UnsafeAccess;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_OFFSET;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_QINQ;
import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_VLAN;
import static dev.vswitch.pipeline.offload.EthernetLayout.VLAN_HLEN;
import static dev.vswitch.pipeline.offload.VirtioNetHdr.F_NEEDS_CSUM;

/**
 * Adds or removes a frame's 802.1Q tag for one destination without touching the source's memory and without
 * copying the payload: the event's scatter list is rewritten to describe the edited frame, the destination port
 * copies from it as usual, and {@link #restore} puts the original list back before the next destination.
 * <ul>
 *   <li>push: a 16-byte header in this editor's off-heap scratch (destination and source MAC copied from the
 *   frame, TPID 0x8100, TCI = the VLAN id, priority 0), then the frame from byte 12 on;</li>
 *   <li>pop: the 12 MAC bytes copied to the scratch, then the frame from byte 16 on.</li>
 * </ul>
 * Offsets into the frame that the destination may use ({@code csumStart} of a partial checksum, {@code hdrLen},
 * {@code l3Offset}, {@code l4Offset}) and {@code frameLength} move by 4 bytes, and {@link PacketEvent#FLAG_VLAN}
 * follows the tag (ports allow 4 more bytes for a tagged frame). The edited list has at most one entry more than
 * the original; if that would exceed {@link PacketEvent#MAX_SEGMENTS} the edit is refused
 * ({@link DropReason#TOO_BIG}): only a source chain of exactly 64 descriptors can hit that.
 *
 * <p>One editor per PMD thread (owned by the forward stage); no allocation, the scratch is reused.
 */
public final class VlanTagEditor
{
    /** Destination and source MAC: everything before the ethertype or the outer tag. */
    private static final int MAC_BYTES = ETHERTYPE_OFFSET;
    private static final sun.misc.Unsafe U = UnsafeAccess.UNSAFE;

    private final ByteBuffer scratchMemory = BufferUtil.allocateDirectAligned(64, 64);   // keeps it reachable
    private final long scratch = BufferUtil.address(scratchMemory);

    private final long[] savedAddress = new long[PacketEvent.MAX_SEGMENTS];
    private final int[] savedLength = new int[PacketEvent.MAX_SEGMENTS];
    private int savedCount;
    private int savedFrameLength;
    private int savedCsumStart;
    private int savedHdrLen;
    private int savedL3Offset;
    private int savedL4Offset;
    private int savedFlags;
    private boolean edited;

    /**
     * Inserts a tag for {@code vlan} after the MAC addresses.
     *
     * @return {@link DropReason#NONE} when the event now describes the tagged frame, else why not (event unchanged).
     */
    public int push(final PacketEvent e, final int vlan)
    {
        if (e.frameLength < MAC_BYTES + 2)
        {
            return DropReason.RUNT;
        }
        final int rest = build(e, MAC_BYTES);
        if (rest < 0)
        {
            return DropReason.TOO_BIG;
        }
        U.putByte(scratch + 12, (byte)(ETHERTYPE_VLAN >>> 8));
        U.putByte(scratch + 13, (byte)ETHERTYPE_VLAN);
        U.putByte(scratch + 14, (byte)((vlan >>> 8) & 0x0f));
        U.putByte(scratch + 15, (byte)vlan);
        e.segAddress[0] = scratch;
        e.segLength[0] = MAC_BYTES + VLAN_HLEN;
        e.frameLength += VLAN_HLEN;
        shiftOffsets(e, VLAN_HLEN);
        e.packetFlags |= PacketEvent.FLAG_VLAN;
        return DropReason.NONE;
    }

    /**
     * Removes the 4 bytes after the MAC addresses (the outer tag; the caller knows the frame carries one).
     *
     * @return {@link DropReason#NONE} when the event now describes the untagged frame, else why not (event
     * unchanged).
     */
    public int pop(final PacketEvent e)
    {
        if (e.frameLength < MAC_BYTES + VLAN_HLEN + 2)
        {
            return DropReason.RUNT;
        }
        if ((e.vnetFlags & F_NEEDS_CSUM) != 0 && e.csumStart < MAC_BYTES + VLAN_HLEN)
        {
            return DropReason.BAD_HEADER;   // a checksum "starting" inside the tag cannot survive its removal
        }
        final int rest = build(e, MAC_BYTES + VLAN_HLEN);
        if (rest < 0)
        {
            return DropReason.TOO_BIG;
        }
        e.segAddress[0] = scratch;
        e.segLength[0] = MAC_BYTES;
        e.frameLength -= VLAN_HLEN;
        shiftOffsets(e, -VLAN_HLEN);
        if (!innerTag(e))   // an inner tag (Q-in-Q inside the VLAN) is now the outer one: still tagged
        {
            e.packetFlags &= ~PacketEvent.FLAG_VLAN;
        }
        return DropReason.NONE;
    }

    /** Puts back the scatter list and fields saved by the last successful push or pop; no-op otherwise. */
    public void restore(final PacketEvent e)
    {
        if (!edited)
        {
            return;
        }
        edited = false;
        System.arraycopy(savedAddress, 0, e.segAddress, 0, savedCount);
        System.arraycopy(savedLength, 0, e.segLength, 0, savedCount);
        e.segCount = savedCount;
        e.frameLength = savedFrameLength;
        e.csumStart = savedCsumStart;
        e.hdrLen = savedHdrLen;
        e.l3Offset = savedL3Offset;
        e.l4Offset = savedL4Offset;
        e.packetFlags = savedFlags;
    }

    /**
     * Copies the MAC bytes to the scratch, saves the event and rewrites entries 1.. of its list to describe the frame
     * from byte {@code keepFrom} on (entry 0, the scratch, is the caller's to fill).
     *
     * @return the new segment count, or -1 if it would not fit (nothing changed then).
     */
    private int build(final PacketEvent e, final int keepFrom)
    {
        final int count = e.segCount;
        int seg = 0;
        int before = 0;   // frame offset of segment seg
        while (seg < count && before + e.segLength[seg] <= keepFrom)
        {
            before += e.segLength[seg];
            seg++;
        }
        final int newCount = 1 + (count - seg);
        if (newCount > PacketEvent.MAX_SEGMENTS)
        {
            return -1;
        }

        copyMacs(e);
        System.arraycopy(e.segAddress, 0, savedAddress, 0, count);
        System.arraycopy(e.segLength, 0, savedLength, 0, count);
        savedCount = count;
        savedFrameLength = e.frameLength;
        savedCsumStart = e.csumStart;
        savedHdrLen = e.hdrLen;
        savedL3Offset = e.l3Offset;
        savedL4Offset = e.l4Offset;
        savedFlags = e.packetFlags;
        edited = true;

        int out = 1;
        for (int i = seg; i < count; i++)
        {
            final int skip = i == seg ? keepFrom - before : 0;
            e.segAddress[out] = savedAddress[i] + skip;
            e.segLength[out] = savedLength[i] - skip;
            out++;
        }
        e.segCount = newCount;
        return newCount;
    }

    /** The frame's head (gathered by classify) has a second VLAN TPID right after the outer tag. */
    private static boolean innerTag(final PacketEvent e)
    {
        if (e.headLength < MAC_BYTES + VLAN_HLEN + 2)
        {
            return false;
        }
        final int inner = e.head.getShort(MAC_BYTES + VLAN_HLEN, ByteOrder.BIG_ENDIAN) & 0xffff;
        return inner == ETHERTYPE_VLAN || inner == ETHERTYPE_QINQ;
    }

    private void copyMacs(final PacketEvent e)
    {
        e.copyPrefix(scratch, MAC_BYTES);
    }

    private static void shiftOffsets(final PacketEvent e, final int delta)
    {
        if ((e.vnetFlags & F_NEEDS_CSUM) != 0)
        {
            e.csumStart += delta;
        }
        if (e.hdrLen > 0)
        {
            e.hdrLen = Math.max(0, e.hdrLen + delta);
        }
        if (e.l3Offset > 0)
        {
            e.l3Offset += delta;
        }
        if (e.l4Offset > 0)
        {
            e.l4Offset += delta;
        }
    }
}
