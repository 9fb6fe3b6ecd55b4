package dev.vswitch.core;

import dev.vswitch.core.config.MirrorConfig;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.mirror.Mirror;
import dev.vswitch.pipeline.mirror.MirroredPort;
import dev.vswitch.pipeline.mirror.PcapFileSink;
import dev.vswitch.pipeline.mirror.PortMirrorSink;
import dev.vswitch.tap.TapPort;
import org.agrona.concurrent.EpochNanoClock;

import java.io.IOException;

/**
 * The switch's configuration of a mirror mapped onto {@link Mirror} (everything about mirroring is in
 * {@code dev.vswitch.pipeline.mirror}); here only what the pipeline module cannot know: the YAML record, and the
 * TAP port a {@code to-tap} mirror writes through.
 */
public final class Mirrors
{
    private Mirrors()
    {
    }

    /** The mirror {@code config} describes, of {@code port}; nothing is opened before {@link Mirror#start}. */
    public static Mirror create(final MirrorConfig config, final SwitchPort port, final EpochNanoClock clock)
    {
        final int direction = switch (config.direction())
        {
            case IN -> MirroredPort.IN;
            case OUT -> MirroredPort.OUT;
            case BOTH -> MirroredPort.BOTH;
        };
        final String name = "mirror-" + config.from();
        if (config.toPcap() != null)
        {
            return new Mirror(config.from(), config.toPcap().toString(), config.describe(), direction,
                config.snaplen(), port, clock, () -> PcapFileSink.create(config.toPcap(), config.snaplen()));
        }
        // A tap gets whole frames (snaplen 0).
        return new Mirror(config.from(), config.toTap(), config.describe(), direction, 0, port, clock,
            () -> openTap(name, config.toTap()));
    }

    /**
     * Creates (or attaches to) tap {@code ifname}, up, with offloads on and the largest MTU a tap takes, so no
     * mirrored frame is too big for it. Nothing reads what the kernel sends out of it: that is dropped at the
     * tap's queue.
     */
    public static PortMirrorSink<TapPort> openTap(final String mirrorName, final String ifname) throws IOException
    {
        return new PortMirrorSink<>(TapPort.open(-1, mirrorName, ifname, PortMirrorSink.TAP_MTU, null, true, 1, true),
            "tap " + ifname);
    }
}
