package dev.vswitch.pipeline.mirror;

import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes mirrored frames to a classic libpcap file: a 24-byte global header (nanosecond-resolution magic
 * {@code 0xa1b23c4d}, version 2.4, LINKTYPE_ETHERNET, the snaplen), then per frame a 16-byte record header (seconds,
 * nanoseconds, captured length, length on the wire) and the captured bytes. Little-endian, as libpcap writes it on
 * this host; readers detect the byte order from the magic.
 * <p>
 * Records are staged in an off-heap buffer and go to the file in one {@code write} per drain pass (or when the
 * buffer fills), so tcpdump reading the file while the switch runs sees frames within a pass of the writer
 * thread. The file is replaced when opened. Used by the writer thread only.
 */
public final class PcapFileSink implements MirrorSink
{
    public static final int MAGIC_NANOSECONDS = 0xa1b23c4d;
    public static final short VERSION_MAJOR = 2;
    public static final short VERSION_MINOR = 4;
    public static final int LINKTYPE_ETHERNET = 1;
    public static final int GLOBAL_HEADER_LENGTH = 24;
    public static final int RECORD_HEADER_LENGTH = 16;
    /** libpcap refuses records larger than this for Ethernet (MAXIMUM_SNAPLEN): the largest snaplen allowed. */
    public static final int MAX_SNAPLEN = 262_144;
    private static final int STAGING_BYTES = 1 << 20;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    private final Path path;
    private final FileChannel channel;
    private final ByteBuffer staging;
    private final UnsafeBuffer stagingBuffer;
    private int staged;

    private PcapFileSink(final Path path, final FileChannel channel, final int snaplen)
    {
        this.path = path;
        this.channel = channel;
        staging = BufferUtil.allocateDirectAligned(STAGING_BYTES + RECORD_HEADER_LENGTH + MAX_SNAPLEN, 64);
        stagingBuffer = new UnsafeBuffer(staging);
        putGlobalHeader(stagingBuffer, 0, snaplen);
        staged = GLOBAL_HEADER_LENGTH;
    }

    /** Creates (or truncates) {@code path} and writes the global header to it. */
    public static PcapFileSink create(final Path path, final int snaplen) throws IOException
    {
        if (snaplen < 1 || snaplen > MAX_SNAPLEN)
        {
            throw new IllegalArgumentException("snaplen must be 1.." + MAX_SNAPLEN + ", got " + snaplen);
        }
        final FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING);
        final PcapFileSink sink = new PcapFileSink(path, channel, snaplen);
        try
        {
            sink.flush();
        }
        catch (final IOException ex)
        {
            channel.close();
            throw ex;
        }
        return sink;
    }

    /** The 24-byte pcap global header. */
    public static void putGlobalHeader(final UnsafeBuffer buffer, final int offset, final int snaplen)
    {
        buffer.putInt(offset, MAGIC_NANOSECONDS, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(offset + 4, VERSION_MAJOR, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(offset + 6, VERSION_MINOR, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(offset + 8, 0, ByteOrder.LITTLE_ENDIAN);     // thiszone: timestamps are UTC
        buffer.putInt(offset + 12, 0, ByteOrder.LITTLE_ENDIAN);    // sigfigs
        buffer.putInt(offset + 16, snaplen, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(offset + 20, LINKTYPE_ETHERNET, ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public boolean write(final int direction, final DirectBuffer buffer, final int index, final int length)
    {
        final int captured = MirrorRecord.captured(length);
        if (staged + RECORD_HEADER_LENGTH + captured > staging.capacity())
        {
            try
            {
                flush();
            }
            catch (final IOException ex)
            {
                staged = 0;   // the staged records are lost; this one still gets its chance
                return false;
            }
        }
        final long nanos = MirrorRecord.timestampNanos(buffer, index);
        final UnsafeBuffer out = stagingBuffer;
        final int at = staged;
        out.putInt(at, (int)(nanos / NANOS_PER_SECOND), ByteOrder.LITTLE_ENDIAN);
        out.putInt(at + 4, (int)(nanos % NANOS_PER_SECOND), ByteOrder.LITTLE_ENDIAN);
        out.putInt(at + 8, captured, ByteOrder.LITTLE_ENDIAN);
        out.putInt(at + 12, MirrorRecord.frameLength(buffer, index), ByteOrder.LITTLE_ENDIAN);
        out.putBytes(at + RECORD_HEADER_LENGTH, buffer, index + MirrorRecord.HEADER_LENGTH, captured);
        staged = at + RECORD_HEADER_LENGTH + captured;
        return true;
    }

    /** Writes the staged records; on failure they are dropped (the file may end in a partial record). */
    @Override
    public void flush() throws IOException
    {
        if (staged == 0)
        {
            return;
        }
        staging.clear().limit(staged);
        staged = 0;
        while (staging.hasRemaining())
        {
            channel.write(staging);
        }
    }

    @Override
    public void close() throws IOException
    {
        try
        {
            flush();
        }
        finally
        {
            channel.close();
        }
    }

    @Override
    public String describe()
    {
        return "pcap " + path;
    }
}
