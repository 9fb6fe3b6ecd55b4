package dev.vswitch.vhost.protocol;

import dev.vswitch.nativeio.EventFd;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.UnixSocket;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.vswitch.testkit.vhost.FrontEnd.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The test front end's bytes against the layouts in vhost-user.rst, read by hand from the other end of a
 * socketpair, so the protocol tests do not merely check that two readings of the spec agree with each other.
 */
class FrontEndWireFormatTest
{
    private UnixSocket backEnd;
    private FrontEnd fe;

    @BeforeEach
    void pair() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        fe = new FrontEnd(pair[0]).timeoutMillis(500);
        backEnd = pair[1];
    }

    @AfterEach
    void close()
    {
        fe.close();
        backEnd.close();
    }

    /** One message as the back end sees it: header fields, payload, fds. */
    private static final class Raw
    {
        int request;
        int flags;
        ByteBuffer payload;
        int[] fds;
    }

    private Raw read(final int expectedFds) throws IOException
    {
        final byte[] header = new byte[12];
        final int[] fds = new int[8];
        final int[] count = new int[1];
        int n = backEnd.receive(header, 0, 12, fds, count);
        if (n < 12)
        {
            backEnd.receiveFully(header, n, 12 - n);
        }
        final ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        final Raw raw = new Raw();
        raw.request = h.getInt(0);
        raw.flags = h.getInt(4);
        final byte[] payload = new byte[h.getInt(8)];
        backEnd.receiveFully(payload, 0, payload.length);
        raw.payload = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        raw.fds = java.util.Arrays.copyOf(fds, count[0]);
        assertEquals(expectedFds, count[0], "fds with request " + raw.request);
        return raw;
    }

    private void reply(final int request, final byte[] payload) throws IOException
    {
        backEnd.send(FrontEnd.message(request, VERSION | FLAG_REPLY, payload.length, payload), 0, 12 + payload.length);
    }

    @Test
    void requestsUseTheSpecLayouts() throws IOException
    {
        fe.setVringAddr(1, 0x1111, 0x2222, 0x3333);
        Raw m = read(0);
        assertEquals(9, m.request);
        assertEquals(VERSION, m.flags, "no NEED_REPLY before REPLY_ACK is negotiated");
        assertEquals(40, m.payload.capacity());
        assertEquals(1, m.payload.getInt(0));       // index
        assertEquals(0, m.payload.getInt(4));       // flags
        assertEquals(0x1111, m.payload.getLong(8)); // descriptor
        assertEquals(0x2222, m.payload.getLong(16)); // used
        assertEquals(0x3333, m.payload.getLong(24)); // available
        assertEquals(0, m.payload.getLong(32));      // log

        fe.setVringNum(0, 256);
        m = read(0);
        assertEquals(8, m.request);
        assertEquals(0, m.payload.getInt(0));
        assertEquals(256, m.payload.getInt(4));

        fe.setVringKick(1, -1);
        m = read(0);
        assertEquals(12, m.request);
        assertEquals(0x101, m.payload.getLong(0), "index 1 | invalid-fd bit 8");

        final int efd = EventFd.create();
        try
        {
            fe.setVringCall(0, efd);
            m = read(1);
            assertEquals(13, m.request);
            assertEquals(0, m.payload.getLong(0));
            Fds.close(m.fds[0]);
        }
        finally
        {
            Fds.close(efd);
        }
    }

    @Test
    void memTableCarriesOneFdPerRegion() throws IOException
    {
        try (GuestMemory a = GuestMemory.create("a", 1 << 16, 0x1000_0000L, 0x7f00_0000_0000L);
             GuestMemory b = GuestMemory.create("b", 1 << 17, 0x2000_0000L, 0x7f10_0000_0000L))
        {
            fe.setMemTable(a, b);
            final Raw m = read(2);
            assertEquals(5, m.request);
            assertEquals(8 + 2 * 32, m.payload.capacity());
            assertEquals(2, m.payload.getInt(0));
            assertEquals(0, m.payload.getInt(4), "padding");
            assertEquals(0x2000_0000L, m.payload.getLong(8 + 32));          // guest physical address
            assertEquals(1 << 17, m.payload.getLong(8 + 32 + 8));           // size
            assertEquals(0x7f10_0000_0000L, m.payload.getLong(8 + 32 + 16)); // user address
            assertEquals(0, m.payload.getLong(8 + 32 + 24));                // mmap offset
            assertEquals(1 << 16, Fds.size(m.fds[0]));
            assertEquals(1 << 17, Fds.size(m.fds[1]));
            Fds.close(m.fds[0]);
            Fds.close(m.fds[1]);
        }
    }

    @Test
    void replyAckTurnsOnNeedReplyAndNacksThrow() throws IOException
    {
        fe.setProtocolFeatures(PROTOCOL_F_REPLY_ACK);
        Raw m = read(0);
        assertEquals(16, m.request);
        assertEquals(VERSION, m.flags);
        assertEquals(PROTOCOL_F_REPLY_ACK, m.payload.getLong(0));

        reply(8, u64(0));   // queued before the request: the front end reads it after sending
        fe.setVringNum(0, 64);
        m = read(0);
        assertEquals(VERSION | FLAG_NEED_REPLY, m.flags);

        reply(8, u64(1));
        final NackException nack = assertThrows(NackException.class, () -> fe.setVringNum(0, 3));
        assertEquals(1, nack.status);
        read(0);
    }

    @Test
    void repliesAreCheckedAndTimeOut() throws IOException
    {
        reply(GET_FEATURES, u64(0xABCDL));
        assertEquals(0xABCDL, fe.getFeatures());
        assertEquals(1, read(0).request);

        backEnd.send(FrontEnd.message(GET_FEATURES, VERSION, 8, u64(1)), 0, 20);   // no REPLY flag
        assertThrows(IOException.class, fe::getFeatures);
        read(0);

        assertThrows(java.io.InterruptedIOException.class, fe::getProtocolFeatures, "nothing comes back");
        read(0);

        backEnd.close();
        assertTrue(fe.awaitClosedByPeer(500));
    }
}
