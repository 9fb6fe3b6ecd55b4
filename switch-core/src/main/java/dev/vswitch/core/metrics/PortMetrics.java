package dev.vswitch.core.metrics;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import java.util.function.Supplier;

/**
 * Per-port counters, read at scrape time from each port's {@link PortCounters} (the ones the data path keeps
 * anyway). The port set is asked for at every scrape, so ports added or removed while the switch runs appear and
 * disappear with it.
 */
final class PortMetrics implements MultiCollector
{
    /** Metric name (without vswitch_port_ and _total), help, PortCounters index. */
    private static final Object[][] COUNTERS = {
        { "rx_packets", "Frames the switch took from the port (the guest's transmits)", PortCounters.RX_PACKETS },
        { "rx_bytes", "Bytes of the frames the switch took from the port", PortCounters.RX_BYTES },
        { "tx_packets", "Frames the switch delivered to the port (the guest's receives)", PortCounters.TX_PACKETS },
        { "tx_bytes", "Bytes of the frames the switch delivered to the port", PortCounters.TX_BYTES },
        { "flooded", "Frames from the port that were flooded (broadcast, multicast, unknown unicast)",
            PortCounters.FLOODED },
        { "unicast", "Frames from the port forwarded to one known port", PortCounters.UNICAST },
        { "interrupts", "Interrupts (call eventfd writes) the switch sent the port's driver", PortCounters.INTERRUPTS },
        { "kicks", "Notifications the port's driver sent although the switch polls", PortCounters.KICKS },
        { "rx_retries", "Re-checks of this port's full receive ring before a frame was dropped",
            PortCounters.RX_RETRIES },
        { "rx_gso", "Frames taken from the port as one GSO super-frame", PortCounters.RX_GSO },
        { "tx_gso", "GSO super-frames delivered to the port whole", PortCounters.TX_GSO },
        { "tx_segmented", "Segments the switch cut for this port (no TSO)", PortCounters.TX_SEGMENTED },
        { "tx_csum_filled", "Checksums the switch completed for this port (no checksum offload)",
            PortCounters.TX_CSUM_FILLED },
        { "quarantined", "Times the PMD took the port out of service after a fault while serving it",
            PortCounters.QUARANTINED },
        { "signal_stuck", "Times an interrupt write to the port's call eventfd blocked (the port was then reset)",
            PortCounters.SIGNAL_STUCK },
    };

    private final Supplier<SwitchPort[]> ports;

    PortMetrics(final Supplier<SwitchPort[]> ports)
    {
        this.ports = ports;
    }

    @Override
    public MetricSnapshots collect()
    {
        final SwitchPort[] current = ports.get();
        final MetricSnapshots.Builder out = MetricSnapshots.builder();
        for (final Object[] c : COUNTERS)
        {
            final Family family = Family.counter("vswitch_port_" + c[0], (String)c[1]);
            for (final SwitchPort port : current)
            {
                family.add(port.counters().get((Integer)c[2]), Labels.of("port", port.name()));
            }
            out.metricSnapshot(family.build());
        }
        final Family drops = Family.counter("vswitch_port_drops",
            "Frames dropped, counted at the port where the drop happened, by reason");
        for (final SwitchPort port : current)
        {
            for (int r = 1; r < DropReason.COUNT; r++)
            {
                drops.add(port.counters().drops(r), Labels.of("port", port.name(), "reason", DropReason.name(r)));
            }
        }
        out.metricSnapshot(drops.build());
        final Family up = Family.gauge("vswitch_port_up", "1 when the port can take frames (driver ready), else 0");
        for (final SwitchPort port : current)
        {
            up.add(port.isUp() ? 1 : 0, Labels.of("port", port.name()));
        }
        out.metricSnapshot(up.build());
        out.metricSnapshot(Family.gauge("vswitch_ports", "Ports the switch has").add(current.length).build());
        return out.build();
    }
}
