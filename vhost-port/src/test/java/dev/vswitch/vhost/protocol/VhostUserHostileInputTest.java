package dev.vswitch.vhost.protocol;

import dev.vswitch.vhost.VhostUserDevice;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.FrontEnd.Region;
import dev.vswitch.testkit.vhost.FrontEnd.Reply;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.vswitch.vhost.protocol.EndpointHarness.ALL_FEATURES;
import static dev.vswitch.vhost.protocol.EndpointHarness.MEMORY_BYTES;
import static dev.vswitch.vhost.protocol.EndpointHarness.RING_SIZE;
import static dev.vswitch.vhost.protocol.EndpointHarness.SLACK;
import static dev.vswitch.vhost.protocol.EndpointHarness.awaitTrue;
import static dev.vswitch.vhost.protocol.HostileFrontEnd.*;
import static dev.vswitch.testkit.vhost.FrontEnd.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * A hostile or broken front end against a real endpoint. Every case runs on its own connection and asserts a
 * clear outcome: a non-zero REPLY_ACK status (the connection stays usable), or the back end closing the
 * connection. Then, for every case: all fds the message carried are closed and nothing stays mapped (the test
 * closes its own copies right after sending, so the process's fd count is the back end's), and a fresh front end
 * still gets a fully working device from the same endpoint.
 */
class VhostUserHostileInputTest
{
    private static final int[] BAD_INDICES = {2, 255, 256, 0x8000_0000, 0xFFFF_FFFF};
    private static final long MEMFD_SIZE = 64 * 1024;
    private static final Region GOOD = new Region(0x1_0000_0000L, MEMFD_SIZE, 0x7f00_0000_0000L, 0);
    /** Ring addresses that would be fine; only the index is wrong where these are used. */
    private static final byte[] ADDR_PAYLOAD_TAIL = vringAddr(0, 0, GuestMemory.DEFAULT_UVA,
        GuestMemory.DEFAULT_UVA + 0x2000, GuestMemory.DEFAULT_UVA + 0x1000, 0);

    @TempDir
    Path dir;

    private EndpointHarness h;

    interface Body
    {
        void run(FrontEnd fe) throws Exception;
    }

    @BeforeEach
    void start() throws IOException
    {
        h = new EndpointHarness(dir);
        h.assertFreshHandshake();   // warm-up: classes loaded, native buffers allocated before any baseline
    }

    @AfterEach
    void stop()
    {
        h.close();
    }

    /** A case on a connection that has done the QEMU init handshake (REPLY_ACK negotiated). */
    private DynamicTest hostile(final String name, final Body body)
    {
        return dynamicTest(name, () -> run(name, true, body));
    }

    /** A case on a bare connection (nothing negotiated). */
    private DynamicTest hostileBare(final String name, final Body body)
    {
        return dynamicTest(name, () -> run(name, false, body));
    }

    private void run(final String name, final boolean handshake, final Body body) throws Exception
    {
        final EndpointHarness.Resources baseline = EndpointHarness.Resources.now();
        try (FrontEnd fe = handshake ? h.connectAndHandshake() : h.connect())
        {
            body.run(fe);
        }
        awaitTrue(() -> !h.endpoint.isConnected(), name + ": the endpoint should see the connection end");
        // Fds exactly (each case sends only a few), mappings with slack for the JVM's own.
        baseline.assertRestored(0, SLACK, name);
        assertFalse(h.port.isUp() || h.port.isReceiving(), name + ": no ring may survive the connection");
        h.assertFreshHandshake();
        baseline.assertRestored(0, SLACK, name + ", then a fresh handshake");
    }

    // ------------------------------------------------------------------ header

    @TestFactory
    List<DynamicTest> badVersionBits()
    {
        final List<DynamicTest> tests = new ArrayList<>();
        for (final int version : new int[] {0, 2, 3})
        {
            tests.add(hostile("version " + version + " with NEED_REPLY is nacked", fe ->
            {
                sendAndClose(fe, SET_FEATURES, version | FLAG_NEED_REPLY, u64(ALL_FEATURES));
                assertNotEquals(0, fe.awaitAck(SET_FEATURES));
                assertEquals(VhostUserDevice.OFFERED_FEATURES, fe.getFeatures());
            }));
            tests.add(hostile("version " + version + " SET_FEATURES without NEED_REPLY drops the connection",
                fe -> assertDropped(fe, SET_FEATURES, version, u64(ALL_FEATURES))));
            tests.add(hostileBare("version " + version + " GET_FEATURES drops the connection",
                fe -> assertDropped(fe, GET_FEATURES, version, new byte[0])));
        }
        return tests;
    }

