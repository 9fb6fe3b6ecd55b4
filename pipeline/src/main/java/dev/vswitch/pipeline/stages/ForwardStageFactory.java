package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageFactory;
import dev.vswitch.pipeline.spi.StageSettings;

/** The built-in {@code forward} stage ({@link ForwardStage}); it takes no settings. */
public final class ForwardStageFactory implements StageFactory
{
    @Override
    public String name()
    {
        return ForwardStage.NAME;
    }

    @Override
    public Stage create(final StageContext context, final StageSettings settings)
    {
        settings.allowOnly();
        // Without any VLAN key the switch stays one VLAN-unaware bridge, exactly as before VLANs existed.
        return context.vlans().anyVlans() ? new ForwardStage(context.macTable(), context.ports(), context.vlans()) :
            new ForwardStage(context.macTable(), context.ports());
    }
}
