package dev.vswitch.pipeline.mirror;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.SwitchPort;
import org.agrona.DirectBuffer;

import java.io.IOException;

/**
 * Writes mirrored frames out through a port that is no switch port, typically a kernel TAP interface, where
 * tcpdump or Wireshark ({@code -i mir0}) sees them as frames arriving on it. Only the mirror's writer thread uses
 * the port, through {@link SwitchPort#transmit} with a one-segment event pointing into the mirror ring (no copy),
 * carrying the offload request the frame was mirrored with: a port with offloads on hands a GSO super-frame or a
 * partial-checksum frame to the kernel as it was mirrored (the kernel segments it, a capture shows its partial
 * checksum). Give it a port whose MTU no mirrored frame exceeds ({@link #TAP_MTU} for a tap).
 */
public final class PortMirrorSink<P extends SwitchPort & AutoCloseable> implements MirrorSink
{
    /** The largest MTU the kernel gives a tap: 65535 bytes minus its Ethernet header. */
    public static final int TAP_MTU = 65521;

    private final P port;
    private final String description;
    private final PacketEvent event = new PacketEvent();

    /** @param description for logs, e.g. "tap mir0". */
    public PortMirrorSink(final P port, final String description)
    {
        this.port = port;
        this.description = description;
    }

    public P port()
    {
        return port;
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
        return port.transmit(e);
    }

    /** Every frame was its own write. */
    @Override
    public void flush()
    {
    }

    @Override
    public void close() throws IOException
    {
        try
        {
            port.close();
        }
        catch (final IOException | RuntimeException ex)
        {
            throw ex;
        }
        catch (final Exception ex)
        {
            throw new IOException(ex);
        }
    }

    @Override
    public String describe()
    {
        return description;
    }
}
