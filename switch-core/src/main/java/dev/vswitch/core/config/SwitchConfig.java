package dev.vswitch.core.config;

import java.util.List;
import java.util.Objects;

/** The whole switch configuration, as loaded by {@link ConfigLoader}. {@code ports} is immutable. */
public record SwitchConfig(List<PortConfig> ports, DatapathConfig datapath, StatsConfig stats, FdbConfig fdb,
        PipelineConfig pipeline) {

    /** With the default pipeline (classify, mac-learning, forward). */
    public SwitchConfig(List<PortConfig> ports, DatapathConfig datapath, StatsConfig stats, FdbConfig fdb) {
        this(ports, datapath, stats, fdb, PipelineConfig.defaults());
    }

    public SwitchConfig {
        ports = List.copyOf(ports);
        Objects.requireNonNull(pipeline, "pipeline");
        Objects.requireNonNull(datapath, "datapath");
        Objects.requireNonNull(stats, "stats");
        Objects.requireNonNull(fdb, "fdb");
    }
}
