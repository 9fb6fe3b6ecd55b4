package dev.vswitch.core.it;

import dev.vswitch.core.VSwitch;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import dev.vswitch.testkit.config.SwitchYaml;
import dev.vswitch.vhost.VirtioNet;
import dev.vswitch.testkit.vhost.DriverRing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.vswitch.testkit.frames.Checksums.fold;
import static dev.vswitch.testkit.frames.Checksums.sum;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Tag push and pop meet the virtio-net offloads, through real vhost-user ports (the front-end test driver over the
 * switch's sockets). VLAN 10: "acc" (access; sends partial checksums and TSO super-frames, takes neither),
 * "rx" (access; takes both whole) and "trk" (trunk [10]; sends offloaded tagged frames, takes none). Every frame is
 * flooded (unknown destination) so one send shows both receivers' views: the offload header's offsets follow the
 * tag (csum_start, hdr_len +4 / -4), and where the switch completes a checksum or segments, it does so on the
 * tagged or untagged frame that receiver gets.
 */
class VlanOffloadFrontEndTest
{
    private static final int HDR = DriverRing.NET_HDR_LEN;
    private static final int MSS = 1448;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void offloadOffsetsFollowTheTagAndCompletionHappensOnTheEditedFrame() throws Exception
    {
        final String yaml = SwitchYaml.create()
            .vhostUser("acc", dir.resolve("acc.sock"), "vlan", 10)
            .vhostUser("rx", dir.resolve("rx.sock"), "vlan", 10)
            .vhostUser("trk", dir.resolve("trk.sock"), "trunk", List.of(10))
            .pmdCpu(1)
            .stats(0)
            .toString();
        final long hostOffloads = VirtioNet.bit(VirtioNet.F_CSUM) | VirtioNet.bit(VirtioNet.F_HOST_TSO4);
        final long guestOffloads = VirtioNet.bit(VirtioNet.F_GUEST_CSUM) | VirtioNet.bit(VirtioNet.F_GUEST_TSO4);
        try (VSwitch sw = SwitchHarness.start(yaml);
             VhostPeer acc = new VhostPeer(dir.resolve("acc.sock"), hostOffloads, 2048);
             VhostPeer rx = new VhostPeer(dir.resolve("rx.sock"), guestOffloads, 16384);
             VhostPeer trk = new VhostPeer(dir.resolve("trk.sock"), hostOffloads, 2048))
        {
            assertEquals(guestOffloads, rx.features() & guestOffloads, "rx negotiated the guest offloads");
            SwitchHarness.await("ports up", Duration.ofSeconds(20),
                () -> sw.port("acc").isUp() && sw.port("rx").isUp() && sw.port("trk").isUp());
            final Duration wait = Duration.ofSeconds(10);

            // 1. Partial checksum from the access port: trk gets it tagged and completed, rx untagged and partial.
            final byte[] plain = tcpFrame(100, 1000);
            acc.send(DriverRing.netHeader(1, 0, 54, 0, 34, 16, 0), plain);
            final byte[] atTrk = trk.receiveWithHeader(1, wait).get(0);
            assertEquals(0, atTrk[0], "no NEEDS_CSUM towards a peer without GUEST_CSUM");
            final byte[] tagged = Arrays.copyOfRange(atTrk, HDR, atTrk.length);
            assertEquals(plain.length + 4, tagged.length);
            assertTcpChecksumOk(tagged, 18, "tagged, completed by the switch");
            assertArrayEquals(withTcpChecksum(withTag(plain, 10), tagged, 18), tagged, "tag pushed, all else as sent");
            final byte[] atRx = rx.receiveWithHeader(1, wait).get(0);
            assertHeader(atRx, 1, 0, 54, 0, 34, 16);
            assertArrayEquals(plain, Arrays.copyOfRange(atRx, HDR, atRx.length));

            // 2. Partial checksum tagged from the trunk (csum_start 38): rx gets 34, acc a completed checksum.
            trk.send(DriverRing.netHeader(1, 0, 58, 0, 38, 16, 0), withTag(tcpFrame(200, 2000), 10));
            final byte[] popped = rx.receiveWithHeader(1, wait).get(0);
            assertHeader(popped, 1, 0, 54, 0, 34, 16);
            assertArrayEquals(tcpFrame(200, 2000), Arrays.copyOfRange(popped, HDR, popped.length));
            final byte[] atAcc = acc.receiveWithHeader(1, wait).get(0);
            assertEquals(0, atAcc[0]);
            assertTcpChecksumOk(Arrays.copyOfRange(atAcc, HDR, atAcc.length), 14, "untagged, completed by the switch");

            // 3. A TSO super-frame from the access port: trk (no TSO) gets tagged MSS segments, rx the whole frame.
            final byte[] superFrame = tcpFrame(3000, 5000);
            acc.send(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 54, MSS, 34, 16, 0), superFrame);
            final List<byte[]> segments = trk.receive(3, wait);
            int payload = 0;
            for (final byte[] s : segments)
            {
                assertEquals(0x8100, u16(s, 12), "segment tagged");
                assertEquals(10, u16(s, 14) & 0xfff);
                assertIpv4HeaderChecksumOk(s, 18);
                assertTcpChecksumOk(s, 18, "segment");
                payload += s.length - 18 - 20 - 20;
            }
            assertEquals(3000, payload);
            final byte[] whole = rx.receiveWithHeader(1, wait).get(0);
            assertHeader(whole, 1, VirtioNetHdr.GSO_TCPV4, 54, MSS, 34, 16);
            assertArrayEquals(superFrame, Arrays.copyOfRange(whole, HDR, whole.length));

            // 4. A tagged super-frame from the trunk: rx gets hdr_len/csum_start 4 lower, acc untagged segments.
            trk.send(DriverRing.netHeader(1, VirtioNetHdr.GSO_TCPV4, 58, MSS, 38, 16, 0),
                withTag(tcpFrame(3000, 9000), 10));
            final byte[] wholePopped = rx.receiveWithHeader(1, wait).get(0);
            assertHeader(wholePopped, 1, VirtioNetHdr.GSO_TCPV4, 54, MSS, 34, 16);
            assertArrayEquals(tcpFrame(3000, 9000), Arrays.copyOfRange(wholePopped, HDR, wholePopped.length));
            for (final byte[] s : acc.receive(3, wait))
            {
                assertEquals(0x0800, u16(s, 12), "segment untagged");
                assertIpv4HeaderChecksumOk(s, 14);
                assertTcpChecksumOk(s, 14, "segment");
            }

            Testpmd.sleep(200);
            assertEquals(0, acc.pending() + rx.pending() + trk.pending(), "nothing else delivered");
            System.out.println("VLAN offloads: acc " + sw.counters("acc").summary() + "; rx " +
                sw.counters("rx").summary() + "; trk " + sw.counters("trk").summary());
            assertEquals(3, sw.counters("trk").get(PortCounters.TX_SEGMENTED));
            assertEquals(3, sw.counters("acc").get(PortCounters.TX_SEGMENTED));
            assertEquals(2, sw.counters("rx").get(PortCounters.TX_GSO));
            assertEquals(0, sw.counters("acc").totalDrops() + sw.counters("rx").totalDrops() +
                sw.counters("trk").totalDrops());
        }
    }

    // ------------------------------------------------------------------ frames

    /** Ethernet/IPv4/TCP as Linux hands it over with CHECKSUM_PARTIAL: TCP checksum field = folded pseudo-header
     *  sum; IP header checksum complete. Untagged; see {@link #withTag}. */
    private static byte[] tcpFrame(final int payloadLength, final int seq)
    {
        final ByteBuffer b = ByteBuffer.allocate(54 + payloadLength);
        b.put(new byte[] {2, 0, 0, 0, 0x77, 2, 2, 0, 0, 0, 0x77, 1}).putShort((short)0x0800);
        b.put((byte)0x45).put((byte)0).putShort((short)(40 + payloadLength)).putShort((short)0x1000)
            .putShort((short)0x4000).put((byte)64).put((byte)6).putShort((short)0).putInt(0x0a000001).putInt(0x0a000002);
        b.putShort(24, (short)~fold(sum(b.array(), 14, 20, 0)));
        b.putShort((short)40000).putShort((short)5201).putInt(seq).putInt(0).put((byte)0x50).put((byte)0x18)
            .putShort((short)65535).putShort((short)0).putShort((short)0);
        for (int i = 0; i < payloadLength; i++)
        {
            b.put((byte)(i * 7 + seq));
        }
        final byte[] f = b.array();
        final int seeded = fold(0x0a00L + 0x0001 + 0x0a00 + 0x0002 + 6 + (20 + payloadLength));
        f[50] = (byte)(seeded >>> 8);
        f[51] = (byte)seeded;
        return f;
    }

    private static byte[] withTag(final byte[] untagged, final int vlan)
    {
        final byte[] f = new byte[untagged.length + 4];
        System.arraycopy(untagged, 0, f, 0, 12);
        f[12] = (byte)0x81;
        f[14] = (byte)(vlan >>> 8);
        f[15] = (byte)vlan;
        System.arraycopy(untagged, 12, f, 16, untagged.length - 12);
        return f;
    }

    /** {@code frame} with the TCP checksum field of {@code from} (everything else must then be equal). */
    private static byte[] withTcpChecksum(final byte[] frame, final byte[] from, final int l3)
    {
        final byte[] f = frame.clone();
        f[l3 + 20 + 16] = from[l3 + 20 + 16];
        f[l3 + 20 + 17] = from[l3 + 20 + 17];
        return f;
    }

    private static void assertHeader(final byte[] withHeader, final int flags, final int gsoType, final int hdrLen,
        final int gsoSize, final int csumStart, final int csumOffset)
    {
        final ByteBuffer h = ByteBuffer.wrap(withHeader, 0, HDR).order(ByteOrder.LITTLE_ENDIAN);
        final int[] actual = { h.get(0) & 0xff, h.get(1) & 0xff, h.getShort(2) & 0xffff, h.getShort(4) & 0xffff,
            h.getShort(6) & 0xffff, h.getShort(8) & 0xffff };
        assertArrayEquals(new int[] { flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset }, actual,
            "virtio-net header flags, gso_type, hdr_len, gso_size, csum_start, csum_offset");
    }

    private static void assertTcpChecksumOk(final byte[] f, final int l3, final String what)
    {
        final int ipLength = u16(f, l3 + 2);
        final int tcpLength = ipLength - 20;
        long s = sum(f, l3 + 12, 8, 0) + 6 + tcpLength;
        s = sum(f, l3 + 20, tcpLength, s);
        assertEquals(0xffff, fold(s), what + ": TCP checksum verifies");
    }

    private static void assertIpv4HeaderChecksumOk(final byte[] f, final int l3)
    {
        assertEquals(0xffff, fold(sum(f, l3, 20, 0)), "IPv4 header checksum verifies");
    }

    private static int u16(final byte[] b, final int at)
    {
        return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
    }

}
