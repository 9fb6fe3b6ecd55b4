package dev.vswitch.pipeline;

/**
 * Per-port counters, in the switch's one {@link Counters} scheme: each counter has one writer (the PMD thread that
 * owns the port's data path; KICKS: the port's control thread), read by the stats printer, metrics and tests.
 */
public final class PortCounters
{
    public static final int RX_PACKETS = 0;   // frames the switch took from the port (guest TX)
    public static final int RX_BYTES = 1;
    public static final int TX_PACKETS = 2;   // frames the switch delivered to the port (guest RX)
    public static final int TX_BYTES = 3;
    public static final int FLOODED = 4;      // frames from this port that were flooded
    public static final int UNICAST = 5;      // frames from this port forwarded to one known port
    public static final int INTERRUPTS = 6;   // call eventfd writes
    public static final int RX_RETRIES = 7;   // destination ring re-checks while it was full
    public static final int RX_GSO = 8;       // frames taken from the port as one GSO super-frame (larger than MTU)
    public static final int TX_GSO = 9;       // GSO super-frames delivered whole (the peer segments them)
    public static final int TX_SEGMENTED = 10; // segments the switch cut for a peer without TSO
    public static final int TX_CSUM_FILLED = 11; // checksums the switch completed for a peer without CSUM
    public static final int KICKS = 12;       // notifications the peer sent although we poll (control thread writes)
    public static final int QUARANTINED = 13; // times the PMD took the port out of service after a fault on it
    public static final int SIGNAL_STUCK = 14; // times a call eventfd write blocked the PMD (the port is then reset)
    private static final int DROPS_BASE = 15; // + DropReason, counted at the port where the drop happened
    private static final int COUNT = DROPS_BASE + DropReason.COUNT;

    private final Counters values = new Counters(COUNT);

    public void add(final int counter, final long delta)
    {
        values.add(counter, delta);
    }

    public void increment(final int counter)
    {
        add(counter, 1);
    }

    public void drop(final int reason)
    {
        add(DROPS_BASE + reason, 1);
    }

    public long get(final int counter)
    {
        return values.get(counter);
    }

    public long drops(final int reason)
    {
        return get(DROPS_BASE + reason);
    }

    public long totalDrops()
    {
        long sum = 0;
        for (int r = 1; r < DropReason.COUNT; r++)
        {
            sum += drops(r);
        }
        return sum;
    }

    /** One line for logs: rx/tx packets, flooding, and the non-zero drop reasons. */
    public String summary()
    {
        final StringBuilder sb = new StringBuilder(128);
        sb.append("rx=").append(get(RX_PACKETS)).append(" tx=").append(get(TX_PACKETS))
            .append(" flooded=").append(get(FLOODED)).append(" unicast=").append(get(UNICAST))
            .append(" irqs=").append(get(INTERRUPTS)).append(" kicks=").append(get(KICKS));
        if (get(RX_GSO) + get(TX_GSO) + get(TX_SEGMENTED) + get(TX_CSUM_FILLED) != 0)
        {
            sb.append(" gso-in=").append(get(RX_GSO)).append(" gso-out=").append(get(TX_GSO))
                .append(" segmented=").append(get(TX_SEGMENTED)).append(" csum-filled=").append(get(TX_CSUM_FILLED));
        }
        if (get(QUARANTINED) + get(SIGNAL_STUCK) != 0)
        {
            sb.append(" quarantined=").append(get(QUARANTINED)).append(" signal-stuck=").append(get(SIGNAL_STUCK));
        }
        sb.append(" drops=").append(totalDrops());
        for (int r = 1; r < DropReason.COUNT; r++)
        {
            final long d = drops(r);
            if (d != 0)
            {
                sb.append(' ').append(DropReason.name(r)).append('=').append(d);
            }
        }
        return sb.toString();
    }
}
