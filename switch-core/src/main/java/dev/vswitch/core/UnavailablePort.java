package dev.vswitch.core;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PacketPublisher;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;

/**
 * Stands in for a configured port that could not be opened (e.g. a TAP the kernel refused), so the other ports
 * still come up and keep their ids. Always down: it receives nothing, and a frame sent to it is counted as a
 * port-down drop.
 */
final class UnavailablePort implements SwitchPort
{
    private final int id;
    private final String name;
    private final String reason;
    private final PortCounters counters = new PortCounters();

    UnavailablePort(final int id, final String name, final String reason)
    {
        this.id = id;
        this.name = name;
        this.reason = reason;
    }

    String reason()
    {
        return reason;
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
        return 0;
    }

    @Override
    public boolean transmit(final PacketEvent event)
    {
        counters.drop(DropReason.PORT_DOWN);
        return false;
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
        return false;
    }

    @Override
    public boolean polled()
    {
        return false;
    }

    @Override
    public PortCounters counters()
    {
        return counters;
    }
}
