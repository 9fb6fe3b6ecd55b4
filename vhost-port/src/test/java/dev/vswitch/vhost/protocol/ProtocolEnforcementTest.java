package dev.vswitch.vhost.protocol;

import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.FrontEnd.Region;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static dev.vswitch.vhost.protocol.EndpointHarness.ALL_FEATURES;
import static dev.vswitch.vhost.protocol.EndpointHarness.MEMORY_BYTES;
import static dev.vswitch.vhost.protocol.EndpointHarness.RING_SIZE;
import static dev.vswitch.vhost.protocol.EndpointHarness.SLACK;
import static dev.vswitch.vhost.protocol.HostileFrontEnd.assertNack;
import static dev.vswitch.vhost.protocol.HostileFrontEnd.memfds;
import static dev.vswitch.testkit.vhost.FrontEnd.FLAG_NEED_REPLY;
import static dev.vswitch.testkit.vhost.FrontEnd.SET_MEM_TABLE;
import static dev.vswitch.testkit.vhost.FrontEnd.SET_VRING_ENABLE;
import static dev.vswitch.testkit.vhost.FrontEnd.SET_VRING_NUM;
import static dev.vswitch.testkit.vhost.FrontEnd.VERSION;
import static dev.vswitch.testkit.vhost.FrontEnd.memTable;
import static dev.vswitch.testkit.vhost.FrontEnd.vringState;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The protocol as real front ends use it, enforced: setup only after SET_OWNER (the queries QEMU sends before it
 * stay allowed), memory regions that do not overlap, rings whose parts do not overlap; and a connection that is
 * idle or half-open cannot hold the port, nor can a second front end wait for it without an answer.
 */
class ProtocolEnforcementTest
{
    private static final long MEMFD_SIZE = 1 << 20;

    @TempDir
    Path dir;

    private EndpointHarness h;

    @BeforeEach
    void start() throws IOException
    {
        h = new EndpointHarness(dir);
    }

    @AfterEach
    void stop()
    {
        h.close();
    }

    @Test
    void setupBeforeSetOwnerIsRefusedButQueriesAreAllowed() throws IOException
    {
        final EndpointHarness.Resources baseline = EndpointHarness.Resources.now();
        try (FrontEnd fe = h.connect())
        {
            // What QEMU sends before SET_OWNER: all answered.
            fe.getFeatures();
            fe.setProtocolFeatures(fe.getProtocolFeatures() & (FrontEnd.PROTOCOL_F_MQ | FrontEnd.PROTOCOL_F_REPLY_ACK));
            fe.getQueueNum();
            assertTrue(fe.replyAck());
            assertNack(fe, SET_MEM_TABLE, memTable(region(0x1000_0000L)), memfds(1, MEMFD_SIZE));
            assertNack(fe, SET_VRING_NUM, vringState(0, 256));
            assertNack(fe, SET_VRING_ENABLE, vringState(0, 1));
            fe.setOwner();
            try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES))
            {
                fe.setMemTable(memory);   // accepted now
            }
        }
        h.assertFreshHandshake();
        baseline.assertRestored(SLACK, "setup before SET_OWNER");
    }

    @Test
    void overlappingMemoryRegionsAreRefused() throws IOException
    {
        final EndpointHarness.Resources baseline = EndpointHarness.Resources.now();
        try (FrontEnd fe = h.connectAndHandshake())
        {
            // Same guest-physical range twice.
            assertNack(fe, SET_MEM_TABLE, memTable(region(0x1000_0000L),
                new Region(0x1000_0000L + MEMFD_SIZE / 2, MEMFD_SIZE, 0x4000_0000L, 0)), memfds(2, MEMFD_SIZE));
            // Disjoint guest-physical ranges, one front-end virtual range: ring addresses would be ambiguous.
            assertNack(fe, SET_MEM_TABLE, memTable(region(0x1000_0000L),
                new Region(0x4000_0000L, MEMFD_SIZE, 0x1000_0000L + 4096, 0)), memfds(2, MEMFD_SIZE));
        }
        h.assertFreshHandshake();
        baseline.assertRestored(SLACK, "overlapping regions");
    }

    @Test
    void ringsWhosePartsOverlapAreRefused() throws IOException
    {
        try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = h.connectAndHandshake())
        {
            final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
            final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
            fe.setFeatures(ALL_FEATURES);
            fe.setMemTable(memory);
            // desc == avail == used on one ring.
            fe.setVringNum(0, RING_SIZE);
            fe.setVringBase(0, 0);
            fe.setVringAddr(0, rx.descUva(), rx.descUva(), rx.descUva());
            fe.setVringKick(0, -1);
            assertNotEquals(0, fe.commandStatus(SET_VRING_ENABLE, vringState(0, 1)), "desc == avail == used");
            assertFalse(h.port.isUp());
            // A proper ring 0, then ring 1 whose used ring lies on ring 0's descriptor table.
            fe.setVringAddr(0, rx.descUva(), rx.usedUva(), rx.availUva());
            fe.setVringEnable(0, true);
            assertTrue(h.port.isUp());
            fe.setVringNum(1, RING_SIZE);
            fe.setVringBase(1, 0);
            fe.setVringAddr(1, tx.descUva(), rx.descUva(), tx.availUva());
            fe.setVringKick(1, -1);
            assertNotEquals(0, fe.commandStatus(SET_VRING_ENABLE, vringState(1, 1)),
                "ring 1's used ring on ring 0's descriptors");
            assertFalse(h.port.isReceiving());
            fe.setVringAddr(1, tx.descUva(), tx.usedUva(), tx.availUva());
            fe.setVringEnable(1, true);
            assertTrue(h.port.isReceiving(), "a proper ring 1 starts");
        }
        h.assertFreshHandshake();
    }

    @Test
    void anIdleConnectionIsDroppedAfterTheHandshakeDeadline() throws IOException
    {
        try (FrontEnd idle = h.connect())
        {
            final long start = System.nanoTime();
            assertTrue(idle.awaitClosedByPeer(8_000), "an idle front end should be dropped");
            final long took = (System.nanoTime() - start) / 1_000_000;
            assertTrue(took >= 4_000 && took < 7_000, "dropped after " + took + " ms (deadline 5000)");
        }
        h.assertFreshHandshake();
    }

    @Test
    void aMessageCutShortIsDroppedAfterTheMessageDeadline() throws IOException
    {
        try (FrontEnd fe = h.connectAndHandshake())
        {
            final byte[] header = FrontEnd.message(SET_VRING_NUM, VERSION | FLAG_NEED_REPLY, 8, vringState(0, 256));
            fe.sendRaw(java.util.Arrays.copyOf(header, 6));   // half a header, then nothing
            assertTrue(fe.awaitClosedByPeer(4_000), "a half-sent message should not hold the port");
        }
        h.assertFreshHandshake();
    }

    @Test
    void aSecondFrontEndIsRefusedPromptlyWhileThePortIsInUse() throws IOException
    {
        try (FrontEnd first = h.connectAndHandshake(); FrontEnd second = h.connect())
        {
            assertTrue(second.awaitClosedByPeer(3_000), "the second front end should be told, not left waiting");
            first.getFeatures();   // the first one is still served
        }
        h.assertFreshHandshake();
    }

    private static Region region(final long gpa)
    {
        return new Region(gpa, MEMFD_SIZE, gpa, 0);
    }
}
