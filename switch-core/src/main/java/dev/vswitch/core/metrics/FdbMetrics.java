package dev.vswitch.core.metrics;

import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.stages.MacTable;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import java.util.function.Supplier;

/** The MAC table (FDB): its size, limits and the learn/move/age/reject counters the PMD keeps in it. */
final class FdbMetrics implements MultiCollector
{
    private final MacTable fdb;
    private final Supplier<SwitchPort[]> ports;

    FdbMetrics(final MacTable fdb, final Supplier<SwitchPort[]> ports)
    {
        this.fdb = fdb;
        this.ports = ports;
    }

    @Override
    public MetricSnapshots collect()
    {
        final MetricSnapshots.Builder out = MetricSnapshots.builder();
        out.metricSnapshot(Family.gauge("vswitch_fdb_entries", "Entries in the MAC table (learned and static)")
            .add(fdb.size()).build());
        out.metricSnapshot(Family.gauge("vswitch_fdb_capacity", "Entries the MAC table may hold (fdb.size)")
            .add(fdb.capacity()).build());
        out.metricSnapshot(Family.gauge("vswitch_fdb_port_limit", "Learned entries one port may hold (fdb.port-limit)")
            .add(fdb.portLimit()).build());
        out.metricSnapshot(Family.counter("vswitch_fdb_learned", "MAC addresses learned")
            .add(fdb.learnedTotal()).build());
        out.metricSnapshot(Family.counter("vswitch_fdb_moved", "Learned MAC addresses that moved to another port")
            .add(fdb.movedTotal()).build());
        out.metricSnapshot(Family.counter("vswitch_fdb_aged", "Learned MAC addresses removed by aging")
            .add(fdb.agedTotal()).build());
        out.metricSnapshot(Family.counter("vswitch_fdb_rejected", "MAC addresses not learned, by reason")
            .add(fdb.rejectedPortLimit(), Labels.of("reason", "port-limit"))
            .add(fdb.rejectedFull(), Labels.of("reason", "full")).build());
        final Family learnedOn = Family.gauge("vswitch_fdb_port_entries", "Learned MAC addresses on the port");
        final Family rejectedOn = Family.counter("vswitch_fdb_port_rejected",
            "New MACs and moves refused because the port was at its fdb.port-limit");
        for (final SwitchPort port : ports.get())
        {
            final int id = port.id();
            if (id < 0 || id >= fdb.portCount())
            {
                continue;   // a port the table was not built with (added while running) has no quota slot
            }
            learnedOn.add(fdb.learnedOn(id), Labels.of("port", port.name()));
            rejectedOn.add(fdb.rejectedOn(id), Labels.of("port", port.name()));
        }
        out.metricSnapshot(learnedOn.build());
        out.metricSnapshot(rejectedOn.build());
        return out.build();
    }
}
