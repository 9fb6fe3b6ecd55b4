package dev.vswitch.core.it;

import dev.vswitch.vhost.VirtioNet;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.GuestMemory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A vhost-user front end (the vhost-port test driver, speaking the real protocol over the switch's socket) with
 * memfd guest memory and one queue pair, driven by polling: sends one frame at a time, receives whole frames
 * (virtio-net header included) from single-buffer RX chains.
 */
final class VhostPeer implements AutoCloseable
{
    static final long BASE_FEATURES = VirtioNet.bit(VirtioNet.F_VERSION_1) | VirtioNet.bit(VirtioNet.F_MRG_RXBUF) |
        VirtioNet.bit(VirtioNet.F_PROTOCOL_FEATURES);
    private static final int RING = 128;

    private final GuestMemory mem = GuestMemory.create("vhost-peer", 16 << 20, GuestMemory.DEFAULT_GPA,
        GuestMemory.DEFAULT_UVA);
    private final DriverRing rx = DriverRing.allocate(mem, RING);
    private final DriverRing tx = DriverRing.allocate(mem, RING);
    private final FrontEnd frontEnd;
    private final long features;

    /** Negotiates {@link #BASE_FEATURES} plus {@code extraFeatures}; posts 64 RX buffers of {@code rxBufferBytes}. */
    VhostPeer(final Path socket, final long extraFeatures, final int rxBufferBytes) throws IOException
    {
        frontEnd = FrontEnd.connect(socket, 5_000).timeoutMillis(5_000);
        features = frontEnd.startDevice(mem, rx, tx, BASE_FEATURES | extraFeatures);
        rx.addRxBuffers(RING / 2, rxBufferBytes);
    }

    VhostPeer(final Path socket) throws IOException
    {
        this(socket, 0, 2048);
    }

    long features()
    {
        return features;
    }

    void send(final byte[] frame)
    {
        send(DriverRing.netHeader(), frame);
    }

    /** Sends header + frame and waits until the switch has taken it (one at a time keeps order and ring simple). */
    void send(final byte[] header, final byte[] frame)
    {
        tx.addTx(header, frame, false);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (tx.pollUsed() == null)
        {
            if (System.nanoTime() > deadline)
            {
                throw new AssertionError("the switch did not take a frame within 5 s");
            }
            Thread.onSpinWait();
        }
    }

    /** Waits for {@code count} received frames, each with its 12-byte virtio-net header in front. */
    List<byte[]> receiveWithHeader(final int count, final Duration timeout)
    {
        final List<byte[]> frames = new ArrayList<>();
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (frames.size() < count)
        {
            final DriverRing.Used used = rx.pollUsed();
            if (used != null)
            {
                frames.add(used.data());
                continue;
            }
            if (System.nanoTime() > deadline)
            {
                throw new AssertionError("received " + frames.size() + " of " + count + " frames");
            }
            Testpmd.sleep(5);
        }
        return frames;
    }

    /** Waits for {@code count} received frames (virtio-net header stripped). */
    List<byte[]> receive(final int count, final Duration timeout)
    {
        final List<byte[]> frames = receiveWithHeader(count, timeout);
        frames.replaceAll(f -> java.util.Arrays.copyOfRange(f, DriverRing.NET_HDR_LEN, f.length));
        return frames;
    }

    /** Frames received and not yet taken. */
    int pending()
    {
        return rx.pendingUsed();
    }

    @Override
    public void close()
    {
        frontEnd.close();
        mem.close();
    }
}
