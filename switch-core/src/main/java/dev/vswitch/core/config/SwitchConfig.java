package dev.vswitch.core.config;

import java.util.List;
import java.util.Objects;

/** The whole switch configuration, as loaded by {@link ConfigLoader}. {@code ports} is immutable. */
public record SwitchConfig(List<PortConfig> ports, DatapathConfig datapath, StatsConfig stats, FdbConfig fdb) {

    public SwitchConfig {
        ports = List.copyOf(ports);
        Objects.requireNonNull(datapath, "datapath");
        Objects.requireNonNull(stats, "stats");
        Objects.requireNonNull(fdb, "fdb");
    }
}
