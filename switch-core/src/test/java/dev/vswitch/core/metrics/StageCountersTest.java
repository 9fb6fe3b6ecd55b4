package dev.vswitch.core.metrics;

import dev.vswitch.core.Pipelines;
import dev.vswitch.core.config.ConfigLoader;
import dev.vswitch.core.config.SwitchConfig;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageCounter;
import dev.vswitch.pipeline.spi.StageCounters;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.vlan.VlanMembership;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import org.agrona.concurrent.SystemNanoClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static dev.vswitch.core.metrics.MetricsEndpointTest.value;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The stage SPI's counter hook: what the built-in stages register, how it is exported, what it refuses. */
class StageCountersTest
{
    @TempDir
    Path dir;

    private final MacTable table = MacTable.inMemory(64);
    private final StageCounters counters = new StageCounters();
    private final SwitchPort[] ports = { new CountingPort(0, "vm1"), new CountingPort(1, "vm2") };

    @AfterEach
    void tearDown()
    {
        table.close();
    }

    private String exported() throws Exception
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        new PrometheusTextFormatWriter(false).write(out, new StageMetrics(counters).collect());
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void builtInStagesExportTheirCountersThroughTheHook() throws Exception
    {
        final SwitchConfig config = ConfigLoader.parse(("""
            ports:
              - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock}
              - {name: vm2, type: vhost-user, socket: $DIR/vm2.sock}
            pipeline:
              stages:
                - classify
                - acl: { rules: [ { drop: { ip-proto: 17, dst-port: 53 } } ], default: allow }
                - rate-limit: { port: vm2, pps: 100000 }
                - rate-limit: { ports: [vm1], pps: 5000 }
                - forward
            """).replace("$DIR", dir.toString()), "test.yaml");
        final Stage[] stages = Pipelines.create(config.pipeline(),
            new StageContext(ports, table, SystemNanoClock.INSTANCE, new VlanMembership(2), counters));
        final String text = exported();
        assertEquals(0, value(text, "vswitch_stage_acl_hits_total{match=\"drop ip-proto=17 dst-port=53\",rule=\"0\"," +
            "stage=\"acl\"}"), text);
        assertEquals(0, value(text, "vswitch_stage_acl_hits_total{match=\"allow\",rule=\"default\",stage=\"acl\"}"));
        assertEquals(0, value(text, "vswitch_stage_rate_limit_passed_total{port=\"vm2\",stage=\"rate-limit\"}"));
        // A second stage of one kind is told apart by its metrics name.
        assertEquals(0, value(text, "vswitch_stage_rate_limit_dropped_total{port=\"vm1\",stage=\"rate-limit-2\"}"));
        for (final Stage s : stages)
        {
            s.close();
        }
    }

    @Test
    void aStageIncrementsWhatItRegisteredAndTheScrapeReadsIt() throws Exception
    {
        final StageContext context = new StageContext(ports, table, SystemNanoClock.INSTANCE, new VlanMembership(2),
            counters).forStage("my-nf");
        final StageCounter hits = context.counter("my_hits", "Frames my-nf matched", "port", "vm1");
        final long[] own = { 0 };
        context.counter("my_own", "A count my-nf keeps itself", () -> own[0]);
        final Stage stage = new Stage()
        {
            @Override
            public String name()
            {
                return "my-nf";
            }

            @Override
            public void process(final PacketEvent event)
            {
                hits.increment();
                own[0] += 2;
            }
        };
        for (int i = 0; i < 5; i++)
        {
            stage.process(null);
        }
        final String text = exported();
        assertEquals(5, value(text, "vswitch_stage_my_hits_total{port=\"vm1\",stage=\"my-nf\"}"), text);
        assertEquals(10, value(text, "vswitch_stage_my_own_total{stage=\"my-nf\"}"), text);
        assertTrue(text.contains("# HELP vswitch_stage_my_hits_total Frames my-nf matched"), text);
    }

    @Test
    void badRegistrationsAreRefusedAtBuildTime()
    {
        final StageContext context = new StageContext(ports, table, SystemNanoClock.INSTANCE, new VlanMembership(2),
            counters).forStage("my-nf");
        context.counter("ok", "fine");
        assertThrows(IllegalArgumentException.class, () -> context.counter("ok", "again"), "twice");
        assertThrows(IllegalArgumentException.class, () -> context.counter("Bad-Name", "x"));
        assertThrows(IllegalArgumentException.class, () -> context.counter("hits_total", "x"));
        assertThrows(IllegalArgumentException.class, () -> context.counter("hits", ""));
        assertThrows(IllegalArgumentException.class, () -> context.counter("hits", "x", "port"));
        assertThrows(IllegalArgumentException.class, () -> context.counter("hits", "x", "stage", "y"));
        assertThrows(IllegalArgumentException.class, () -> context.counter("hits", "x", "a", "1", "a", "2"));
        assertThrows(IllegalArgumentException.class, () -> context.counter("hits", "x", "port", null));
        assertEquals(1, counters.entries().size());
    }
}
