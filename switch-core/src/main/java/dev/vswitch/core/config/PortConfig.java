package dev.vswitch.core.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * One switch port. Fields that do not apply to the port's type are {@code null} (objects) or keep
 * their default (primitives): {@code socket}, {@code mode} are vhost-user only ({@code reconnectMillis}
 * only matters in client mode); {@code ifname}, {@code mac} are tap only ({@code mac} is null when
 * the kernel should choose one) and {@code up} is always true for vhost-user ports. Relative socket
 * paths are relative to the working directory of the switch process.
 *
 * <p>VLANs (any port type): {@code vlan} is the access VLAN (1..4094) or {@link #NO_VLAN}; {@code trunk} the
 * VLANs a trunk carries tagged (sorted, unique), empty when the port is not a trunk. At most one of them is set;
 * with neither the port is untagged (VLAN 0, frames passed unchanged).
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
        boolean up,
        int vlan,
        List<Integer> trunk) {

    public static final int DEFAULT_RECONNECT_MILLIS = 1000;
    public static final int DEFAULT_MTU = 1500;
    public static final int NO_VLAN = 0;

    public PortConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        trunk = List.copyOf(Objects.requireNonNull(trunk, "trunk"));
        if (vlan != NO_VLAN && !trunk.isEmpty()) {
            throw new IllegalArgumentException("port " + name + ": both an access VLAN and a trunk");
        }
    }

    /** An untagged port (no VLAN configuration). */
    public PortConfig(String name, PortType type, Path socket, SocketMode mode, int reconnectMillis, String ifname,
            int mtu, String mac, boolean up) {
        this(name, type, socket, mode, reconnectMillis, ifname, mtu, mac, up, NO_VLAN, List.of());
    }

    public boolean isAccess() {
        return vlan != NO_VLAN;
    }

    public boolean isTrunk() {
        return !trunk.isEmpty();
    }
}
