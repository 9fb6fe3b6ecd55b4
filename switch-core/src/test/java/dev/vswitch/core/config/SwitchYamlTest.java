package dev.vswitch.core.config;

import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** testkit's config builder writes text the switch's own loader reads as meant. */
class SwitchYamlTest
{
    @TempDir
    Path dir;

    @Test
    void whatTheBuilderWritesIsWhatTheLoaderReads() throws Exception
    {
        final String yaml = SwitchYaml.create()
            .vhostUser("vm1", dir.resolve("vm1.sock"))
            .vhostUser("vm3", dir.resolve("b 3.sock"), "mode", "client", "reconnect-ms", 200, "vlan", 10)
            .tap("uplink", "vsw0", "mac", "02:00:00:00:88:01", "trunk", List.of(10, 20))
            .mirror("from", "vm1", "to-pcap", dir.resolve("m.pcap"), "snaplen", 64)
            .pmdCpu(1)
            .stats(0)
            .fdb("size", 1024, "aging-seconds", 2)
            .section("metrics", "listen", "127.0.0.1:9464")
            .raw("pipeline:\n  stages:\n    - classify\n    - mac-learning\n    - forward")
            .toString();
        final SwitchConfig c = ConfigLoader.parse(yaml, "built.yaml");

        assertEquals(3, c.ports().size(), yaml);
        final PortConfig vm1 = c.ports().get(0);
        assertEquals("vm1", vm1.name());
        assertEquals(PortType.VHOST_USER, vm1.type());
        assertEquals(dir.resolve("vm1.sock"), vm1.socket());
        assertEquals(SocketMode.SERVER, vm1.mode());
        final PortConfig vm3 = c.ports().get(1);
        assertEquals(dir.resolve("b 3.sock"), vm3.socket(), "a path with a space is quoted");
        assertEquals(SocketMode.CLIENT, vm3.mode());
        assertEquals(200, vm3.reconnectMillis());
        assertEquals(10, vm3.vlan());
        final PortConfig uplink = c.ports().get(2);
        assertEquals(PortType.TAP, uplink.type());
        assertEquals("vsw0", uplink.ifname());
        assertEquals("02:00:00:00:88:01", uplink.mac());
        assertEquals(List.of(10, 20), uplink.trunk());

        assertEquals(1, c.mirrors().size());
        assertEquals(dir.resolve("m.pcap"), c.mirrors().get(0).toPcap());
        assertEquals(64, c.mirrors().get(0).snaplen());
        assertArrayEquals(new int[] {1}, c.datapath().cpus());
        assertEquals(0, c.stats().intervalSeconds());
        assertEquals(1024, c.fdb().size());
        assertEquals(2, c.fdb().agingSeconds());
        assertEquals(new MetricsConfig("127.0.0.1", 9464), c.metrics(), "a host:port value is quoted");
        assertEquals(List.of("classify", "mac-learning", "forward"),
            c.pipeline().stages().stream().map(PipelineConfig.Stage::name).toList(), "raw text goes in as it is");
    }

    @Test
    void theCommonTwoPortConfigReadsLikeTheOneWrittenByHand() throws Exception
    {
        final String byHand = "ports:\n" +
            "  - {name: vm1, type: vhost-user, socket: " + dir.resolve("vm1.sock") + "}\n" +
            "  - {name: vm2, type: vhost-user, socket: " + dir.resolve("vm2.sock") + "}\n" +
            "datapath: {cpus: [1]}\n" +
            "stats: {interval-seconds: 0}\n";
        final String built = SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .pmdCpu(1)
            .stats(0)
            .toString();
        assertEquals(byHand, built);
    }
}
