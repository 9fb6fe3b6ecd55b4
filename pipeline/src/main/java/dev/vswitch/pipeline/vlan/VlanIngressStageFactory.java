package dev.vswitch.pipeline.vlan;

import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageFactory;
import dev.vswitch.pipeline.spi.StageSettings;

/**
 * The built-in {@code vlan} stage ({@link VlanIngressStage}); it takes no settings: membership comes from the ports'
 * {@code vlan}/{@code trunk} keys. The switch inserts it right after {@code classify} when any port has a VLAN key
 * and the pipeline does not name it.
 */
public final class VlanIngressStageFactory implements StageFactory
{
    @Override
    public String name()
    {
        return VlanIngressStage.NAME;
    }

    @Override
    public Stage create(final StageContext context, final StageSettings settings)
    {
        settings.allowOnly();
        return new VlanIngressStage(context.vlans());
    }
}
