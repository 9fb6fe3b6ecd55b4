package dev.vswitch.vhost.protocol;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.vhost.RingResume;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static dev.vswitch.vhost.protocol.EndpointHarness.ALL_FEATURES;
import static dev.vswitch.vhost.protocol.EndpointHarness.MEMORY_BYTES;
import static dev.vswitch.vhost.protocol.EndpointHarness.RING_SIZE;
import static dev.vswitch.vhost.protocol.EndpointHarness.awaitTrue;
import static dev.vswitch.vhost.protocol.EndpointHarness.frame;
import static dev.vswitch.testkit.vhost.FrontEnd.RX_QUEUE;
import static dev.vswitch.testkit.vhost.FrontEnd.TX_QUEUE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A front end that stays up while the back end goes away and comes back (the switch restarted, or the connection
 * dropped) keeps its rings, with used->idx wherever traffic left it, and starts the new back end with a base that
 * may be stale: DPDK virtio-user in server mode sends 0. The back end resumes from the ring (used->idx), says so,
 * and counts what was lost; guest-written indices that cannot describe a ring are refused without harm.
 */
class RingRecoveryTest
{
    @TempDir
    Path dir;

    private EndpointHarness h;
    private GuestMemory memory;

    @BeforeEach
    void start() throws IOException
    {
        h = new EndpointHarness(dir);
        memory = GuestMemory.create(MEMORY_BYTES);
    }

    @AfterEach
    void stop()
    {
        h.close();
        memory.close();
    }

    @Test
    void frontEndThatStayedUpResumesAfterReconnectWithBaseZero() throws IOException
    {
        // Far from 0 and across the 16-bit wrap during the second life, like a ring that carried traffic for a while.
        final int start = 65530;
        final DriverRing rx = DriverRing.allocate(memory, RING_SIZE, 25792);
        final DriverRing tx = DriverRing.allocate(memory, RING_SIZE, start);
        try (FrontEnd fe = h.connect())
        {
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            for (int i = 0; i < 4; i++)
            {
                tx.addTx(frame(i));
            }
            assertEquals(4, h.drainTx(64));
            assertEquals(4, tx.drainUsed().size());
        }
        awaitTrue(() -> !h.endpoint.isConnected(), "the first back-end life ends with the connection");
        assertEquals(0, h.port.ringRecoveries(), "a consistent base is not a recovery");

        // While no back end runs, the driver queues more frames and RX buffers.
        for (int i = 0; i < 6; i++)
        {
            tx.addTx(frame(10 + i));
        }
        rx.addRxBuffers(8, 2048);

        try (FrontEnd fe = h.connect())
        {
            fe.startDevice(memory, rx, tx, ALL_FEATURES, new int[] {0, 0});
            assertTrue(h.port.isUp() && h.port.isReceiving(), "both rings run");
            assertEquals(2, h.port.ringRecoveries(), "both rings were recovered from used->idx");
            assertEquals(0, h.port.inFlightLost(), "a stale base says nothing about chains in flight");

            assertEquals(6, h.drainTx(64), "exactly the six frames queued while the back end was away");
            final List<DriverRing.Used> used = tx.drainUsed();
            assertEquals(6, used.size());
            assertEquals((start + 10) & 0xffff, tx.usedIdx());

            deliverOneFrame(7);
            final DriverRing.Used u = rx.pollUsed();
            assertNotNull(u, "the RX ring takes frames again");
            assertEquals((25792 + 1) & 0xffff, rx.usedIdx());

            assertEquals((start + 10) & 0xffff, fe.getVringBase(TX_QUEUE), "GET_VRING_BASE reports the true index");
            assertEquals(25793, fe.getVringBase(RX_QUEUE));
        }
    }

    @Test
    void baseInsideTheWindowCountsChainsInFlightAndTakesThemAgain() throws IOException
    {
        final DriverRing rx = DriverRing.allocate(memory, RING_SIZE, 10);
        final DriverRing tx = DriverRing.allocate(memory, RING_SIZE, 500);
        for (int i = 0; i < 5; i++)
        {
            tx.addTx(frame(i));
        }
        rx.addRxBuffers(4, 2048);
        try (FrontEnd fe = h.connect())
        {
            // A previous back end took 3 TX chains and 2 RX buffers and died before returning them.
            fe.startDevice(memory, rx, tx, ALL_FEATURES, new int[] {12, 503});
            assertEquals(2, h.port.ringRecoveries());
            assertEquals(2, h.port.inFlightLost(), "the RX buffers' frames are lost; TX frames are sent again");
            assertEquals(5, h.drainTx(64), "all five TX chains are taken, in order, from used->idx");
            final List<DriverRing.Used> used = tx.drainUsed();
            for (int i = 0; i < 5; i++)
            {
                assertEquals(i, used.get(i).id(), "in avail order");
            }
        }
    }

    @Test
    void indicesThatCannotDescribeARingAreRefusedAndTheEndpointStaysHealthy() throws IOException
    {
        final DriverRing rx = DriverRing.allocate(memory, RING_SIZE, 0);
        final DriverRing tx = DriverRing.allocate(memory, RING_SIZE, 0);
        tx.addTx(frame(1));
        // Hostile guest: used->idx one past avail->idx, i.e. 65535 chains outstanding on a 256-entry ring.
        memory.putShortRelease(tx.usedGpa() + 2, tx.availIdx() + 1);
        try (FrontEnd fe = h.connect())
        {
            assertThrows(IOException.class, () -> fe.startDevice(memory, rx, tx, ALL_FEATURES, new int[] {0, 0}),
                "the ring is refused (nack or disconnect)");
            assertFalse(h.port.isReceiving(), "the hostile TX ring never reached the data path");
        }
        h.assertFreshHandshake();
    }

    @Test
    void everyPairOfGuestIndicesLeadsToABoundedConsistentStartOrARefusal()
    {
        final SplittableRandom random = new SplittableRandom(12);
        for (int i = 0; i < 200_000; i++)
        {
            final int size = 1 << random.nextInt(16);
            final int used = random.nextInt(65536);
            final int avail = random.nextBoolean() ? random.nextInt(65536) : (used + random.nextInt(size + 2)) & 0xffff;
            final int base = random.nextBoolean() ? random.nextInt(65536) : used;
            final RingResume r = new RingResume(i & 1, size, base, used, avail);
            final int outstanding = (avail - used) & 0xffff;
            assertEquals(outstanding <= size, r.consistent());
            if (r.consistent())
            {
                assertEquals(used, r.resumeAt());
                assertTrue(r.inFlight() >= 0 && r.inFlight() <= outstanding);
                assertTrue(r.lost() <= r.inFlight());
                assertEquals(base != used, r.recovered());
            }
        }
    }

    private void deliverOneFrame(final int tag)
    {
        final byte[] payload = frame(tag);
        final UnsafeBuffer src = new UnsafeBuffer(BufferUtil.allocateDirectAligned(128, 64));
        src.putBytes(0, payload);
        final PacketEvent e = new PacketEvent();
        e.reset(1);
        e.addSegment(src.addressOffset(), payload.length);
        assertTrue(h.port.transmit(e));
        h.port.flush();
    }
}
