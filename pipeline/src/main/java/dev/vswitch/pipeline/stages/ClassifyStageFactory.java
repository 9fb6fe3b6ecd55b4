package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageFactory;
import dev.vswitch.pipeline.spi.StageSettings;

/** The built-in {@code classify} stage ({@link ClassifyStage}); it takes no settings. */
public final class ClassifyStageFactory implements StageFactory
{
    @Override
    public String name()
    {
        return ClassifyStage.NAME;
    }

    @Override
    public Stage create(final StageContext context, final StageSettings settings)
    {
        settings.allowOnly();
        return new ClassifyStage();
    }
}
