package dev.vswitch.core.it;

import dev.vswitch.testkit.frames.FrameBuilder;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.GuestMemory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A guest's virtio-net driver played by the vhost-user test front end ({@link FrontEnd}, a real client over the
 * switch's socket): shared memory, an RX ring kept stocked with buffers and a TX ring to send raw Ethernet frames.
 */
final class VhostDriver implements AutoCloseable
{
    private static final int RING_SIZE = 256;

    private final GuestMemory memory;
    private final FrontEnd frontEnd;
    private final DriverRing rx;
    private final DriverRing tx;
    private final List<byte[]> received = new ArrayList<>();

    private VhostDriver(final GuestMemory memory, final FrontEnd frontEnd, final DriverRing rx, final DriverRing tx)
    {
        this.memory = memory;
        this.frontEnd = frontEnd;
        this.rx = rx;
        this.tx = tx;
    }

    /** Connects to {@code socket} and starts the device the way QEMU does. */
    static VhostDriver connect(final Path socket) throws IOException
    {
        final GuestMemory memory = GuestMemory.create(4 << 20);
        FrontEnd fe = null;
        try
        {
            fe = FrontEnd.connect(socket, 10_000).timeoutMillis(10_000);
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.startDevice(memory, rx, tx);
            rx.addRxBuffers(RING_SIZE, DriverRing.DEFAULT_SLOT_BYTES);
            return new VhostDriver(memory, fe, rx, tx);
        }
        catch (final IOException | RuntimeException ex)
        {
            if (fe != null)
            {
                fe.close();
            }
            memory.close();
            throw ex;
        }
    }

    /** A minimal frame: dst, src, a local experimental EtherType (no L3 for the classifier to judge), padding. */
    static byte[] frame(final long dst, final long src)
    {
        return FrameBuilder.ethernet(dst, src).etherType(0x88B5).fillTo(60, 0).bytes();
    }

    /** Queues a frame on the TX ring, waiting (up to 10 s) for a free descriptor. */
    void send(final byte[] frame)
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (tx.freeDescriptors() == 0)
        {
            if (tx.drainUsed().isEmpty())
            {
                if (System.nanoTime() > deadline)
                {
                    throw new AssertionError("the switch took no frame off the TX ring for 10 s");
                }
                Thread.onSpinWait();
            }
        }
        tx.addTx(frame);
    }

    /** Waits until the switch has taken every queued frame. */
    void awaitSent(final Duration timeout)
    {
        SwitchHarness.await("TX ring drained", timeout, () ->
        {
            tx.drainUsed();
            return tx.freeDescriptors() == RING_SIZE;
        });
    }

    /** Frames (without the virtio-net header) delivered so far; the RX ring is restocked. */
    List<byte[]> received()
    {
        final List<DriverRing.Used> used = rx.drainUsed();
        for (final DriverRing.Used u : used)
        {
            received.add(Arrays.copyOfRange(u.data(), DriverRing.NET_HDR_LEN, u.data().length));
        }
        if (!used.isEmpty())
        {
            rx.addRxBuffers(used.size(), DriverRing.DEFAULT_SLOT_BYTES);
        }
        return received;
    }

    @Override
    public void close()
    {
        frontEnd.close();
        memory.close();
    }
}
