package dev.vswitch.vhost.protocol;

import dev.vswitch.nativeio.EventFd;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.vhost.VhostUserDevice;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static dev.vswitch.vhost.protocol.EndpointHarness.ALL_FEATURES;
import static dev.vswitch.vhost.protocol.EndpointHarness.MEMORY_BYTES;
import static dev.vswitch.vhost.protocol.EndpointHarness.RING_SIZE;
import static dev.vswitch.vhost.protocol.EndpointHarness.awaitTrue;
import static dev.vswitch.vhost.protocol.EndpointHarness.frame;
import static dev.vswitch.testkit.vhost.FrontEnd.*;
import static org.junit.jupiter.api.Assertions.*;

/** The normal life of a vhost-user connection, as QEMU drives it, against a real endpoint. */
class VhostUserHandshakeTest
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

    /**
     * A control thread sleeps between messages for as long as it has nothing to do (a second of housekeeping
     * interval while a front end is connected, without end while none is): stopping the port must wake it at once,
     * not after that sleep, since a switch that restarts waits for every port. Half the interval is the bound.
     */
    @Test
    void stoppingAPortWakesItsControlThreadAtOnceWithOrWithoutAFrontEnd() throws IOException
    {
        awaitTrue(() -> !h.endpoint.isConnected(), "nobody connected yet");
        assertTrue(millisToClose(h) < 500, "closing an idle port waited for its control thread");
        try (EndpointHarness connected = new EndpointHarness(Files.createDirectories(dir.resolve("b")));
             FrontEnd fe = connected.connect())
        {
            fe.handshake();
            awaitTrue(connected.endpoint::isConnected, "the front end should be served");
            assertTrue(millisToClose(connected) < 500, "closing a connected port waited for its control thread");
            assertTrue(fe.awaitClosedByPeer(1_000), "the front end should see the port go");
        }
    }

    private static long millisToClose(final EndpointHarness harness)
    {
        // Let the control thread get into its wait first: closing before it does would not show a missing wake.
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
        final long start = System.nanoTime();
        harness.endpoint.close();
        return (System.nanoTime() - start) / 1_000_000L;
    }

    @Test
    void featureRepliesAreTheOfferedSetsWithReplyFlagAndVersion1() throws IOException
    {
        try (FrontEnd fe = h.connect())
        {
            final Reply features = fe.call(GET_FEATURES, new byte[0]);
            assertEquals(VERSION | FLAG_REPLY, features.flags);
            assertEquals(8, features.size());
            assertEquals(VhostUserDevice.OFFERED_FEATURES, features.u64(0));
            assertEquals(VhostUserDevice.OFFERED_PROTOCOL_FEATURES, fe.getProtocolFeatures());
            assertTrue((VhostUserDevice.OFFERED_FEATURES & F_PROTOCOL_FEATURES) != 0,
                "PROTOCOL_FEATURES must be offered, or QEMU never asks for protocol features");
            assertTrue((VhostUserDevice.OFFERED_PROTOCOL_FEATURES & PROTOCOL_F_REPLY_ACK) != 0);
        }
    }

    @Test
    void replyAckAcksZeroOnlyWhenNeedReplyIsSet() throws IOException
    {
        try (FrontEnd fe = h.connect())
        {
            // Before REPLY_ACK is negotiated, NEED_REPLY must not produce an ack: the next message we read has to
            // be the GET_FEATURES reply.
            fe.send(SET_OWNER, VERSION | FLAG_NEED_REPLY, new byte[0]);
            assertEquals(VhostUserDevice.OFFERED_FEATURES, fe.getFeatures());

            fe.getProtocolFeatures();
            fe.setProtocolFeatures(PROTOCOL_F_REPLY_ACK | PROTOCOL_F_MQ);
            assertEquals(0, fe.commandStatus(SET_OWNER, new byte[0]));
            assertEquals(0, fe.commandStatus(SET_FEATURES, u64(ALL_FEATURES)));
            assertEquals(0, fe.commandStatus(SET_VRING_NUM, vringState(0, 256)));
            // Without NEED_REPLY: no ack, even with REPLY_ACK negotiated.
            fe.send(SET_VRING_BASE, VERSION, vringState(0, 7));
            assertFalse(fe.socket().awaitReadable(100), "no reply expected without NEED_REPLY");
            // A request that has its own reply gets just that reply, NEED_REPLY or not (vhost-user.rst, REPLY_ACK).
            fe.send(GET_FEATURES, VERSION | FLAG_NEED_REPLY, new byte[0]);
            assertEquals(VhostUserDevice.OFFERED_FEATURES, fe.readReplyTo(GET_FEATURES).u64(0));
            assertEquals(7, fe.getVringBase(0), "the base set earlier comes back from a ring that never ran");
            assertFalse(fe.socket().awaitReadable(100), "exactly one reply per request");
        }
    }

    @Test
    void queueNumIsOneQueuePair() throws IOException
    {
        try (FrontEnd fe = h.connectAndHandshake())
        {
            assertEquals(1, fe.getQueueNum());
        }
    }

    /** Kicks are never waited on, but they are counted: a front end that ignores suppression shows up. */
    @Test
    void kicksTheFrontEndSendsAreCounted() throws IOException
    {
        try (FrontEnd fe = h.connect())
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            dev.vswitch.nativeio.EventFd.signal(fe.kickFd(1));
            dev.vswitch.nativeio.EventFd.signal(fe.kickFd(1));
            dev.vswitch.nativeio.EventFd.signal(fe.kickFd(0));
            awaitTrue(() -> h.port.counters().get(dev.vswitch.pipeline.PortCounters.KICKS) == 3,
                "three kicks counted, got " + h.port.counters().get(dev.vswitch.pipeline.PortCounters.KICKS));
        }
    }

    @Test
    void startDeviceStartsBothRingsAndDisconnectTakesThemDown() throws IOException
    {
        assertFalse(h.port.isUp());
        try (FrontEnd fe = h.connect())
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            assertEquals(ALL_FEATURES, fe.startDevice(memory, rx, tx, ALL_FEATURES));
            assertTrue(fe.replyAck());
            // Every step was acked, so activation has already happened.
            assertTrue(h.port.isUp(), "guest RX ring (queue 0) should be running");
            assertTrue(h.port.isReceiving(), "guest TX ring (queue 1) should be running");
            assertTrue(h.endpoint.isConnected());
            assertEquals(1, h.endpoint.connections());
        }
        awaitTrue(() -> !h.port.isUp() && !h.port.isReceiving() && !h.endpoint.isConnected(),
            "closing the front end should withdraw both rings");
    }

    @Test
    void ringsWaitForEnableWhenProtocolFeaturesAreNegotiated() throws IOException
    {
        try (FrontEnd fe = h.connectAndHandshake())
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            fe.setFeatures(ALL_FEATURES);
            fe.setMemTable(memory);
            fe.setVringNum(0, RING_SIZE);
            fe.setVringBase(0, 0);
            fe.setVringAddr(0, rx.descUva(), rx.usedUva(), rx.availUva());
            fe.setVringKick(0, -1);
            assertFalse(h.port.isUp(), "with PROTOCOL_FEATURES a ring starts disabled");
            fe.setVringEnable(0, true);
            assertTrue(h.port.isUp());
            fe.setVringEnable(0, false);
            assertFalse(h.port.isUp());
            fe.setVringEnable(0, true);
            assertTrue(h.port.isUp());
        }
    }

    @Test
    void ringsStartAtKickWithoutProtocolFeatures() throws IOException
    {
        try (FrontEnd fe = h.connect())
        {
            fe.setOwner();
            final long legacy = fe.getFeatures() & ~F_PROTOCOL_FEATURES;
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.setFeatures(legacy);
            fe.setMemTable(memory);
            final DriverRing[] rings = {rx, tx};
            for (int q = 0; q < 2; q++)
            {
                fe.setVringNum(q, RING_SIZE);
                fe.setVringBase(q, 0);
                fe.setVringAddr(q, rings[q].descUva(), rings[q].usedUva(), rings[q].availUva());
                fe.setVringKick(q, -1);
            }
            // No acks without REPLY_ACK: wait for the control thread.
            awaitTrue(() -> h.port.isUp() && h.port.isReceiving(), "rings should start at SET_VRING_KICK");
        }
    }

    @Test
    void getVringBaseReturnsTheExactNextAvailIndexAfterTraffic() throws IOException
    {
        // Start near the 16-bit wrap so the index arithmetic is exercised too.
        final int start = 65533;
        try (FrontEnd fe = h.connect())
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE, 100);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE, start);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            for (int i = 0; i < 5; i++)
            {
                tx.addTx(frame(i));
            }
            assertEquals(3, h.drainTx(3), "budget 3 takes 3 of the 5 frames");
            final List<DriverRing.Used> used = tx.drainUsed();
            assertEquals(3, used.size());
            assertEquals(0, used.get(0).id());

            assertEquals((start + 3) & 0xffff, fe.getVringBase(TX_QUEUE), "base = next avail index not yet taken");
            assertFalse(h.port.isReceiving(), "GET_VRING_BASE stops the ring");
            assertTrue(h.port.isUp(), "the other ring keeps running");
            assertEquals(100, fe.getVringBase(RX_QUEUE));
            assertFalse(h.port.isUp());

            // Resume from the reported base (QEMU does this after a stop/start or migration): the remaining two
            // frames, and nothing else, are taken.
            fe.setVringBase(TX_QUEUE, (start + 3) & 0xffff);
            fe.setVringKick(TX_QUEUE, -1);
            fe.setVringEnable(TX_QUEUE, true);
            assertTrue(h.port.isReceiving());
            assertEquals(2, h.drainTx(64));
            assertEquals(2, tx.drainUsed().size());
            assertEquals((start + 5) & 0xffff, tx.usedIdx());
            assertEquals((start + 5) & 0xffff, fe.getVringBase(TX_QUEUE));
        }
    }

    @Test
    void getVringBaseWithoutTrafficReturnsTheStartIndex() throws IOException
    {
        try (FrontEnd fe = h.connect())
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE, 40_000);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE, 65535);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            assertArrayEquals(new int[] {40_000, 65535}, fe.stopDevice());
            assertFalse(h.port.isUp());
            assertFalse(h.port.isReceiving());
        }
    }

    @Test
    void framesToTheGuestLandInItsRxRingAndSignalTheCallFd() throws IOException
    {
        try (FrontEnd fe = h.connect())
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            rx.addRxBuffers(4, 2048);
            final byte[] payload = frame(9);
            final UnsafeBuffer src = new UnsafeBuffer(BufferUtil.allocateDirectAligned(128, 64));
            src.putBytes(0, payload);
            final PacketEvent e = new PacketEvent();
            e.reset(1);
            e.addSegment(src.addressOffset(), payload.length);
            assertTrue(h.port.transmit(e));
            h.port.flush();
            final DriverRing.Used u = rx.pollUsed();
            assertNotNull(u);
            assertEquals(DriverRing.NET_HDR_LEN + payload.length, u.len());
            assertArrayEquals(payload, Arrays.copyOfRange(u.data(), DriverRing.NET_HDR_LEN, u.len()));
            assertEquals(1, DriverRing.numBuffers(u.data()));
            assertTrue(EventFd.drain(fe.callFd(RX_QUEUE)) > 0, "the guest should be interrupted via its call fd");
        }
    }

    @Test
    void replacingTheMemoryTableWhileRunningKeepsRingsRunning() throws IOException
    {
        try (FrontEnd fe = h.connect())
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            tx.addTx(frame(1));
            assertEquals(1, h.drainTx(8));
            fe.setMemTable(memory);   // QEMU does this on memory hotplug
            assertTrue(h.port.isUp() && h.port.isReceiving());
            tx.addTx(frame(2));
            assertEquals(1, h.drainTx(8), "the ring resumes over the new mapping where it stopped");
            assertEquals(2, tx.drainUsed().size());
            assertEquals(2, fe.getVringBase(TX_QUEUE));
        }
    }

    @Test
    void endpointServesOneFrontEndAfterAnother() throws IOException
    {
        for (int i = 0; i < 3; i++)
        {
            h.assertFreshHandshake();
        }
        assertEquals(3, h.endpoint.connections());
        assertFalse(h.port.isUp());
    }
}
