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
        final int n = (int)settings.get("n").integer(2, 1_000_000);
        // Registered once, here; the stage increments them per frame and the metrics endpoint reads them.
        return new DropEveryNthStage(n,
            context.counter("drop_every_nth_seen", "Frames the drop-every-nth stage saw"),
            context.counter("drop_every_nth_dropped", "Frames the drop-every-nth stage dropped"));
    }
}
