package dev.vswitch.tap;

import com.sun.jna.LastErrorException;
import dev.vswitch.nativeio.ErrnoException;
import dev.vswitch.nativeio.LibC;
import dev.vswitch.pipeline.offload.OffloadPolicy;

/**
 * The offloads a tap is given, and what they mean to the switch. Without ({@code TUNSETOFFLOAD 0}) the kernel
 * segments and checksums everything before it hands a frame to the tap and finishes nothing injected; with
 * ({@code TUNSETOFFLOAD CSUM | TSO4 | TSO6 | TSO_ECN}) it hands over, and takes, partial checksums and TCP
 * super-frames of up to 64 KiB. The same set applies both ways, so it is both what the kernel may send us and what
 * {@link OffloadPolicy} may pass to it.
 */
final class TapOffloads
{
    /** Offloads the tap is given with {@code offloads}: partial checksums, and TCP (also ECN) super-frames. */
    static final int TUN_OFFLOADS = LibC.TUN_F_CSUM | LibC.TUN_F_TSO4 | LibC.TUN_F_TSO6 | LibC.TUN_F_TSO_ECN;

    private TapOffloads()
    {
    }

    /** The tap's offloads as {@link OffloadPolicy} ACCEPTS_* bits. */
    static int accepts(final boolean offloads)
    {
        return offloads ? OffloadPolicy.ACCEPTS_ALL : OffloadPolicy.ACCEPTS_NONE;
    }

    static String describe(final boolean offloads)
    {
        return offloads ? "csum+tso4+tso6+ecn" : "off";
    }

    /** Switches the tap's offloads on or off; {@code what} names the port and tap for the error. */
    static void negotiate(final int fd, final boolean offloads, final String what) throws ErrnoException
    {
        try
        {
            LibC.ioctl(fd, LibC.TUNSETOFFLOAD, offloads ? TUN_OFFLOADS : 0);
        }
        catch (final LastErrorException ex)
        {
            throw new ErrnoException(what + (offloads ?
                ": cannot switch offloads on (TUNSETOFFLOAD CSUM|TSO4|TSO6|TSO_ECN)" :
                ": cannot switch offloads off (TUNSETOFFLOAD 0)"), ex.getErrorCode());
        }
    }
}
