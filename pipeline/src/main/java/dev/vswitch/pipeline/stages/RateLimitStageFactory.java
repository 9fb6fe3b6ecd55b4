package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageFactory;
import dev.vswitch.pipeline.spi.StageSettings;

import java.util.List;

/**
 * {@code rate-limit: {port: NAME | ports: [NAME, ...], pps: N, burst: B}}; see {@link RateLimitStage}. Each listed
 * port gets its own bucket of {@code pps} frames per second; {@code burst} defaults to {@link #defaultBurst}.
 */
public final class RateLimitStageFactory implements StageFactory
{
    /** 10 ms worth of frames, at least 32 (one receive burst), so a policed port is not cut mid-burst. */
    public static long defaultBurst(final long pps)
    {
        return Math.max(32, pps / 100);
    }

    @Override
    public String name()
    {
        return RateLimitStage.NAME;
    }

    @Override
    public Stage create(final StageContext context, final StageSettings settings)
    {
        settings.allowOnly("port", "ports", "pps", "burst");
        final boolean one = settings.get("port").isPresent();
        final boolean many = settings.get("ports").isPresent();
        if (one == many)
        {
            throw settings.error("give exactly one of 'port' (a port name) or 'ports' (a list of port names)");
        }
        final List<StageSettings> fields = one ? List.of(settings.get("port")) : settings.get("ports").list();
        if (fields.isEmpty())
        {
            throw settings.get("ports").error("at least one port is required");
        }
        final int[] ids = new int[fields.size()];
        final String[] names = new String[ids.length];
        for (int i = 0; i < ids.length; i++)
        {
            ids[i] = context.portId(fields.get(i));
            names[i] = context.portName(ids[i]);
            for (int j = 0; j < i; j++)
            {
                if (ids[j] == ids[i])
                {
                    throw fields.get(i).error("port '" + names[i] + "' is listed twice");
                }
            }
        }
        final long pps = settings.get("pps").integer(1, RateLimitStage.MAX_PPS);
        final long burst = settings.get("burst").integer(1, RateLimitStage.MAX_BURST, defaultBurst(pps));
        final RateLimitStage stage =
            new RateLimitStage(RateLimitStage.NAME, context.clock(), context.portCount(), ids, names, pps, burst);
        for (int i = 0; i < ids.length; i++)
        {
            final int id = ids[i];
            context.counter("rate_limit_passed", "Frames from a policed port within its budget",
                () -> stage.passed(id), "port", names[i]);
            context.counter("rate_limit_dropped", "Frames from a policed port dropped over its budget",
                () -> stage.dropped(id), "port", names[i]);
        }
        return stage;
    }
}
