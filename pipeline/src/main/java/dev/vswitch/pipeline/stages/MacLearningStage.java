package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.FdbView;

/** Learns source MACs per VLAN. Multicast sources are never learned (they are not valid station addresses). */
public final class MacLearningStage implements Stage
{
    public static final String NAME = "mac-learning";
    private final FdbView table;

    public MacLearningStage(final FdbView table)
    {
        this.table = table;
    }

    @Override
    public String name()
    {
        return NAME;
    }

    @Override
    public void process(final PacketEvent e)
    {
        if ((e.srcMac & 0x0100_0000_0000L) == 0)
        {
            table.learn(e.vlanId, e.srcMac, e.inPort);
        }
    }
}
