package dev.vswitch.pipeline.mirror;

import org.agrona.DirectBuffer;

import java.io.IOException;

/** Where a mirror's writer thread puts the frames it takes out of the mirror ring (a pcap file, a TAP). */
public interface MirrorSink extends AutoCloseable
{
    /**
     * One frame: a {@link MirrorRecord} of {@code length} bytes at {@code index} of {@code buffer}, valid only during
     * the call. {@code direction} is {@link MirrorRecord#IN} or {@link MirrorRecord#OUT}.
     *
     * @return false if the frame could not be written (counted by the caller).
     */
    boolean write(int direction, DirectBuffer buffer, int index, int length);

    /** End of a drain pass: whatever was staged goes out, so readers of the file see it now. */
    void flush() throws IOException;

    @Override
    void close() throws IOException;

    /** For logs: "pcap /tmp/vm1.pcap", "tap mir0". */
    String describe();
}
