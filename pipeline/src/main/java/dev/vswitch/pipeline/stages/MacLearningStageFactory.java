package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageFactory;
import dev.vswitch.pipeline.spi.StageSettings;

/** The built-in {@code mac-learning} stage ({@link MacLearningStage}); it takes no settings. */
public final class MacLearningStageFactory implements StageFactory
{
    @Override
    public String name()
    {
        return MacLearningStage.NAME;
    }

    @Override
    public Stage create(final StageContext context, final StageSettings settings)
    {
        settings.allowOnly();
        return new MacLearningStage(context.fdb());
    }
}
