package dev.vswitch.core.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Where the switch serves its control socket ({@code vswitchctl}). YAML {@code control: {socket: PATH}}; unset, the
 * socket is {@code control.sock} in the directory of the first vhost-user port's socket (the directory the operator
 * already gave the switch), or {@link #FALLBACK} when there is no vhost-user port.
 */
public record ControlConfig(Path socket, int sparePorts) {
    public static final Path FALLBACK = Path.of("/run/vswitch/control.sock");
    public static final String FILE_NAME = "control.sock";
    /** Free port slots for {@code vswitchctl port add}; each costs the PMD one no-op poll per round. */
    public static final int DEFAULT_SPARE_PORTS = 8;
    public static final int MAX_SPARE_PORTS = 1024;

    public ControlConfig {
        Objects.requireNonNull(socket, "socket");
    }

    public ControlConfig(Path socket) {
        this(socket, DEFAULT_SPARE_PORTS);
    }

    public static ControlConfig defaultFor(List<PortConfig> ports) {
        for (PortConfig port : ports) {
            if (port.socket() != null) {
                Path dir = port.socket().toAbsolutePath().getParent();
                return new ControlConfig(dir.resolve(FILE_NAME));
            }
        }
        return new ControlConfig(FALLBACK);
    }
}
