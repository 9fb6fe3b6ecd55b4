package dev.vswitch.pipeline.spi;

import dev.vswitch.pipeline.Stage;

/**
 * Makes a pipeline stage by name. Implementations are found with {@link java.util.ServiceLoader}: list the class in
 * {@code META-INF/services/dev.vswitch.pipeline.spi.StageFactory} of a jar on the switch's classpath, and name the
 * stage in the YAML's {@code pipeline.stages}. The built-in stages (classify, mac-learning, acl, rate-limit,
 * forward) are registered the same way.
 *
 * <p>{@link #create} runs once at switch start, off the data path: it may allocate and should validate its settings
 * fully (through {@link StageSettings}, whose errors name the YAML line), so a bad setting stops the switch before
 * any port opens traffic. The {@link Stage} it returns runs on the PMD thread and must not allocate, block, lock or
 * log per frame.
 */
public interface StageFactory
{
    /** The name used in YAML; lower-case words joined by '-', unique among the factories on the classpath. */
    String name();

    /**
     * @param context  the switch's ports, MAC table and clock.
     * @param settings this stage's settings (an empty mapping when the YAML names the stage without settings).
     * @throws StageSettingsException for a bad setting, made with {@link StageSettings#error}.
     */
    Stage create(StageContext context, StageSettings settings);
}
