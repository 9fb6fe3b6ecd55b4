package com.example.vswitch;

import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageFactory;
import dev.vswitch.pipeline.spi.StageSettings;

/**
 * YAML: {@code - drop-every-nth: { n: 4 }}. Registered for {@link java.util.ServiceLoader} in
 * META-INF/services/dev.vswitch.pipeline.spi.StageFactory of this stage's jar.
 */
public final class DropEveryNthStageFactory implements StageFactory
{
    public static final String NAME = "drop-every-nth";

    @Override
    public String name()
    {
        return NAME;
    }

    @Override
    public Stage create(final StageContext context, final StageSettings settings)
    {
        settings.allowOnly("n");
        return new DropEveryNthStage((int)settings.get("n").integer(2, 1_000_000));
    }
}
