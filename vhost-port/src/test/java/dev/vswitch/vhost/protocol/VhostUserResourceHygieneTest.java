package dev.vswitch.vhost.protocol;

import dev.vswitch.nativeio.EventFd;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.FrontEnd.Region;
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

import static dev.vswitch.vhost.protocol.EndpointHarness.ALL_FEATURES;
import static dev.vswitch.vhost.protocol.EndpointHarness.MEMORY_BYTES;
import static dev.vswitch.vhost.protocol.EndpointHarness.RING_SIZE;
import static dev.vswitch.vhost.protocol.EndpointHarness.SLACK;
import static dev.vswitch.vhost.protocol.EndpointHarness.awaitTrue;
import static dev.vswitch.vhost.protocol.EndpointHarness.frame;
import static dev.vswitch.vhost.protocol.HostileFrontEnd.*;
import static dev.vswitch.testkit.vhost.FrontEnd.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Fds and mappings over many connections and repeated messages. The test and the back end share the process, and
 * the test closes its own copies of every fd it sends, so what is left open or mapped is the back end's.
 */
class VhostUserResourceHygieneTest
{
    private static final int CYCLES = 50;
    private static final long MEMFD_SIZE = 64 * 1024;

    @TempDir
    Path dir;

    private EndpointHarness h;

    @BeforeEach
    void start() throws IOException
    {
        h = new EndpointHarness(dir);
        h.assertFreshHandshake();   // warm-up
    }

    @AfterEach
    void stop()
    {
        h.close();
    }

