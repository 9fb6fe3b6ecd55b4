package dev.vswitch.core.mirror;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.mirror.MirrorRecord;
import dev.vswitch.pipeline.mirror.MirrorSink;
import dev.vswitch.tap.TapPort;
import org.agrona.DirectBuffer;

import java.io.IOException;

/**
 * Writes mirrored frames into a kernel TAP interface, where tcpdump or Wireshark ({@code -i mir0}) sees them as
 * frames arriving on it. The tap is a {@link TapPort} that is no switch port: only this sink's writer thread uses
 * it, through {@link TapPort#transmit} with a one-segment event pointing into the mirror ring (no copy). Offloads
 * are on, so a GSO super-frame or a partial-checksum frame goes to the kernel as it was mirrored (the kernel
 * segments it, a capture on the tap shows its partial checksum); its MTU is the largest a tap takes, so no
 * mirrored frame is too big for it. Nothing reads what the kernel sends out of the tap: it is dropped at the
 * tap's queue.
 */
public final class TapMirrorSink implements MirrorSink
{
    /** The largest MTU the kernel gives a tap: 65535 bytes minus its Ethernet header. */
    static final int MTU = 65521;

    private final TapPort tap;
    private final PacketEvent event = new PacketEvent();

    private TapMirrorSink(final TapPort tap)
    {
        this.tap = tap;
    }

    /** Creates (or attaches to) tap {@code ifname} and brings it up. */
    public static TapMirrorSink open(final String mirrorName, final String ifname) throws IOException
    {
        return new TapMirrorSink(TapPort.open(-1, mirrorName, ifname, MTU, null, true, 1, true));
    }

    public TapPort tap()
    {
        return tap;
    }

    @Override
    public boolean write(final int direction, final DirectBuffer buffer, final int index, final int length)
    {
        final PacketEvent e = event;
        e.reset(-1);
        e.addSegment(buffer.addressOffset() + index + MirrorRecord.HEADER_LENGTH, MirrorRecord.captured(length));
        e.vnetFlags = MirrorRecord.vnetFlags(buffer, index);
        e.gsoType = MirrorRecord.gsoType(buffer, index);
        e.hdrLen = MirrorRecord.hdrLen(buffer, index);
        e.gsoSize = MirrorRecord.gsoSize(buffer, index);
        e.csumStart = MirrorRecord.csumStart(buffer, index);
        e.csumOffset = MirrorRecord.csumOffset(buffer, index);
        return tap.transmit(e);
    }

    /** Every frame was its own write. */
    @Override
    public void flush()
    {
    }

    @Override
    public void close()
    {
        tap.close();
    }

    @Override
    public String describe()
    {
        return "tap " + tap.ifname();
    }
}
