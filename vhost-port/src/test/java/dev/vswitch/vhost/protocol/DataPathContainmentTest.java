package dev.vswitch.vhost.protocol;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import dev.vswitch.nativeio.EventFd;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.LibC;
import dev.vswitch.pipeline.PmdAgent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SupervisedRunner;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.vhost.DataPathWatchdog;
import dev.vswitch.vhost.VhostUserEndpoint;
import dev.vswitch.vhost.VhostUserPort;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import static dev.vswitch.vhost.protocol.EndpointHarness.ALL_FEATURES;
import static dev.vswitch.vhost.protocol.EndpointHarness.MEMORY_BYTES;
import static dev.vswitch.vhost.protocol.EndpointHarness.RING_SIZE;
import static dev.vswitch.vhost.protocol.EndpointHarness.awaitTrue;
import static dev.vswitch.vhost.protocol.EndpointHarness.frame;
import static dev.vswitch.vhost.protocol.EndpointHarness.sleep;
import static dev.vswitch.testkit.vhost.FrontEnd.SET_VRING_CALL;
import static dev.vswitch.testkit.vhost.FrontEnd.SET_VRING_ERR;
import static dev.vswitch.testkit.vhost.FrontEnd.SET_VRING_KICK;
import static dev.vswitch.testkit.vhost.FrontEnd.TX_QUEUE;
import static dev.vswitch.testkit.vhost.FrontEnd.u64;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real PMD ({@link PmdAgent} on its own thread) serves a vhost-user port whose front end attacks the data path
 * through what it shares with the back end: the call eventfd's open file description and the guest memory file.
 * A sampler watches the PMD's round counter the whole time: the PMD must never stop for long, the port must be
 * reset and counted, and a well-behaved front end must be served on the same port afterwards, with fds and
 * mappings back to where they were.
 */
class DataPathContainmentTest
{
    /** The longest the PMD may stall: the control thread checks every 100 ms and acts after 50 ms of blocking. */
    private static final long MAX_STALL_MILLIS = 600;
    private static final long SATURATED = 0xFFFF_FFFF_FFFF_FFFEL;

    @TempDir
    Path dir;

    private VhostUserPort port;
    private PmdAgent pmd;
    private SupervisedRunner runner;
    private VhostUserEndpoint endpoint;
    private DataPathWatchdog watchdog;
    private Path socket;
    private StallWatch watch;
    private EndpointHarness.Resources baseline;

    @BeforeEach
    void start() throws IOException
    {
        port = new VhostUserPort(0, "hostile", 4);
        pmd = new PmdAgent("pmd-t", new SwitchPort[] {port}, new Stage[0], 1024, 32);
        runner = new SupervisedRunner(new BackoffIdleStrategy(1, 1, 1_000, 100_000), pmd::onFault, pmd);
        runner.start();
        socket = dir.resolve("vhost.sock");
        watchdog = new DataPathWatchdog();
        endpoint = new VhostUserEndpoint(port, socket, true, 1000, pmd, watchdog);
        endpoint.start();
        awaitTrue(() -> pmd.rounds() > 10, "the PMD should be running");
        assertServesAWellBehavedFrontEnd();   // also warms up what the JVM opens once (JNA closures, JIT)
        baseline = EndpointHarness.Resources.now();
        watch = new StallWatch(pmd);
    }

    @AfterEach
    void stop()
    {
        watch.close();
        endpoint.close();
        watchdog.close();
        runner.close();
    }

