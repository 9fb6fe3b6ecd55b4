package dev.vswitch.core.config;

import dev.vswitch.pipeline.spi.StageFactory;
import dev.vswitch.pipeline.spi.StageRegistry;
import dev.vswitch.pipeline.spi.StageSettings;
import java.util.List;

/**
 * The configured pipeline: stages in the order they run, each with its factory (found by name on the classpath)
 * and its settings, kept as YAML nodes so that errors found when the switch creates the stage still name the line.
 */
public record PipelineConfig(List<Stage> stages) {

    /** The stages when the YAML has no {@code pipeline} section. */
    public static final List<String> DEFAULT_STAGES = List.of("classify", "mac-learning", "forward");

    /** One entry of {@code pipeline.stages}. */
    public record Stage(String name, StageFactory factory, StageSettings settings) {}

    public PipelineConfig {
        stages = List.copyOf(stages);
    }

    /** The default pipeline (classify, mac-learning, forward) from the built-in factories. */
    public static PipelineConfig defaults() {
        return defaults(StageRegistry.load(PipelineConfig.class.getClassLoader()), "(default)");
    }

    static PipelineConfig defaults(StageRegistry registry, String source) {
        NodeReader none = NodeReader.root(source, null);
        return new PipelineConfig(DEFAULT_STAGES.stream()
                .map(name -> new Stage(name, registry.find(name), new YamlStageSettings(none.absent(name))))
                .toList());
    }

    public List<String> names() {
        return stages.stream().map(Stage::name).toList();
    }
}
