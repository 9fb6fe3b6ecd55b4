package dev.vswitch.core.config;

import java.util.List;
import java.util.Objects;

/** The whole switch configuration, as loaded by {@link ConfigLoader}. {@code ports} and {@code mirrors} are immutable. */
public record SwitchConfig(List<PortConfig> ports, DatapathConfig datapath, StatsConfig stats, FdbConfig fdb,
        List<MirrorConfig> mirrors) {

    /** Without mirrors. */
    public SwitchConfig(List<PortConfig> ports, DatapathConfig datapath, StatsConfig stats, FdbConfig fdb) {
        this(ports, datapath, stats, fdb, List.of());
    }

    public SwitchConfig {
        ports = List.copyOf(ports);
        mirrors = List.copyOf(mirrors);
        Objects.requireNonNull(datapath, "datapath");
        Objects.requireNonNull(stats, "stats");
        Objects.requireNonNull(fdb, "fdb");
    }
}
