package dev.vswitch.core;

import dev.vswitch.core.config.PipelineConfig;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageSettingsException;
import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.vlan.VlanIngressStage;

import java.util.ArrayList;
import java.util.List;

/** Creates the configured stages, in order, through their factories. */
public final class Pipelines
{
    private Pipelines()
    {
    }

    /**
     * @throws StageSettingsException naming the file, line and field of a bad setting; a factory's other failures
     *                                are reported at the stage's line. Stages already created are closed.
     */
    public static Stage[] create(final PipelineConfig pipeline, final StageContext context)
    {
        final Stage[] stages = new Stage[pipeline.stages().size()];
        int created = 0;
        final List<String> names = new ArrayList<>();
        try
        {
            for (final PipelineConfig.Stage spec : pipeline.stages())
            {
                final Stage stage;
                try
                {
                    stage = spec.factory().create(context.forStage(metricsName(names, spec.name())), spec.settings());
                }
                catch (final StageSettingsException ex)
                {
                    throw ex;
                }
                catch (final RuntimeException ex)
                {
                    throw spec.settings().error("stage '" + spec.name() + "' (" +
                        spec.factory().getClass().getName() + ") could not be created: " + ex);
                }
                if (stage == null)
                {
                    throw spec.settings().error("stage factory " + spec.factory().getClass().getName() +
                        " returned no stage");
                }
                stages[created++] = stage;
            }
        }
        catch (final RuntimeException ex)
        {
            for (int i = 0; i < created; i++)
            {
                stages[i].close();
            }
            throw ex;
        }
        return withVlanIngress(stages, context);
    }

    /** A stage's name in metrics: its YAML name, "-2", "-3", ... for the second and later stages of one kind. */
    private static String metricsName(final List<String> used, final String name)
    {
        String unique = name;
        for (int n = 2; used.contains(unique); n++)
        {
            unique = name + "-" + n;
        }
        used.add(unique);
        return unique;
    }

    /**
     * Ports with {@code vlan}/{@code trunk} keys need the {@code vlan} ingress stage right after classify (it decides
     * each frame's VLAN before anything learns or matches on it); it is inserted there unless the pipeline names it.
     */
    private static Stage[] withVlanIngress(final Stage[] stages, final StageContext context)
    {
        if (!context.vlans().anyVlans())
        {
            return stages;
        }
        final List<Stage> list = new ArrayList<>(List.of(stages));
        for (final Stage s : list)
        {
            if (s.name().equals(VlanIngressStage.NAME))
            {
                return stages;
            }
        }
        int classify = -1;
        for (int i = 0; i < list.size(); i++)
        {
            if (list.get(i).name().equals(ClassifyStage.NAME))
            {
                classify = i;
                break;
            }
        }
        list.add(classify + 1, new VlanIngressStage(context.vlans()));
        return list.toArray(new Stage[0]);
    }
}