    @TestFactory
    List<DynamicTest> payloadLargerThan512DropsTheConnection()
    {
        final List<DynamicTest> tests = new ArrayList<>();
        for (final int size : new int[] {513, 4096, 65536, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF})
        {
            tests.add(hostile("size " + Integer.toUnsignedString(size) + " with 2 fds", fe ->
                assertDroppedRaw(fe, FrontEnd.message(SET_MEM_TABLE, VERSION | FLAG_NEED_REPLY, size, new byte[64]),
                    memfds(2, MEMFD_SIZE))));
        }
        return tests;
    }

    @TestFactory
    List<DynamicTest> truncatedMessageThenClose()
    {
        final byte[] addr = FrontEnd.message(SET_VRING_ADDR, VERSION, 40, ADDR_PAYLOAD_TAIL);
        final byte[] table = FrontEnd.message(SET_MEM_TABLE, VERSION, 40, memTable(GOOD));
        return List.of(
            hostile("6 of 12 header bytes", fe -> fe.sendRaw(Arrays.copyOf(addr, 6))),
            hostile("header only, 40 payload bytes announced", fe -> fe.sendRaw(Arrays.copyOf(addr, 12))),
            hostile("SET_VRING_ADDR with 10 of 40 payload bytes", fe -> fe.sendRaw(Arrays.copyOf(addr, 22))),
            hostile("SET_MEM_TABLE with 20 of 40 payload bytes", fe -> fe.sendRaw(Arrays.copyOf(table, 32))));
    }

    /**
     * Regression (VhostUserEndpoint.readMessage): fds that arrive with a message whose header or payload is then
     * cut short by EOF must be closed. They used to leak: readMessage stores them in msg.fds, then receiveFully throws EOFException
     * out of readMessage/serve; run() resets the device and closes the socket but not msg.fds, and the next
     * readMessage overwrites msg.fdCount with 0. Every such message leaks its fds for the life of the process
     * (for SET_MEM_TABLE that pins the guest's RAM memfd).
     */
    @TestFactory
    @DisplayName("truncated message with fds, then close: the fds are closed")
    List<DynamicTest> truncatedMessageWithFdsClosesThem()
    {
        final byte[] table = FrontEnd.message(SET_MEM_TABLE, VERSION, 40, memTable(GOOD));
        final byte[] kick = FrontEnd.message(SET_VRING_KICK, VERSION, 8, u64(0));
        return List.of(
            hostile("6 header bytes + 1 eventfd", fe -> sendRawAndClose(fe, Arrays.copyOf(kick, 6), eventFds(1))),
            hostile("SET_MEM_TABLE with 20 of 40 payload bytes + 1 memfd",
                fe -> sendRawAndClose(fe, Arrays.copyOf(table, 32), memfds(1, MEMFD_SIZE))));
    }

    // ------------------------------------------------------------------ features

