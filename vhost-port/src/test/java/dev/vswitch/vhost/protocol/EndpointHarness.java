package dev.vswitch.vhost.protocol;

import com.lmax.disruptor.RingBuffer;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.pipeline.DatapathBarrier;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.testkit.Await;
import dev.vswitch.testkit.frames.FrameBuilder;
import dev.vswitch.vhost.DataPathWatchdog;
import dev.vswitch.vhost.VhostUserDevice;
import dev.vswitch.vhost.VhostUserEndpoint;
import dev.vswitch.vhost.VhostUserPort;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.GuestMemory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real {@link VhostUserEndpoint} (server mode) on a socket in a temp dir, plus what the protocol tests share:
 * connecting front ends, a complete "fresh" handshake that proves the endpoint still works, a PMD stand-in that
 * drains the guest's TX ring, and fd/mapping accounting.
 */
final class EndpointHarness implements AutoCloseable
{
    static final long ALL_FEATURES = VhostUserDevice.OFFERED_FEATURES;
    static final int RING_SIZE = 256;
    static final int MEMORY_BYTES = 1 << 20;
    /** Fds and VMAs the JVM may open or map on its own while a test runs (JIT, GC, class loading). */
    static final int SLACK = 3;

    static
    {
        // The JDK's first FileChannel (Fds.mappingCount reads /proc/self/maps) opens a socketpair fd it keeps for
        // good; take that one-off before any test measures a baseline.
        Resources.now();
    }

    final VhostUserPort port = new VhostUserPort(0, "t", 4);
    final Path path;
    final VhostUserEndpoint endpoint;
    private final DataPathWatchdog watchdog = new DataPathWatchdog();
    private final RingBuffer<PacketEvent> events = RingBuffer.createSingleProducer(PacketEvent::new, 256);
    private final PacketPublisher publisher = new PacketPublisher(events);
    private long nextEvent;

    EndpointHarness(final Path dir) throws IOException
    {
        path = dir.resolve("vhost.sock");
        endpoint = new VhostUserEndpoint(port, path, true, 1000, DatapathBarrier.NONE, watchdog);
        endpoint.start();
    }

    FrontEnd connect() throws IOException
    {
        return FrontEnd.connect(path).timeoutMillis(2_000);
    }

    /** A connected front end that has done the QEMU init handshake (REPLY_ACK negotiated). */
    FrontEnd connectAndHandshake() throws IOException
    {
        final FrontEnd fe = connect();
        fe.handshake();
        assertTrue(fe.replyAck(), "REPLY_ACK should be negotiated");
        return fe;
    }

    /**
     * Proves the endpoint is healthy: a new front end starts the device QEMU-style, a frame crosses the guest's TX
     * ring, the rings stop at the right index, and closing the connection takes the port down again.
     */
    void assertFreshHandshake() throws IOException
    {
        awaitTrue(() -> !endpoint.isConnected(), "the previous connection should be gone");
        try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = connect())
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            assertEquals(ALL_FEATURES, fe.startDevice(memory, rx, tx, ALL_FEATURES));
            assertTrue(port.isUp() && port.isReceiving(), "rings should be running after the handshake");
            tx.addTx(frame(1));
            assertEquals(1, drainTx(8));
            assertEquals(1, tx.drainUsed().size(), "the TX chain should be returned");
            assertEquals(1, fe.getVringBase(FrontEnd.TX_QUEUE));
            assertEquals(0, fe.getVringBase(FrontEnd.RX_QUEUE));
            assertTrue(!port.isUp() && !port.isReceiving());
        }
        awaitTrue(() -> !endpoint.isConnected(), "the endpoint should notice the front end left");
    }

    /** What the PMD does for this port in one round: receive up to {@code budget}, complete all, flush. */
    int drainTx(final int budget)
    {
        final int n = port.receive(publisher, budget);
        for (int i = 0; i < n; i++)
        {
            port.complete(events.get(nextEvent++));
        }
        port.flush();
        return n;
    }

    /** A 64-byte Ethernet frame (broadcast, IPv4 ethertype) tagged with {@code tag}. */
    static byte[] frame(final int tag)
    {
        return FrameBuilder.ethernet(FrameBuilder.BROADCAST, 0x0200_0000_0000L | (tag & 0xff)).etherType(0x0800).u8(tag)
            .fillTo(64, 0).bytes();
    }

    @Override
    public void close()
    {
        endpoint.close();
        watchdog.close();
    }

    // ------------------------------------------------------------------ helpers

    /** The endpoint tests' wait: {@code condition} within 2 s. */
    static void awaitTrue(final BooleanSupplier condition, final String message)
    {
        Await.until(message, Duration.ofSeconds(2), condition);
    }

    static void sleep(final long millis)
    {
        try
        {
            Thread.sleep(millis);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }

    /** Open fds and mappings of this process at one moment. */
    static final class Resources
    {
        final int fds;
        final int mappings;
        final java.util.SortedSet<String> fdList;

        private Resources(final int fds, final int mappings, final java.util.SortedSet<String> fdList)
        {
            this.fds = fds;
            this.mappings = mappings;
            this.fdList = fdList;
        }

        static Resources now()
        {
            return new Resources(Fds.openCount(), Fds.mappingCount(), fdTargets());
        }

        boolean within(final Resources baseline, final int fdSlack, final int mappingSlack)
        {
            return fds <= baseline.fds + fdSlack && mappings <= baseline.mappings + mappingSlack;
        }

        @Override
        public String toString()
        {
            return fds + " fds, " + mappings + " mappings";
        }

        java.util.SortedSet<String> newSince(final Resources baseline)
        {
            final java.util.SortedSet<String> added = new java.util.TreeSet<>(fdList);
            added.removeAll(baseline.fdList);
            return added;
        }

        /** {@link #assertRestored(int, int, String)} with the same slack for fds and mappings. */
        void assertRestored(final int slack, final String what)
        {
            assertRestored(slack, slack, what);
        }

        /**
         * Polls (up to 2 s) until fds and mappings are back within the given slack of this baseline; fails saying
         * how far off they are.
         */
        void assertRestored(final int fdSlack, final int mappingSlack, final String what)
        {
            Await.until(what + ": resources released", Duration.ofSeconds(2),
                () -> now().within(this, fdSlack, mappingSlack), () ->
                {
                    final Resources current = now();
                    return "baseline " + this + ", now " + current + " (slack " + fdSlack + " fds, " + mappingSlack +
                        " mappings); fds opened since: " + current.newSince(this);
                });
        }
    }

    /** /proc/self/fd entries as "fd->target", sorted. */
    static java.util.SortedSet<String> fdTargets()
    {
        final java.util.SortedSet<String> out = new java.util.TreeSet<>();
        final java.io.File[] entries = new java.io.File("/proc/self/fd").listFiles();
        if (entries != null)
        {
            for (final java.io.File f : entries)
            {
                try
                {
                    out.add(f.getName() + "->" + java.nio.file.Files.readSymbolicLink(f.toPath()));
                }
                catch (final IOException ignore)
                {
                    // the directory handle of this listing, or raced with a close
                }
            }
        }
        return out;
    }
}