    @Test
    void aCallOrKickFdThatIsNotAnEventfdIsRefused() throws IOException
    {
        final int[] pipe = pipe();
        try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(socket))
        {
            fe.handshake();
            final long status = fe.commandStatus(SET_VRING_CALL, u64(0), pipe[1]);
            assertNotEquals(0, status, "a pipe as call fd must be refused");
            assertNotEquals(0, fe.commandStatus(SET_VRING_KICK, u64(1), memory.fd()), "a memfd as kick fd");
            assertNotEquals(0, fe.commandStatus(SET_VRING_ERR, u64(0), pipe[0]), "a pipe as err fd");
        }
        finally
        {
            Fds.close(pipe[0]);
            Fds.close(pipe[1]);
        }
        assertServesAWellBehavedFrontEnd();
        baseline.assertRestored(EndpointHarness.SLACK, "after refused fds");
    }

    @Test
    void aSaturatedBlockingCallFdCannotStopThePmdWhileTheFrontEndStays() throws IOException
    {
        try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(socket))
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            wedge(fe.callFd(TX_QUEUE));
            tx.addTx(frame(1));   // its completion makes the PMD write the call fd
            assertTrue(fe.awaitClosedByPeer(3_000), "the port should drop the front end that blocked the PMD");
            assertEquals(1, port.counters().get(PortCounters.SIGNAL_STUCK));
        }
        watch.assertNoStallOver(MAX_STALL_MILLIS);
        assertServesAWellBehavedFrontEnd();
        baseline.assertRestored(EndpointHarness.SLACK, "after a blocked call fd");
    }

    @Test
    void aSaturatedBlockingCallFdCannotStopThePmdWhenTheFrontEndLeaves() throws IOException
    {
        try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES))
        {
            final FrontEnd fe = FrontEnd.connect(socket);
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            // Keep our own copy of the eventfd so nobody but the switch can drain it once the front end is gone.
            final int call = dup(fe.callFd(TX_QUEUE));
            wedge(call);
            tx.addTx(frame(1));
            awaitTrue(() -> tx.usedIdx() == 1, "the PMD should complete the frame (its call write meets the wedge)");
            fe.close();
            awaitTrue(() -> !endpoint.isConnected(), "the endpoint should finish the disconnect");
            Fds.close(call);
        }
        watch.assertNoStallOver(MAX_STALL_MILLIS);
        assertServesAWellBehavedFrontEnd();
        baseline.assertRestored(EndpointHarness.SLACK, "after a blocked call fd and a disconnect");
    }

    @Test
    void truncatingSealableGuestMemoryFails() throws IOException
    {
        try (GuestMemory memory = GuestMemory.createSealable(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(socket))
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            assertEquals(1 /* EPERM */, memory.truncate(0), "the back end should have sealed the memfd against shrinking");
            tx.addTx(frame(1));
            awaitTrue(() -> tx.drainUsed().size() == 1, "the port keeps serving");
        }
        watch.assertNoStallOver(MAX_STALL_MILLIS);
    }

    @Test
    void truncatingUnsealableGuestMemoryCostsThatPortOnly() throws IOException
    {
        try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(socket))
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            for (int i = 0; i < 64; i++)
            {
                tx.addTx(frame(i));
            }
            assertEquals(0, memory.truncate(0), "a memfd without MFD_ALLOW_SEALING cannot be sealed");
            assertTrue(fe.awaitClosedByPeer(3_000), "the port should drop the front end whose memory went away");
        }
        watch.assertNoStallOver(MAX_STALL_MILLIS);
        assertServesAWellBehavedFrontEnd();
        baseline.assertRestored(EndpointHarness.SLACK, "after truncated guest memory");
    }

    /** Clears O_NONBLOCK on the shared description and saturates the counter: the next write of 1 blocks. */
    static void wedge(final int eventFd)
    {
        EventFd.drainIfReadable(eventFd);   // any earlier interrupt, so that the saturating write does not block us
        final int flags = LibC.fcntl(eventFd, LibC.F_GETFL, 0);
        LibC.fcntl(eventFd, LibC.F_SETFL, flags & ~LibC.O_NONBLOCK);
        try (Memory value = new Memory(8))
        {
            value.setLong(0, SATURATED);
            assertEquals(8, LibC.write(eventFd, Pointer.nativeValue(value), 8));
        }
    }

    static int dup(final int fd)
    {
        return LibC.fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, 0);
    }

    /** pipe2(O_CLOEXEC): {read end, write end}. */
    static int[] pipe() throws IOException
    {
        try (Memory pair = new Memory(8))
        {
            final int rc = Function.getFunction(Platform.C_LIBRARY_NAME, "pipe2")
                .invokeInt(new Object[] {pair, LibC.O_CLOEXEC});
            if (rc != 0)
            {
                throw new IOException("pipe2 failed");
            }
            return new int[] {pair.getInt(0), pair.getInt(4)};
        }
    }

    private void assertServesAWellBehavedFrontEnd() throws IOException
    {
        awaitTrue(() -> !endpoint.isConnected(), "the previous front end should be gone");
        try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(socket))
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            final long before = port.counters().get(PortCounters.RX_PACKETS);
            tx.addTx(frame(7));
            awaitTrue(() -> port.counters().get(PortCounters.RX_PACKETS) == before + 1,
                "a well-behaved front end should be served on the same port");
            awaitTrue(() -> tx.drainUsed().size() == 1, "its TX chain should come back");
            // The used index is published just before the interrupt is written: wait for the interrupt too.
            awaitTrue(() -> EventFd.drain(fe.callFd(TX_QUEUE)) > 0, "and it should be interrupted");
        }
        awaitTrue(() -> !endpoint.isConnected(), "the well-behaved front end should be gone");
    }

    /** Samples the PMD's round counter every 2 ms and remembers the longest time it stood still. */
    static final class StallWatch implements AutoCloseable
    {
        private final Thread thread;
        private final AtomicLong longestNanos = new AtomicLong();
        private volatile boolean running = true;

        StallWatch(final PmdAgent pmd)
        {
            thread = new Thread(() ->
            {
                long last = pmd.rounds();
                long since = System.nanoTime();
                while (running)
                {
                    sleep(2);
                    final long now = System.nanoTime();
                    final long rounds = pmd.rounds();
                    if (rounds != last)
                    {
                        last = rounds;
                        since = now;
                    }
                    else
                    {
                        longestNanos.accumulateAndGet(now - since, Math::max);
                    }
                }
            }, "stall-watch");
            thread.setDaemon(true);
            thread.start();
        }

        void assertNoStallOver(final long millis)
        {
            final long longest = longestNanos.get() / 1_000_000;
            assertTrue(longest <= millis, "the PMD stood still for " + longest + " ms (allowed " + millis + ")");
        }

        @Override
        public void close()
        {
            running = false;
        }
    }
}