    @TestFactory
    List<DynamicTest> setFeaturesWithBitsNotOffered()
    {
        final List<DynamicTest> tests = new ArrayList<>();
        // Bit 2 (CTRL_GUEST_OFFLOADS), 17 (CTRL_VQ), 22 (MQ) and 63 are not offered.
        for (final long bits : new long[] {1L << 2, 1L << 17, 1L << 22, 1L << 63, -1L, ALL_FEATURES | 1L << 2})
        {
            tests.add(hostile("features 0x" + Long.toHexString(bits) + " are nacked",
                fe -> assertNack(fe, SET_FEATURES, u64(bits))));
        }
        tests.add(hostile("features 0x4 without NEED_REPLY drop the connection",
            fe -> assertDropped(fe, SET_FEATURES, VERSION, u64(1L << 2))));
        tests.add(hostile("SET_FEATURES with a 4-byte payload is nacked",
            fe -> assertNack(fe, SET_FEATURES, new byte[4])));
        tests.add(hostile("changing features while rings run is nacked", fe ->
        {
            try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES))
            {
                startRings(fe, memory);
                assertNack(fe, SET_FEATURES, u64(ALL_FEATURES & ~(1L << 15)));
                assertTrue(h.port.isUp());
            }
        }));
        return tests;
    }

    @TestFactory
    List<DynamicTest> setProtocolFeaturesWithBitsNotOffered()
    {
        final List<DynamicTest> tests = new ArrayList<>();
        for (final long bits : new long[] {1L << 1, PROTOCOL_F_REPLY_ACK | 1L << 63, -1L})
        {
            // Before REPLY_ACK is negotiated nothing can be nacked: the back end must hang up.
            tests.add(hostileBare("0x" + Long.toHexString(bits) + " before REPLY_ACK drops the connection", fe ->
            {
                fe.getFeatures();
                fe.getProtocolFeatures();
                assertDropped(fe, SET_PROTOCOL_FEATURES, VERSION | FLAG_NEED_REPLY, u64(bits));
            }));
            tests.add(hostile("0x" + Long.toHexString(bits) + " after REPLY_ACK is nacked, REPLY_ACK stays", fe ->
            {
                assertNack(fe, SET_PROTOCOL_FEATURES, u64(bits));
                assertAck(fe, SET_OWNER, new byte[0]);
            }));
        }
        return tests;
    }

    // ------------------------------------------------------------------ vring indices and sizes

    @TestFactory
    List<DynamicTest> vringIndexOutOfRange()
    {
        final List<DynamicTest> tests = new ArrayList<>();
        for (final int index : BAD_INDICES)
        {
            final String i = Integer.toUnsignedString(index);
            tests.add(hostile("SET_VRING_NUM index " + i, fe -> assertNack(fe, SET_VRING_NUM, vringState(index, 256))));
            tests.add(hostile("SET_VRING_ADDR index " + i, fe -> assertNack(fe, SET_VRING_ADDR, addrPayload(index))));
            tests.add(hostile("SET_VRING_BASE index " + i, fe -> assertNack(fe, SET_VRING_BASE, vringState(index, 0))));
            tests.add(hostile("SET_VRING_ENABLE index " + i,
                fe -> assertNack(fe, SET_VRING_ENABLE, vringState(index, 1))));
            tests.add(hostile("GET_VRING_BASE index " + i + " drops the connection",
                fe -> assertDropped(fe, GET_VRING_BASE, VERSION, vringState(index, 0))));
        }
        // GET_VRING_BASE has a reply of its own, so REPLY_ACK does not apply to it (vhost-user.rst). Whatever the
        // back end does, it must not answer with something that reads as a successful stop of the ring asked for.
        tests.add(hostile("GET_VRING_BASE index 2 with NEED_REPLY gets no success-looking reply", fe ->
        {
            sendAndClose(fe, GET_VRING_BASE, VERSION | FLAG_NEED_REPLY, vringState(2, 0));
            try
            {
                final Reply reply = fe.readReply();
                assertEquals(GET_VRING_BASE, reply.request);
                assertFalse(reply.size() == 8 && reply.u32(0) == 2, "reply looks like ring 2 stopped: " + reply);
            }
            catch (final IOException closed)
            {
                // dropping the connection is a fine answer too
            }
        }));
        return tests;
    }

    /**
     * Regression (VhostUserEndpoint.dispatch): a rejected request with a reply of its own must drop the connection.
     * It used to be answered like this: that has a reply of its own (GET_VRING_BASE,
     * GET_FEATURES, ...) but carries NEED_REPLY is answered with a REPLY_ACK-style u64 status 1 under its own
     * request code. vhost-user.rst says NEED_REPLY changes nothing for such requests, so the front end parses that
     * u64 as the reply: for GET_VRING_BASE, 8 bytes {index 1, num 0}, i.e. "ring 1 stopped at avail index 0".
     * Here the request is for ring 1 with a malformed 4-byte payload, so the bogus answer is indistinguishable from
     * success.
     */
    @TestFactory
    @DisplayName("failed GET_VRING_BASE with NEED_REPLY: connection dropped, no ack that parses as a reply")
    List<DynamicTest> failedGetWithNeedReplyIsNotAnsweredWithAnAck()
    {
        return List.of(hostile("GET_VRING_BASE ring 1, 4-byte payload, NEED_REPLY", fe ->
        {
            sendAndClose(fe, GET_VRING_BASE, VERSION | FLAG_NEED_REPLY, Arrays.copyOf(vringState(1, 0), 4));
            try
            {
                final Reply reply = fe.readReply();
                assertFalse(reply.request == GET_VRING_BASE && reply.size() == 8 && reply.u32(0) == 1,
                    "a rejected GET_VRING_BASE was answered with what reads as 'ring 1 stopped at index " +
                        reply.u32(4) + "': " + reply);
            }
            catch (final IOException closed)
            {
                // dropping the connection is the right answer
            }
        }));
    }

    @TestFactory
    List<DynamicTest> vringFdPayloadOutOfRange()
    {
        final List<DynamicTest> tests = new ArrayList<>();
        final long[] values = {2, 255, 0xFFFF_FFFFL, 1L << 32, 1L << 32 | 1, 0x200, 1L << 63, 0x1FF, -1L};
        for (final int request : new int[] {SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR})
        {
            for (final long value : values)
            {
                tests.add(hostile("request " + request + " u64 0x" + Long.toHexString(value) + " + 1 eventfd",
                    fe -> assertNack(fe, request, u64(value), eventFds(1))));
            }
            tests.add(hostile("request " + request + " with two fds",
                fe -> assertNack(fe, request, u64(0), eventFds(2))));
            tests.add(hostile("request " + request + " says no fd but has one",
                fe -> assertNack(fe, request, u64(VRING_NOFD), eventFds(1))));
            tests.add(hostile("request " + request + " has neither fd nor the no-fd flag",
                fe -> assertNack(fe, request, u64(0))));
            tests.add(hostile("request " + request + " with a 4-byte payload",
                fe -> assertNack(fe, request, new byte[4], eventFds(1))));
        }
        tests.add(hostile("SET_VRING_KICK index 2 without NEED_REPLY drops the connection",
            fe -> assertDropped(fe, SET_VRING_KICK, VERSION, u64(2), eventFds(1))));
        return tests;
    }

    @TestFactory
    List<DynamicTest> vringNumInvalid()
    {
        final List<DynamicTest> tests = new ArrayList<>();
        for (final int num : new int[] {0, 3, 65536, 32769, 0xFFFF_FFFF, 0x8000_0000, 0x1_0100, 65535})
        {
            tests.add(hostile("SET_VRING_NUM " + Integer.toUnsignedString(num),
                fe -> assertNack(fe, SET_VRING_NUM, vringState(0, num))));
        }
        tests.add(hostile("SET_VRING_NUM 1 and 32768 are fine", fe ->
        {
            assertAck(fe, SET_VRING_NUM, vringState(0, 1));
            assertAck(fe, SET_VRING_NUM, vringState(1, 32768));
        }));
        tests.add(hostile("SET_VRING_NUM / SET_VRING_BASE while the ring runs", fe ->
        {
            try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES))
            {
                startRings(fe, memory);
                assertNack(fe, SET_VRING_NUM, vringState(0, 128));
                assertNack(fe, SET_VRING_BASE, vringState(1, 5));
                assertTrue(h.port.isUp() && h.port.isReceiving());
            }
        }));
        tests.add(hostile("SET_VRING_ENABLE value 2", fe -> assertNack(fe, SET_VRING_ENABLE, vringState(0, 2))));
        tests.add(hostile("SET_VRING_ADDR with a 39-byte payload",
            fe -> assertNack(fe, SET_VRING_ADDR, Arrays.copyOf(ADDR_PAYLOAD_TAIL, 39))));
        return tests;
    }

    // ------------------------------------------------------------------ memory table

    @TestFactory
    List<DynamicTest> setMemTableRejected()
    {
        final Region second = new Region(0x2_0000_0000L, MEMFD_SIZE, 0x7f10_0000_0000L, 0);
        final List<DynamicTest> tests = new ArrayList<>();
        tests.add(memCase("0 regions", memTable()));
        tests.add(memCase("0 regions + 1 fd", memTable(), 1));
        tests.add(memCase("9 regions, 8 fds", memTable(nine()), 8));
        tests.add(memCase("9 regions, 9 fds", memTable(nine()), 9));
        tests.add(memCase("count 2 but 1 region in the payload", withCount(memTable(GOOD), 2), 2));
        tests.add(memCase("count 1 but 2 regions in the payload", withCount(memTable(GOOD, second), 1), 1));
        tests.add(memCase("payload 4 bytes short", Arrays.copyOf(memTable(GOOD), 36), 1));
        tests.add(memCase("payload of 4 bytes", new byte[4], 1));
        tests.add(memCase("count 0xFFFFFFFF", withCount(memTable(GOOD), -1), 1));
        tests.add(memCase("1 region, no fd", memTable(GOOD)));
        tests.add(memCase("1 region, 2 fds", memTable(GOOD), 2));
        tests.add(memCase("2 regions, 1 fd", memTable(GOOD, second), 1));
        tests.add(memCase("region size 0", memTable(new Region(GOOD.gpa, 0, GOOD.uva, 0)), 1));
        tests.add(memCase("region size 2^63", memTable(new Region(GOOD.gpa, 1L << 63, GOOD.uva, 0)), 1));
        tests.add(memCase("region size 2^64-1", memTable(new Region(GOOD.gpa, -1L, GOOD.uva, 0)), 1));
        tests.add(memCase("mmap_offset + size overflows 2^64",
            memTable(new Region(GOOD.gpa, MEMFD_SIZE, GOOD.uva, -4096L)), 1));
        tests.add(memCase("mmap_offset 2^63-1 + size 2",
            memTable(new Region(GOOD.gpa, 2, GOOD.uva, Long.MAX_VALUE)), 1));
        tests.add(memCase("region larger than the memfd (would SIGBUS)",
            memTable(new Region(GOOD.gpa, 2 * MEMFD_SIZE, GOOD.uva, 0)), 1));
        tests.add(memCase("mmap_offset + size past the end of the memfd",
            memTable(new Region(GOOD.gpa, MEMFD_SIZE, GOOD.uva, 4096)), 1));
        tests.add(memCase("region starting at the end of the memfd",
            memTable(new Region(GOOD.gpa, 1, GOOD.uva, MEMFD_SIZE)), 1));
        tests.add(memCase("uva + size wraps around", memTable(new Region(GOOD.gpa, MEMFD_SIZE, -4096L, 0)), 1));
        tests.add(memCase("gpa + size wraps around", memTable(new Region(-4096L, MEMFD_SIZE, GOOD.uva, 0)), 1));
        tests.add(hostile("region fd is an eventfd", fe -> assertNack(fe, SET_MEM_TABLE, memTable(GOOD), eventFds(1))));
        tests.add(memCase("first region fine, second of size 0 (first must be unmapped again)",
            memTable(GOOD, new Region(second.gpa, 0, second.uva, 0)), 2));
        tests.add(memCase("8 regions fine, 8th too big for its memfd",
            memTable(eightWithLastTooBig()), 8));
        tests.add(hostile("a rejected table leaves the running one in place", fe ->
        {
            try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES))
            {
                final DriverRing[] rings = startRings(fe, memory);
                assertNack(fe, SET_MEM_TABLE, memTable(new Region(GOOD.gpa, 2 * MEMFD_SIZE, GOOD.uva, 0)),
                    memfds(1, MEMFD_SIZE));
                assertTrue(h.port.isUp() && h.port.isReceiving());
                rings[1].addTx(EndpointHarness.frame(3));
                assertEquals(1, h.drainTx(8));
                assertEquals(1, rings[1].drainUsed().size());
            }
        }));
        // Edge cases that are valid and must stay accepted.
        tests.add(hostile("accepted: region ending exactly at 2^64", fe -> assertAck(fe, SET_MEM_TABLE,
            memTable(new Region(-MEMFD_SIZE, MEMFD_SIZE, -MEMFD_SIZE, 0)), memfds(1, MEMFD_SIZE))));
        tests.add(hostile("accepted: region in the middle of a bigger memfd", fe -> assertAck(fe, SET_MEM_TABLE,
            memTable(new Region(GOOD.gpa, 4096, GOOD.uva, 8192)), memfds(1, MEMFD_SIZE))));
        return tests;
    }

    private DynamicTest memCase(final String name, final byte[] payload)
    {
        return hostile(name, fe -> assertNack(fe, SET_MEM_TABLE, payload));
    }

    private DynamicTest memCase(final String name, final byte[] payload, final int memfds)
    {
        return hostile(name + " (" + memfds + " memfds)",
            fe -> assertNack(fe, SET_MEM_TABLE, payload, memfds(memfds, MEMFD_SIZE)));
    }

    private static Region[] nine()
    {
        final Region[] r = new Region[9];
        for (int i = 0; i < 9; i++)
        {
            r[i] = new Region(GOOD.gpa + i * 0x1_0000_0000L, MEMFD_SIZE, GOOD.uva + i * 0x1_0000_0000L, 0);
        }
        return r;
    }

    private static Region[] eightWithLastTooBig()
    {
        final Region[] r = Arrays.copyOf(nine(), 8);
        r[7] = new Region(r[7].gpa, MEMFD_SIZE + 4096, r[7].uva, 0);
        return r;
    }

    private static byte[] withCount(final byte[] table, final int count)
    {
        ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN).putInt(0, count);
        return table;
    }

    // ------------------------------------------------------------------ ring addresses

    @TestFactory
    List<DynamicTest> ringAddressesOutsideGuestMemory()
    {
        final List<DynamicTest> tests = new ArrayList<>();
        tests.add(addrCase("desc below the region", (m, r) -> new long[] {m.uva() - 4096, r.usedUva(), r.availUva()}));
        tests.add(addrCase("avail just past the end", (m, r) -> new long[] {r.descUva(), r.usedUva(), m.uva() + m.size()}));
        tests.add(addrCase("used straddles the end",
            (m, r) -> new long[] {r.descUva(), m.uva() + m.size() - 64, r.availUva()}));
        tests.add(addrCase("desc table straddles the end",
            (m, r) -> new long[] {m.uva() + m.size() - 16L * RING_SIZE + 16, r.usedUva(), r.availUva()}));
        tests.add(addrCase("desc wraps around 2^64", (m, r) -> new long[] {-16L, r.usedUva(), r.availUva()}));
        tests.add(addrCase("gpas instead of uvas", (m, r) -> new long[] {r.descGpa(), r.usedGpa(), r.availGpa()}));
        tests.add(addrCase("all zero", (m, r) -> new long[] {0, 0, 0}));
        tests.add(addrCase("desc misaligned", (m, r) -> new long[] {r.descUva() + 8, r.usedUva(), r.availUva()}));
        tests.add(hostile("without PROTOCOL_FEATURES the kick is what gets nacked", fe ->
        {
            try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES))
            {
                final DriverRing ring = DriverRing.allocate(memory, RING_SIZE);
                fe.setFeatures(ALL_FEATURES & ~F_PROTOCOL_FEATURES);
                fe.setMemTable(memory);
                fe.setVringNum(0, RING_SIZE);
                fe.setVringBase(0, 0);
                fe.setVringAddr(0, memory.uva() - 4096, ring.usedUva(), ring.availUva());
                assertNack(fe, SET_VRING_KICK, u64(VRING_NOFD));
                assertFalse(h.port.isUp());
            }
        }));
        tests.add(hostile("SET_VRING_ADDR moving a running ring outside memory", fe ->
        {
            try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES))
            {
                final DriverRing[] rings = startRings(fe, memory);
                assertNack(fe, SET_VRING_ADDR,
                    vringAddr(1, 0, memory.uva() + memory.size(), rings[1].usedUva(), rings[1].availUva(), 0));
                assertFalse(h.port.isReceiving());
                assertTrue(h.port.isUp(), "the other ring is not affected");
            }
        }));
        tests.add(hostile("a new SET_MEM_TABLE that no longer covers running rings", fe ->
        {
            try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES);
                 GuestMemory other = GuestMemory.create("other", MEMORY_BYTES, 0x4_0000_0000L, 0x7e00_0000_0000L))
            {
                startRings(fe, memory);
                assertNack(fe, SET_MEM_TABLE, memTable(Region.of(other)), other.dupFd());
                assertFalse(h.port.isUp() || h.port.isReceiving(), "rings must not run over unmapped memory");
            }
        }));
        return tests;
    }

    interface Addresses
    {
        long[] of(GuestMemory memory, DriverRing ring);
    }

    private DynamicTest addrCase(final String name, final Addresses addresses)
    {
        return hostile(name + ": accepted as numbers, rejected at activation", fe ->
        {
            try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES))
            {
                final DriverRing ring = DriverRing.allocate(memory, RING_SIZE);
                final long[] a = addresses.of(memory, ring);
                fe.setFeatures(ALL_FEATURES);
                fe.setMemTable(memory);
                fe.setVringNum(0, RING_SIZE);
                fe.setVringBase(0, 0);
                fe.setVringAddr(0, a[0], a[1], a[2]);
                fe.setVringKick(0, -1);
                assertNack(fe, SET_VRING_ENABLE, vringState(0, 1));
                assertFalse(h.port.isUp());
            }
        });
    }

    // ------------------------------------------------------------------ requests and fds

    @TestFactory
    List<DynamicTest> unknownRequests()
    {
        final List<DynamicTest> tests = new ArrayList<>();
        for (final int request : new int[] {99, 0, 6, 19, 24, 1000, 0x7FFF_FFFF, -1})
        {
            tests.add(hostile("request " + request + " is nacked",
                fe -> assertNack(fe, request, u64(0))));
        }
        tests.add(hostile("SET_LOG_FD (7) with an fd is nacked", fe -> assertNack(fe, 7, new byte[0], memfds(1, 4096))));
        tests.add(hostile("request 99 with 2 fds is nacked", fe -> assertNack(fe, 99, u64(0), eventFds(2))));
        tests.add(hostile("request 99 without NEED_REPLY drops the connection",
            fe -> assertDropped(fe, 99, VERSION, u64(0))));
        return tests;
    }

    @TestFactory
    List<DynamicTest> extraFdsOnMessagesThatTakeNone()
    {
        return List.of(
            hostile("GET_FEATURES with 3 fds gets its normal reply", fe ->
            {
                sendAndClose(fe, GET_FEATURES, VERSION, new byte[0], eventFds(3));
                assertEquals(VhostUserDevice.OFFERED_FEATURES, fe.readReplyTo(GET_FEATURES).u64(0));
            }),
            hostile("GET_FEATURES with 12 fds (more than a message holds)", fe ->
            {
                sendAndClose(fe, GET_FEATURES, VERSION, new byte[0], memfds(12, 4096));
                assertEquals(VhostUserDevice.OFFERED_FEATURES, fe.readReplyTo(GET_FEATURES).u64(0));
            }),
            hostile("SET_OWNER with 3 memfds is acked", fe -> assertAck(fe, SET_OWNER, new byte[0], memfds(3, 4096))),
            hostile("SET_VRING_NUM with 2 eventfds is acked",
                fe -> assertAck(fe, SET_VRING_NUM, vringState(0, 256), eventFds(2))));
    }

    // ------------------------------------------------------------------ helpers

    private static byte[] addrPayload(final int index)
    {
        final byte[] p = ADDR_PAYLOAD_TAIL.clone();
        ByteBuffer.wrap(p).order(ByteOrder.LITTLE_ENDIAN).putInt(0, index);
        return p;
    }

    /** Starts both rings of a handshaken front end over {@code memory}; returns {rx, tx}. */
    private DriverRing[] startRings(final FrontEnd fe, final GuestMemory memory) throws IOException
    {
        final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
        final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
        fe.setFeatures(ALL_FEATURES);
        fe.setMemTable(memory);
        final DriverRing[] rings = {rx, tx};
        for (int q = 0; q < 2; q++)
        {
            fe.setVringNum(q, RING_SIZE);
            fe.setVringBase(q, 0);
            fe.setVringAddr(q, rings[q].descUva(), rings[q].usedUva(), rings[q].availUva());
            fe.setVringKick(q, -1);
            fe.setVringEnable(q, true);
        }
        assertTrue(h.port.isUp() && h.port.isReceiving());
        return rings;
    }
}
