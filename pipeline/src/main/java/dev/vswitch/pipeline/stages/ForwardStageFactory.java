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
        // VLANs bound delivery, the PMD's step after the stages (dev.vswitch.pipeline.Delivery), not the decision.
        return new ForwardStage(context.fdb(), context.ports());
    }
}
