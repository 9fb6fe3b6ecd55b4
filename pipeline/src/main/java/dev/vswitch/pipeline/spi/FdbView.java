package dev.vswitch.pipeline.spi;

/**
 * What a stage may do with the switch's forwarding database (learned MAC addresses, per VLAN): look a station up
 * and learn one. Both are PMD-thread calls, cheap and allocation-free; the table's management (static entries,
 * aging, flushing, persistence) stays with the switch. The built-in {@code mac-learning} and {@code forward} stages
 * use exactly this.
 */
public interface FdbView
{
    /** {@link #lookup}'s answer for a MAC not in the table. */
    int NO_PORT = -1;

    /** The port {@code mac} was learned on in {@code vlan}, or {@link #NO_PORT}. PMD thread only. */
    int lookup(int vlan, long mac);

    /**
     * Learns, refreshes or moves {@code mac} in {@code vlan} to {@code port}; the table's own limits (per-port
     * quota, capacity) may refuse it, and it counts what it refused. PMD thread only.
     */
    void learn(int vlan, long mac, int port);
}
