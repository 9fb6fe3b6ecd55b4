package dev.vswitch.core.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * MAC learning table.
 *
 * @param size         maximum number of entries (learned and static)
 * @param agingSeconds a learned entry not seen for longer is removed (its MAC floods again); 0 = never
 * @param portLimit    maximum learned entries per port (at most {@code size})
 * @param file         where the table is persisted, or {@code null} to keep it in memory only
 * @param statics      configured entries: never aged, never moved by learning, not counted against a port's quota
 */
public record FdbConfig(int size, int agingSeconds, int portLimit, Path file, List<StaticMac> statics) {

    public static final int DEFAULT_SIZE = 65536;
    public static final int DEFAULT_AGING_SECONDS = 300;
    public static final int DEFAULT_PORT_LIMIT = 4096;

    /** A static entry: {@code mac} (lower case, unicast) on the port named {@code port} in VLAN {@code vlan}. */
    public record StaticMac(String mac, String port, int vlan) {
        public StaticMac {
            Objects.requireNonNull(mac, "mac");
            Objects.requireNonNull(port, "port");
        }

        /** The MAC as the data path's 48-bit number. */
        public long macBits() {
            return Long.parseLong(mac.replace(":", ""), 16);
        }
    }

    public FdbConfig {
        statics = List.copyOf(statics);
    }

    public static FdbConfig defaults() {
        return new FdbConfig(DEFAULT_SIZE, DEFAULT_AGING_SECONDS, DEFAULT_PORT_LIMIT, null, List.of());
    }
}
