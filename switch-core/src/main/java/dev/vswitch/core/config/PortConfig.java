package dev.vswitch.core.config;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One switch port. Fields that do not apply to the port's type are {@code null} (objects) or keep
 * their default (primitives): {@code socket}, {@code mode} are vhost-user only ({@code reconnectMillis}
 * only matters in client mode); {@code ifname}, {@code mac} are tap only ({@code mac} is null when
 * the kernel should choose one) and {@code up} is always true for vhost-user ports. Relative socket
 * paths are relative to the working directory of the switch process.
 */
public record PortConfig(
        String name,
        PortType type,
        Path socket,
        SocketMode mode,
        int reconnectMillis,
        String ifname,
        int mtu,
        String mac,
        boolean up) {

    public static final int DEFAULT_RECONNECT_MILLIS = 1000;
    public static final int DEFAULT_MTU = 1500;

    public PortConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
    }
}
