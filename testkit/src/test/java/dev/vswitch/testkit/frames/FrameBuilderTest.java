package dev.vswitch.testkit.frames;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class FrameBuilderTest
{
    @Test
    void headersInNetworkOrderAndPaddingToALength()
    {
        final byte[] f = FrameBuilder.ethernet(FrameBuilder.BROADCAST, 0x0200_0000_0A0BL)
            .tag(0x8100, 0x2005).etherType(0x88B5).u32(0x01020304).fillTo(64, 0x5a).bytes();
        assertEquals(64, f.length);
        assertArrayEquals(new byte[] {-1, -1, -1, -1, -1, -1, 2, 0, 0, 0, 10, 11, (byte)0x81, 0, 0x20, 5,
            (byte)0x88, (byte)0xB5, 1, 2, 3, 4}, java.util.Arrays.copyOf(f, 22));
        for (int i = 22; i < 64; i++)
        {
            assertEquals(0x5a, f[i], "fill at " + i);
        }
        assertEquals(70, FrameBuilder.ethernet(1, 2).fillTo(70, 0).fillTo(60, 0).length(), "never shortens");
    }

    @Test
    void ipv4HeaderLengthCountsItsOptionsAndAsHandsTheBytesOn()
    {
        final FrameBuilder b = FrameBuilder.ethernet(1, 2).etherType(0x0800).ipv4(6, 17).udp();
        assertEquals(14 + 24 + 8, b.length());
        final byte[] f = b.bytes();
        assertEquals(0x46, f[14]);
        assertEquals(17, f[14 + 9]);
        assertEquals(46, (int)b.as(bytes -> bytes.length));
    }
}
