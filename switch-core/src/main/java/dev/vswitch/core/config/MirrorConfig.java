package dev.vswitch.core.config;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One port mirror: every frame of port {@code from} in the chosen direction is copied to a pcap file
 * ({@code toPcap}) or written into a TAP interface ({@code toTap}); exactly one of the two is non-null.
 *
 * @param snaplen bytes kept of each frame in the pcap file (the whole frame for a TAP)
 */
public record MirrorConfig(String from, Path toPcap, String toTap, MirrorDirection direction, int snaplen) {

    /** libpcap's largest snaplen for Ethernet; also the default, so nothing is cut. */
    public static final int MAX_SNAPLEN = 262_144;
    public static final int MIN_SNAPLEN = 64;

    public MirrorConfig {
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(direction, "direction");
        if ((toPcap == null) == (toTap == null)) {
            throw new IllegalArgumentException("exactly one of toPcap and toTap");
        }
    }

    /** For logs: {@code vm1 -> pcap /tmp/vm1.pcap (both)}. */
    public String describe() {
        return from + " -> " + (toPcap != null ? "pcap " + toPcap : "tap " + toTap) + " ("
                + NodeReader.yamlName(direction) + ")";
    }
}
