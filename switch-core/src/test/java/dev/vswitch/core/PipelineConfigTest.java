package dev.vswitch.core;

import dev.vswitch.core.config.ConfigException;
import dev.vswitch.core.config.ConfigLoader;
import dev.vswitch.core.config.SwitchConfig;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.vlan.VlanMembership;
import dev.vswitch.pipeline.spi.StageSettingsException;
import dev.vswitch.pipeline.stages.AclStage;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.stages.RateLimitStage;
import dev.vswitch.testkit.config.SwitchYaml;
import org.agrona.concurrent.SystemNanoClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code pipeline.stages} from YAML: names checked when the file loads, settings checked when the stages are
 * created - both errors name the file, line and field path.
 */
class PipelineConfigTest
{
    @TempDir
    Path dir;

    private final MacTable table = MacTable.inMemory(64);

    @AfterEach
    void tearDown()
    {
        table.close();
    }

    private String yaml(final String pipeline)
    {
        return SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .raw(pipeline)
            .toString();
    }

    private Stage[] create(final SwitchConfig config)
    {
        final SwitchPort[] ports = new SwitchPort[config.ports().size()];
        for (int i = 0; i < ports.length; i++)
        {
            ports[i] = new UnavailablePort(i, config.ports().get(i).name(), "test");
        }
        return Pipelines.create(config.pipeline(), new StageContext(ports, table, SystemNanoClock.INSTANCE));
    }

    private Stage[] load(final String pipeline) throws ConfigException
    {
        return create(ConfigLoader.parse(yaml(pipeline), "test.yaml"));
    }

