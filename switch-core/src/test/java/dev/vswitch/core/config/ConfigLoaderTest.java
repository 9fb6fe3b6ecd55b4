package dev.vswitch.core.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Valid configurations: defaults, every field set, the shipped example files, file handling. */
class ConfigLoaderTest {
    @TempDir
    Path dir;

    private SwitchConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml.replace("$DIR", dir.toString()), "test.yaml");
    }

    @Test
    void minimalConfigGetsDefaults() throws Exception {
        SwitchConfig config = parse("""
                ports:
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/vm1.sock
                """);
        PortConfig port = config.ports().get(0);
        assertEquals(new PortConfig("vm1", PortType.VHOST_USER, dir.resolve("vm1.sock"), SocketMode.SERVER,
                1000, null, 1500, null, true), port);
        assertEquals(DatapathConfig.defaults(), config.datapath());
        assertArrayEquals(new int[] {1}, config.datapath().cpus());
        assertEquals(32, config.datapath().burst());
        assertEquals(128, config.datapath().ringSize());
        assertEquals(IdleMode.BACKOFF, config.datapath().idle());
        assertEquals(100, config.datapath().maxParkMicros());
        assertEquals(4, config.datapath().rxRetries());
        assertEquals(new StatsConfig(5), config.stats());
        assertEquals(new FdbConfig(65536, 300, 4096, null, List.of()), config.fdb());
    }

    @Test
    void theDefaultRingHoldsFourBursts() throws Exception {
        String port = "ports:\n  - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock}\n";
        assertEquals(128, DatapathConfig.DEFAULT_RING_SIZE);
        assertEquals(128, DatapathConfig.defaultRingSize(DatapathConfig.DEFAULT_BURST));
        assertEquals(1024, parse(port + "datapath: {burst: 256}\n").datapath().ringSize());
        assertEquals(512, parse(port + "datapath: {burst: 100}\n").datapath().ringSize());
        assertEquals(64, parse(port + "datapath: {burst: 1}\n").datapath().ringSize());
        assertEquals(64, parse(port + "datapath: {burst: 256, ring-size: 64}\n").datapath().ringSize(),
                "a ring-size given wins");
    }

    @Test
    void tapPortDefaults() throws Exception {
        PortConfig tap = parse("""
                ports:
                  - {name: host, type: tap, ifname: vsw0}
                """).ports().get(0);
        assertEquals(new PortConfig("host", PortType.TAP, null, null, 1000, "vsw0", 1500, null, true), tap);
    }

    @Test
    void emptySectionsMeanDefaults() throws Exception {
        SwitchConfig config = parse("""
                ports:
                  - {name: host, type: tap, ifname: vsw0}
                datapath:
                stats: {}
                fdb:
                """);
        assertEquals(DatapathConfig.defaults(), config.datapath());
        assertEquals(StatsConfig.defaults(), config.stats());
        assertEquals(FdbConfig.defaults(), config.fdb());
    }

    @Test
    void fullConfig() throws Exception {
        SwitchConfig config = parse("""
                ports:
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/vm1.sock
                    mode: server
                    mtu: 9000
                  - name: vm.2_b-c
                    type: vhost-user
                    socket: $DIR/qemu-vm2.sock
                    mode: client
                    reconnect-ms: 250
                  - name: host
                    type: tap
                    ifname: vsw0
                    mtu: 1400
                    mac: 02:AB:00:00:00:10
                    up: false
                datapath:
                  cpus: [2, 3, 0]
                  burst: 64
                  ring-size: 4096
                  idle: busy-spin
                  max-park-us: 50
                  rx-retries: 0
                stats:
                  interval-seconds: 0
                fdb:
                  size: 1024
                  aging-seconds: 0
                  port-limit: 100
                  file: $DIR/fdb.dat
                  static:
                    - {mac: 02:AA:00:00:00:01, port: host}
                    - mac: 02:aa:00:00:00:01
                      port: vm1
                      vlan: 42
                """);
        assertEquals(List.of(
                new PortConfig("vm1", PortType.VHOST_USER, dir.resolve("vm1.sock"), SocketMode.SERVER, 1000,
                        null, 9000, null, true),
                new PortConfig("vm.2_b-c", PortType.VHOST_USER, dir.resolve("qemu-vm2.sock"), SocketMode.CLIENT,
                        250, null, 1500, null, true),
                new PortConfig("host", PortType.TAP, null, null, 1000, "vsw0", 1400, "02:ab:00:00:00:10", false)),
                config.ports());
        assertEquals(new DatapathConfig(new int[] {2, 3, 0}, 64, 4096, IdleMode.BUSY_SPIN, 50, 0), config.datapath());
        assertEquals(new StatsConfig(0), config.stats());
        assertEquals(new FdbConfig(1024, 0, 100, dir.resolve("fdb.dat"), List.of(
                new FdbConfig.StaticMac("02:aa:00:00:00:01", "host", 0),
                new FdbConfig.StaticMac("02:aa:00:00:00:01", "vm1", 42))), config.fdb());
        assertEquals(0x02aa_0000_0001L, config.fdb().statics().get(0).macBits());
    }

    @Test
    void fdbPortLimitDefaultsToTheSmallerOf4096AndTheSize() throws Exception {
        String tap = "ports:\n  - {name: host, type: tap, ifname: vsw0}\n";
        assertEquals(1024, parse(tap + "fdb: {size: 1024}\n").fdb().portLimit());
        assertEquals(4096, parse(tap + "fdb: {size: 100000}\n").fdb().portLimit());
        assertEquals(16, parse(tap + "fdb: {size: 16, port-limit: 16}\n").fdb().portLimit());
    }

    @Test
    void yamlIntegerAndBooleanSpellings() throws Exception {
        PortConfig tap = parse("""
                ports:
                  - {name: host, type: tap, ifname: vsw0, mtu: 0x5dc, up: off}
                datapath: {ring-size: 65_536}
                """).ports().get(0);
        assertEquals(1500, tap.mtu());
        assertFalse(tap.up());
    }

    @Test
    void datapathCpusAreCopied() throws Exception {
        int[] cpus = {1, 2};
        DatapathConfig datapath = new DatapathConfig(cpus, 32, 1024, IdleMode.BACKOFF, 100, 4);
        cpus[0] = 7;
        datapath.cpus()[1] = 7;
        assertArrayEquals(new int[] {1, 2}, datapath.cpus());
        assertTrue(datapath.toString().contains("cpus=[1, 2]"), datapath.toString());
    }

    @Test
    void shippedDefaultConfigParses() throws Exception {
        Path file = Path.of("..", "config", "switch.yaml");
        assertTrue(Files.isRegularFile(file), "missing " + file.toAbsolutePath());
        // createSocketDirs=true, as the launcher loads this file (it may create /tmp/vswitch).
        SwitchConfig config = ConfigLoader.load(file, true);
        assertEquals(List.of(
                new PortConfig("vm1", PortType.VHOST_USER, Path.of("/tmp/vswitch/vm1.sock"), SocketMode.SERVER,
                        1000, null, 1500, null, true),
                new PortConfig("vm2", PortType.VHOST_USER, Path.of("/tmp/vswitch/vm2.sock"), SocketMode.SERVER,
                        1000, null, 1500, null, true)),
                config.ports());
        assertArrayEquals(new int[] {1}, config.datapath().cpus());
        assertEquals(FdbConfig.defaults(), config.fdb(), "the file spells out the defaults");
        assertTrue(Files.isDirectory(Path.of("/tmp/vswitch")));
    }

    @Test
    void shippedClientModeConfigParses() throws Exception {
        Files.createDirectories(Path.of("/tmp/vswitch"));
        SwitchConfig config = ConfigLoader.load(Path.of("..", "config", "client-mode.yaml"));
        assertEquals(2, config.ports().size());
        for (int i = 0; i < 2; i++) {
            PortConfig port = config.ports().get(i);
            assertEquals("vm" + (i + 1), port.name());
            assertEquals(SocketMode.CLIENT, port.mode());
            assertEquals(Path.of("/tmp/vswitch/qemu-vm" + (i + 1) + ".sock"), port.socket());
            assertEquals(1000, port.reconnectMillis());
        }
    }

    @Test
    void loadReadsUtf8() throws Exception {
        Path file = dir.resolve("switch.yaml");
        Files.writeString(file, "# Überblick – ports\nports:\n  - {name: host, type: tap, ifname: vsw0}\n",
                StandardCharsets.UTF_8);
        assertEquals("vsw0", ConfigLoader.load(file).ports().get(0).ifname());
    }

    @Test
    void createSocketDirsCreatesMissingDirectoriesOnlyWhenAsked() throws Exception {
        Path socket = dir.resolve("a/b/vm1.sock");
        Path file = dir.resolve("switch.yaml");
        Files.writeString(file, "ports:\n  - {name: vm1, type: vhost-user, socket: " + socket + "}\n");

        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertEquals(file + ":2: ports[0].socket: directory " + dir.resolve("a/b") + " does not exist",
                e.getMessage());
        assertFalse(Files.exists(dir.resolve("a")));

        assertEquals(socket, ConfigLoader.load(file, true).ports().get(0).socket());
        assertTrue(Files.isDirectory(dir.resolve("a/b")));
    }

    @Test
    void createSocketDirsCreatesNothingWhenTheConfigIsInvalid() throws Exception {
        Path file = dir.resolve("switch.yaml");
        Files.writeString(file, "ports:\n  - {name: vm1, type: vhost-user, socket: " + dir.resolve("new/vm1.sock")
                + "}\nstats: {interval-seconds: -1}\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file, true));
        assertTrue(e.getMessage().startsWith(file + ":3: stats.interval-seconds: must be between 0 and 3600"),
                e.getMessage());
        assertFalse(Files.exists(dir.resolve("new")));
    }

    @Test
    void missingFileNamesThePath() {
        Path file = dir.resolve("nope.yaml");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertEquals(file + ": file not found", e.getMessage());
        assertEquals(-1, e.line());
    }

    @Test
    void unreadableFileNamesThePath() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(dir));
        assertTrue(e.getMessage().startsWith(dir + ": cannot read file"), e.getMessage());
    }

    @Test
    void invalidUtf8IsRejected() throws Exception {
        Path file = dir.resolve("latin1.yaml");
        Files.write(file, "# \u00dcberblick\nports: []\n".getBytes(StandardCharsets.ISO_8859_1));
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertEquals(file + ": file is not valid UTF-8", e.getMessage());
    }

    @Test
    void relativeSocketPathIsKeptRelative() throws Exception {
        PortConfig port = parse("ports:\n  - {name: vm1, type: vhost-user, socket: vm1.sock}\n").ports().get(0);
        assertEquals(Path.of("vm1.sock"), port.socket());
        assertNull(port.ifname());
    }
}
