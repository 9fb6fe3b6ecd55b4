package dev.vswitch.core.metrics;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;

/** A port that hands the PMD {@code pending} empty frames (counted as received) and swallows what it is sent. */
final class CountingPort implements SwitchPort
{
    private final int id;
    private final String name;
    private final PortCounters counters = new PortCounters();
    int pending;

    CountingPort(final int id, final String name)
    {
        this.id = id;
        this.name = name;
    }

    @Override
    public int id()
    {
        return id;
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public int receive(final PacketPublisher publisher, final int budget)
    {
        final int n = Math.min(budget, pending);
        for (int i = 0; i < n; i++)
        {
            publisher.claim(id);
            publisher.publish();
            counters.increment(PortCounters.RX_PACKETS);
            counters.add(PortCounters.RX_BYTES, 64);
        }
        pending -= n;
        return n;
    }

    @Override
    public boolean transmit(final PacketEvent event)
    {
        counters.increment(PortCounters.TX_PACKETS);
        return true;
    }

    @Override
    public void complete(final PacketEvent event)
    {
    }

    @Override
    public void flush()
    {
    }

    @Override
    public boolean isUp()
    {
        return id == 0;
    }

    @Override
    public PortCounters counters()
    {
        return counters;
    }
}