    @Test
    void connectHandshakeDisconnectCyclesLeaveNothingBehind() throws IOException
    {
        final EndpointHarness.Resources baseline = EndpointHarness.Resources.now();
        for (int i = 0; i < CYCLES; i++)
        {
            try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = h.connect())
            {
                final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
                final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
                fe.startDevice(memory, rx, tx, ALL_FEATURES);   // SET_MEM_TABLE + kick and call eventfds
                assertTrue(h.port.isUp() && h.port.isReceiving(), "cycle " + i);
                tx.addTx(frame(i));
                assertEquals(1, h.drainTx(8), "cycle " + i);
            }
            final int cycle = i;
            awaitTrue(() -> !h.endpoint.isConnected() && !h.port.isUp(), "cycle " + cycle + ": disconnect");
        }
        assertEquals(CYCLES + 1, h.endpoint.connections());
        baseline.assertRestored(SLACK, CYCLES + " connect/handshake/disconnect cycles");
    }

    @Test
    void fdsSentWithRejectedMessagesAreClosed() throws IOException
    {
        final EndpointHarness.Resources baseline = EndpointHarness.Resources.now();
        for (int round = 0; round < 10; round++)
        {
            // Nacked on a live connection.
            try (FrontEnd fe = h.connectAndHandshake())
            {
                assertNack(fe, SET_MEM_TABLE, memTable(region()), memfds(2, MEMFD_SIZE));          // fd count
                assertNack(fe, SET_MEM_TABLE, memTable(new Region(0x1000_0000L, 2 * MEMFD_SIZE, 0x1000_0000L, 0)),
                    memfds(1, MEMFD_SIZE));                                                       // file too small
                assertNack(fe, SET_MEM_TABLE, memTable(region(), new Region(1L << 40, 0, 1L << 40, 0)),
                    memfds(2, MEMFD_SIZE));                                                       // 2nd region bad
                assertNack(fe, SET_VRING_KICK, u64(0), eventFds(2));
                assertNack(fe, SET_VRING_CALL, u64(2), eventFds(1));
                assertNack(fe, SET_VRING_ERR, u64(1L << 32), eventFds(1));
                assertNack(fe, 99, u64(0), eventFds(3));
                sendAndClose(fe, GET_FEATURES, VERSION, new byte[0], eventFds(3));
                fe.readReplyTo(GET_FEATURES);
            }
            // Rejected by dropping the connection.
            try (FrontEnd fe = h.connectAndHandshake())
            {
                assertDroppedRaw(fe, FrontEnd.message(SET_MEM_TABLE, VERSION, 4096, new byte[16]), memfds(2, MEMFD_SIZE));
            }
            try (FrontEnd fe = h.connectAndHandshake())
            {
                assertDropped(fe, 99, VERSION, u64(0), memfds(1, MEMFD_SIZE));
            }
            try (FrontEnd fe = h.connectAndHandshake())
            {
                assertDropped(fe, SET_MEM_TABLE, 0x2, memTable(region()), memfds(1, MEMFD_SIZE));  // bad version
            }
        }
        awaitTrue(() -> !h.endpoint.isConnected(), "the last connection should be gone");
        baseline.assertRestored(SLACK, "10 rounds of rejected messages with fds");
        h.assertFreshHandshake();
    }

    @Test
    void repeatedMessagesReplaceEarlierState() throws IOException
    {
        try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES);
             GuestMemory alias = GuestMemory.create("alias", MEMORY_BYTES, GuestMemory.DEFAULT_GPA,
                 GuestMemory.DEFAULT_UVA);
             FrontEnd fe = h.connect())
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.startDevice(memory, rx, tx, ALL_FEATURES);
            final EndpointHarness.Resources baseline = EndpointHarness.Resources.now();

            for (int i = 0; i < 20; i++)
            {
                fe.setMemTable(memory);
                for (int q = 0; q < 2; q++)
                {
                    final int[] call = eventFds(1);
                    assertAck(fe, SET_VRING_CALL, u64(q), call);
                    final int[] kick = eventFds(1);
                    assertAck(fe, SET_VRING_KICK, u64(q), kick);
                    final int[] err = eventFds(1);
                    assertAck(fe, SET_VRING_ERR, u64(q), err);
                }
            }
            // A different memfd at the same addresses, as after a guest memory re-plug: the old one is unmapped.
            fe.setMemTable(alias);
            fe.setMemTable(memory);
            baseline.assertRestored(SLACK, "20 x SET_MEM_TABLE / SET_VRING_CALL / KICK / ERR");
            assertTrue(h.port.isUp() && h.port.isReceiving(), "rings keep running across the replacements");

            // The newest call fd is the one in use.
            final int call = EventFd.create();
            try
            {
                fe.setVringCall(RX_QUEUE, call);
                rx.addRxBuffers(2, 2048);
                final UnsafeBuffer src = new UnsafeBuffer(BufferUtil.allocateDirectAligned(128, 64));
                src.putBytes(0, frame(7));
                final PacketEvent e = new PacketEvent();
                e.reset(1);
                e.addSegment(src.addressOffset(), 64);
                assertTrue(h.port.transmit(e));
                h.port.flush();
                assertNotNull(rx.pollUsed());
                assertTrue(EventFd.drain(call) > 0, "the latest SET_VRING_CALL fd should be signalled");
            }
            finally
            {
                Fds.close(call);
            }
            tx.addTx(frame(8));
            assertEquals(1, h.drainTx(8));
            assertEquals(1, tx.drainUsed().size());
        }
    }

    @Test
    void closingTheEndpointReleasesEverythingAndRemovesTheSocket() throws IOException
    {
        h.close();
        final EndpointHarness.Resources before = EndpointHarness.Resources.now();
        h = new EndpointHarness(dir);
        try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = h.connect())
        {
            fe.startDevice(memory, DriverRing.allocate(memory, RING_SIZE), DriverRing.allocate(memory, RING_SIZE),
                ALL_FEATURES);
            h.close();   // while a front end is connected and rings run
            assertFalse(h.port.isUp() || h.port.isReceiving());
            assertTrue(fe.awaitClosedByPeer(2_000), "the front end should see the connection close");
            assertFalse(Files.exists(h.path), "the socket file should be removed");
        }
        before.assertRestored(SLACK, "endpoint closed with a live front end");
    }

    private static Region region()
    {
        return new Region(0x1000_0000L, MEMFD_SIZE, 0x1000_0000L, 0);
    }
}
