package dev.vswitch.core.config;

import java.util.List;
import java.util.Objects;

/**
 * The whole switch configuration, as loaded by {@link ConfigLoader}. {@code ports} and {@code mirrors} are
 * immutable.
 */
public record SwitchConfig(List<PortConfig> ports, DatapathConfig datapath, StatsConfig stats, FdbConfig fdb,
        PipelineConfig pipeline, List<MirrorConfig> mirrors, MetricsConfig metrics, ControlConfig control) {

    /** Without a metrics endpoint, with the default control socket (beside the first vhost-user port's socket). */
    public SwitchConfig(List<PortConfig> ports, DatapathConfig datapath, StatsConfig stats, FdbConfig fdb,
            PipelineConfig pipeline, List<MirrorConfig> mirrors) {
        this(ports, datapath, stats, fdb, pipeline, mirrors, MetricsConfig.OFF, ControlConfig.defaultFor(ports));
    }

    /** With the default pipeline (classify, mac-learning, forward) and no mirrors. */
    public SwitchConfig(List<PortConfig> ports, DatapathConfig datapath, StatsConfig stats, FdbConfig fdb) {
        this(ports, datapath, stats, fdb, PipelineConfig.defaults(), List.of());
    }

    public SwitchConfig {
        ports = List.copyOf(ports);
        mirrors = List.copyOf(mirrors);
        Objects.requireNonNull(pipeline, "pipeline");
        Objects.requireNonNull(datapath, "datapath");
        Objects.requireNonNull(stats, "stats");
        Objects.requireNonNull(fdb, "fdb");
        Objects.requireNonNull(metrics, "metrics");
        Objects.requireNonNull(control, "control");
    }
}
