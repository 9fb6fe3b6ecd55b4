package dev.vswitch.pipeline.offload;

import dev.vswitch.pipeline.PacketEvent;
import org.agrona.BufferUtil;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The flyweight against the layout written out by hand (virtio 1.2, 5.1.6: little-endian u16s after two u8s). */
class VirtioNetHdrTest
{
    @Test
    void readsAndWritesTheSpecsLayout()
    {
        final ByteBuffer memory = BufferUtil.allocateDirectAligned(64, 64).order(ByteOrder.LITTLE_ENDIAN);
        final VirtioNetHdr h = new VirtioNetHdr().wrap(BufferUtil.address(memory));
        memory.put(0, (byte)0x01).put(1, (byte)0x84).putShort(2, (short)86).putShort(4, (short)1428)
            .putShort(6, (short)54).putShort(8, (short)16).putShort(10, (short)3).put(12, (byte)0x5a);
        assertEquals(VirtioNetHdr.F_NEEDS_CSUM, h.flags());
        assertEquals(VirtioNetHdr.GSO_TCPV6 | VirtioNetHdr.GSO_ECN, h.gsoType());
        assertEquals(86, h.hdrLen());
        assertEquals(1428, h.gsoSize());
        assertEquals(54, h.csumStart());
        assertEquals(16, h.csumOffset());
        assertEquals(3, h.numBuffers());

        final PacketEvent e = new PacketEvent();
        h.copyTo(e);
        assertEquals(1, e.vnetFlags);
        assertEquals(0x84, e.gsoType);
        assertEquals(86, e.hdrLen);
        assertEquals(1428, e.gsoSize);
        assertEquals(54, e.csumStart);
        assertEquals(16, e.csumOffset);

        h.clear(VirtioNetHdr.LENGTH_LEGACY);
        assertEquals(0, memory.getLong(0));
        assertEquals(0, memory.getShort(8));
        assertEquals(3, memory.getShort(10), "a legacy header is 10 bytes: num_buffers is not its");
        h.clear(VirtioNetHdr.LENGTH);
        assertEquals(0, memory.getShort(10));
        assertEquals(0x5a, memory.get(12), "nothing past the header is touched");

        h.set(VirtioNetHdr.F_NEEDS_CSUM, VirtioNetHdr.GSO_TCPV4, 0xffff, 0x8001, 34, 16).numBuffers(2);
        assertEquals(1, memory.get(0));
        assertEquals(1, memory.get(1));
        assertEquals((short)0xffff, memory.getShort(2));
        assertEquals((short)0x8001, memory.getShort(4));
        assertEquals(34, memory.getShort(6));
        assertEquals(16, memory.getShort(8));
        assertEquals(2, memory.getShort(10));
        assertEquals(0xffff, h.hdrLen(), "unsigned");
        assertEquals(0x8001, h.gsoSize(), "unsigned");
    }

    @Test
    void onlyTcpSuperFramesAreTcpGso()
    {
        assertEquals(true, VirtioNetHdr.isTcpGso(VirtioNetHdr.GSO_TCPV4));
        assertEquals(true, VirtioNetHdr.isTcpGso(VirtioNetHdr.GSO_TCPV6 | VirtioNetHdr.GSO_ECN));
        assertEquals(false, VirtioNetHdr.isTcpGso(VirtioNetHdr.GSO_UDP));
        assertEquals(false, VirtioNetHdr.isTcpGso(VirtioNetHdr.GSO_UDP_L4));
        assertEquals(false, VirtioNetHdr.isTcpGso(VirtioNetHdr.GSO_ECN));
        assertEquals(false, VirtioNetHdr.isTcpGso(0x41));
    }
}