    private void assertLoadError(final String pipeline, final String expected)
    {
        final ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml(pipeline), "test.yaml"));
        assertTrue(e.getMessage().startsWith(expected), () -> "expected '" + expected + "...' got: " + e.getMessage());
    }

    private void assertSettingsError(final String pipeline, final String expected)
    {
        final StageSettingsException e = assertThrows(StageSettingsException.class, () -> load(pipeline));
        assertTrue(e.getMessage().startsWith(expected), () -> "expected '" + expected + "...' got: " + e.getMessage());
    }

    private static List<String> names(final Stage[] stages)
    {
        return Arrays.stream(stages).map(Stage::name).toList();
    }

    @Test
    void withoutPipelineTheDefaultStagesRun() throws Exception
    {
        assertEquals(List.of("classify", "mac-learning", "forward"), names(load("")));
    }

    /** A VLAN port needs the ingress stage before anything learns; the switch adds it unless the pipeline names it. */
    @Test
    void portsWithVlansGetTheVlanStageRightAfterClassify() throws Exception
    {
        final VlanMembership vlans = new VlanMembership(2).access(0, 10).trunk(1, 10, 20);
        final SwitchConfig config = ConfigLoader.parse(yaml("pipeline:\n  stages: [classify, acl: {rules: []}, " +
            "mac-learning, forward]\n"), "test.yaml");
        final SwitchPort[] ports = { new UnavailablePort(0, "vm1", "test"), new UnavailablePort(1, "vm2", "test") };
        assertEquals(List.of("classify", "vlan", "acl", "mac-learning", "forward"), names(Pipelines.create(
            config.pipeline(), new StageContext(ports, table, SystemNanoClock.INSTANCE, vlans))));
        final SwitchConfig named = ConfigLoader.parse(yaml("pipeline:\n  stages: [classify, acl: {rules: []}, vlan, " +
            "mac-learning, forward]\n"), "test.yaml");
        assertEquals(List.of("classify", "acl", "vlan", "mac-learning", "forward"), names(Pipelines.create(
            named.pipeline(), new StageContext(ports, table, SystemNanoClock.INSTANCE, vlans))));
        assertEquals(List.of("classify", "mac-learning", "forward"), names(load("")), "no VLAN keys: no vlan stage");
    }

    @Test
    void stagesRunInTheOrderNamedWithTheirSettings() throws Exception
    {
        final Stage[] stages = load("""
            pipeline:
              stages:
                - classify
                - acl: { rules: [ { drop: { ethertype: 0x86dd } }, { drop: { ip-proto: 17, dst-port: 53 } },
                                  { allow: { src-ip: 10.0.0.0/8, in-port: vm1 } } ], default: drop }
                - rate-limit: { port: vm2, pps: 100000 }
                - rate-limit: { ports: [vm1, vm2], pps: 5000, burst: 7 }
                - mac-learning
                - forward
            """);
        assertEquals(List.of("classify", "acl", "rate-limit", "rate-limit", "mac-learning", "forward"), names(stages));
        final StringBuilder sb = new StringBuilder();
        stages[1].report(sb);
        assertEquals("rule 0 (drop ethertype=0x86dd) hits=0; rule 1 (drop ip-proto=17 dst-port=53) hits=0; " +
            "rule 2 (allow src-ip=10.0.0.0/8 in-port=vm1) hits=0; default drop hits=0", sb.toString());
        assertInstanceOf(AclStage.class, stages[1]);
        sb.setLength(0);
        stages[2].report(sb);
        assertEquals("vm2 100000 pps burst 1000: passed=0 dropped=0", sb.toString());
        sb.setLength(0);
        stages[3].report(sb);
        assertEquals("vm1 5000 pps burst 7: passed=0 dropped=0; vm2 5000 pps burst 7: passed=0 dropped=0", sb.toString());
        assertInstanceOf(RateLimitStage.class, stages[3]);
    }

    @Test
    void namesAndOrderAreCheckedWhenTheFileLoads()
    {
        assertLoadError("pipeline:\n  stages:\n    - classify\n    - nat\n    - forward\n",
            "test.yaml:7: pipeline.stages[1]: unknown stage 'nat'; available: acl, classify, forward, mac-learning, " +
                "rate-limit, vlan");
        assertLoadError("pipeline:\n  stages:\n    - classify\n    - forward\n    - acl: {rules: []}\n",
            "test.yaml:7: pipeline.stages[1]: forward must be the last stage");
        assertLoadError("pipeline:\n  stages: [classify, mac-learning]\n",
            "test.yaml:5: pipeline.stages: the last stage must be 'forward'");
        assertLoadError("pipeline:\n  stages: [mac-learning, forward]\n",
            "test.yaml:5: pipeline.stages: 'classify' is required");
        assertLoadError("pipeline:\n  stages:\n    - classify\n    - {acl: {}, rate-limit: {}}\n    - forward\n",
            "test.yaml:7: pipeline.stages[1]: a stage is a name (- classify) or a mapping of one name");
        assertLoadError("pipeline:\n  stage: [classify, forward]\n", "test.yaml:5: pipeline.stage: unknown key");
        assertLoadError("pipeline:\n  stages: []\n", "test.yaml:5: pipeline.stages: at least 'classify' and 'forward'");
    }

    @Test
    void settingsErrorsNameTheLineAndFieldWhenTheStagesAreCreated()
    {
        final String head = "pipeline:\n  stages:\n    - classify\n";
        assertSettingsError(head + "    - acl:\n        rules:\n          - drop: { ethertype: 70000 }\n    - forward\n",
            "test.yaml:9: pipeline.stages[1].acl.rules[0].drop.ethertype: must be between 0 and 65535, got 70000");
        assertSettingsError(head + "    - acl: { rules: [ { allow: {} }, { drop: { dst-ip: 10.0.0.0/33 } } ] }\n" +
            "    - forward\n", "test.yaml:7: pipeline.stages[1].acl.rules[1].drop.dst-ip: prefix length must be 0..32");
        assertSettingsError(head + "    - acl: { rules: [ { drop: { in-port: vm9 } } ] }\n    - forward\n",
            "test.yaml:7: pipeline.stages[1].acl.rules[0].drop.in-port: no port 'vm9'; ports: vm1, vm2");
        assertSettingsError(head + "    - acl: { rules: [ { reject: { ip-proto: 6 } } ] }\n    - forward\n",
            "test.yaml:7: pipeline.stages[1].acl.rules[0].reject: unknown key; allowed keys: drop, allow");
        assertSettingsError(head + "    - acl: { rules: [ { drop: { src-mac: 01:02 } } ] }\n    - forward\n",
            "test.yaml:7: pipeline.stages[1].acl.rules[0].drop.src-mac: expected a MAC address");
        assertSettingsError(head + "    - acl: { rules: [ { drop: { dst-prot: 53 } } ] }\n    - forward\n",
            "test.yaml:7: pipeline.stages[1].acl.rules[0].drop.dst-prot: unknown key; allowed keys: ethertype");
        assertSettingsError(head + "    - acl\n    - forward\n", "test.yaml:7: pipeline.stages[1].acl.rules: required field missing");
        assertSettingsError(head + "    - rate-limit: { port: vm2 }\n    - forward\n",
            "test.yaml:7: pipeline.stages[1].rate-limit.pps: required field missing");
        assertSettingsError(head + "    - rate-limit: { port: vm2, ports: [vm1], pps: 5 }\n    - forward\n",
            "test.yaml:7: pipeline.stages[1].rate-limit: give exactly one of 'port'");
        assertSettingsError(head + "    - rate-limit: { ports: [vm1, vm1], pps: 5 }\n    - forward\n",
            "test.yaml:7: pipeline.stages[1].rate-limit.ports[1]: port 'vm1' is listed twice");
        assertSettingsError(head + "    - rate-limit: { port: vm2, pps: 0 }\n    - forward\n",
            "test.yaml:7: pipeline.stages[1].rate-limit.pps: must be between 1 and 100000000, got 0");
        assertSettingsError(head + "    - mac-learning: { aging: 5 }\n    - forward\n",
            "test.yaml:7: pipeline.stages[1].mac-learning.aging: unknown key; this stage takes no settings");
        final StageSettingsException e = assertThrows(StageSettingsException.class,
            () -> load(head + "    - acl: 5\n    - forward\n"));
        assertTrue(e.getMessage().startsWith("test.yaml:7: pipeline.stages[1].acl: expected a mapping, got an integer '5'"),
            e.getMessage());
        assertInstanceOf(ConfigException.class, e.getCause());
    }
}
