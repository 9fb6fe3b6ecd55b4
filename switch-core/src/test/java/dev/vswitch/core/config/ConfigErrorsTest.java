package dev.vswitch.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/** Every error names the source, the line and (where there is one) the field path. */
class ConfigErrorsTest {
    @TempDir
    Path dir;

    /** Parses {@code yaml} ($DIR = a temp dir) and returns the error, which must be at {@code line}. */
    private ConfigException error(String yaml, int line, String fieldPath) {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(yaml.replace("$DIR", dir.toString()), "test.yaml"));
        String prefix = "test.yaml:" + line + ": " + (fieldPath.isEmpty() ? "" : fieldPath + ": ");
        assertTrue(e.getMessage().startsWith(prefix), () -> "expected prefix '" + prefix + "' in: " + e.getMessage());
        assertEquals(line, e.line());
        assertEquals(fieldPath, e.fieldPath());
        return e;
    }

    private void assertError(String yaml, int line, String fieldPath, String detail) {
        ConfigException e = error(yaml, line, fieldPath);
        assertTrue(e.getMessage().contains(detail), () -> "expected '" + detail + "' in: " + e.getMessage());
    }

    private static final String TAP = "ports:\n  - {name: host, type: tap, ifname: vsw0}\n";

    // ---- document level ----

    @Test
    void emptyDocument() {
        assertError("", 1, "", "configuration is empty");
        assertError("# nothing but a comment\n\n", 1, "", "configuration is empty");
    }

    @Test
    void nonMappingRoot() {
        assertError("- vm1\n- vm2\n", 1, "", "the top level must be a mapping with keys ports, datapath, stats, fdb, pipeline, mirror, metrics, control; got a list");
        assertError("\n\nhello\n", 3, "", "got a string 'hello'");
    }

    @Test
    void yamlSyntaxErrorHasLineAndCause() {
        ConfigException e = error("""
                ports:
                  - name: vm1
                    type: tap
                   ifname: vsw0
                """, 4, "");
        assertTrue(e.getMessage().contains("YAML syntax error"), e.getMessage());
        assertInstanceOf(MarkedYAMLException.class, e.getCause());

        assertError("ports: [ {name: a}\n", 2, "", "YAML syntax error");
        assertError("ports: []\n---\nports: []\n", 2, "", "expected a single document");
    }

    @Test
    void duplicateKeys() {
        assertError("""
                ports:
                  - name: vm1
                    type: tap
                    name: vm2
                """, 4, "ports[0].name", "duplicate key (first given at line 2)");
        assertError(TAP + "stats: {}\nstats: {}\n", 4, "stats", "duplicate key (first given at line 3)");
    }

    // ---- unknown keys ----

    @Test
    void unknownKeysListAllowedKeys() {
        assertError("""
                ports:
                  - {name: host, type: tap, ifname: vsw0}
                port: []
                """, 3, "port", "unknown key; allowed keys: ports, datapath, stats, fdb, pipeline, mirror, metrics");
        assertError("""
                ports:
                  - name: vm1
                    type: vhost-user
                    sokcet: /tmp/vm1.sock
                """, 4, "ports[0].sokcet",
                "unknown key; allowed keys: name, type, mtu, socket, mode, reconnect-ms, ifname, mac, up, vlan, trunk");
        assertError(TAP + "datapath:\n  cpus: [1]\n  ring_size: 64\n", 5, "datapath.ring_size",
                "allowed keys: cpus, burst, ring-size, idle, max-park-us, rx-retries");
        assertError(TAP + "stats: {interval: 5}\n", 3, "stats.interval", "allowed keys: interval-seconds");
        assertError(TAP + "fdb:\n  path: /tmp/fdb\n", 4, "fdb.path",
                "allowed keys: size, aging-seconds, port-limit, file, static");
    }

    @Test
    void keysOfTheOtherPortType() {
        assertError("""
                ports:
                  - name: host
                    type: tap
                    ifname: vsw0
                    socket: /tmp/x.sock
                """, 5, "ports[0].socket", "not allowed on a tap port (only for vhost-user ports)");
        assertError("""
                ports:
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/vm1.sock
                    ifname: vsw0
                """, 5, "ports[0].ifname", "not allowed on a vhost-user port (only for tap ports)");
        assertError(TAP.replace("}", ", mode: client}"), 2, "ports[0].mode", "not allowed on a tap port");
        assertError("ports:\n  - {name: vm1, type: vhost-user, socket: $DIR/a.sock, mac: 02:00:00:00:00:01}\n",
                2, "ports[0].mac", "not allowed on a vhost-user port");
        assertError("ports:\n  - {name: vm1, type: vhost-user, socket: $DIR/a.sock, up: true}\n",
                2, "ports[0].up", "not allowed on a vhost-user port");
    }

    @Test
    void reconnectOnlyInClientMode() {
        assertError("""
                ports:
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/vm1.sock
                    reconnect-ms: 500
                """, 5, "ports[0].reconnect-ms", "only applies to mode: client");
    }

    // ---- missing fields: reported at the parent mapping's line ----

    @Test
    void missingRequiredFields() {
        assertError("stats: {}\n", 1, "ports", "required field missing");
        assertError("""
                ports:
                  - name: vm1
                    type: vhost-user
                  - name: vm2
                    type: tap
                """, 2, "ports[0].socket", "required field missing");
        assertError("""
                ports:
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/vm1.sock
                  - name: vm2
                    type: tap
                """, 5, "ports[1].ifname", "required field missing");
        assertError("ports:\n  - type: tap\n    ifname: vsw0\n", 2, "ports[0].name", "required field missing");
        assertError("ports:\n\n  - name: vm1\n    socket: /x.sock\n", 3, "ports[0].type", "required field missing");
    }

    // ---- wrong types ----

    @Test
    void wrongTypes() {
        assertError(TAP.replace("}", ", mtu: \"1500\"}"), 2, "ports[0].mtu",
                "expected an integer, got a string '1500'");
        assertError(TAP.replace("}", ", mtu: 1500.0}"), 2, "ports[0].mtu", "expected an integer, got a number");
        assertError(TAP.replace("}", ", up: 'true'}"), 2, "ports[0].up", "expected a boolean");
        assertError(TAP.replace("}", ", up: 1}"), 2, "ports[0].up", "expected a boolean (true or false), got an integer '1'");
        assertError("ports:\n  name: vm1\n  type: tap\n", 2, "ports", "expected a list, got a mapping");
        assertError("ports:\n  - vm1\n", 2, "ports[0]", "expected a mapping, got a string 'vm1'");
        assertError("ports:\n", 1, "ports", "expected a list, got an empty value");
        assertError(TAP + "datapath: [1]\n", 3, "datapath", "expected a mapping, got a list");
        assertError(TAP + "datapath:\n  cpus: 1\n", 4, "datapath.cpus", "expected a list, got an integer '1'");
        assertError(TAP + "datapath:\n  cpus:\n    - 1\n    - two\n", 6, "datapath.cpus[1]",
                "expected an integer, got a string 'two'");
        assertError(TAP + "datapath:\n  burst:\n", 4, "datapath.burst", "expected an integer, got an empty value");
        assertError("ports:\n  - name: [a, b]\n    type: tap\n", 2, "ports[0].name", "expected a string, got a list");
        assertError(TAP + "stats: 5\n", 3, "stats", "expected a mapping, got an integer '5'");
    }

    // ---- value checks ----

    @Test
    void enumValues() {
        assertError("ports:\n  - {name: a, type: vhost_user}\n", 2, "ports[0].type",
                "must be one of vhost-user, tap, got 'vhost_user'");
        assertError("ports:\n  - {name: a, type: vhost-user, socket: $DIR/a.sock, mode: listen}\n", 2, "ports[0].mode",
                "must be one of server, client, got 'listen'");
        assertError(TAP + "datapath: {idle: spin}\n", 3, "datapath.idle", "must be one of busy-spin, backoff");
    }

    @Test
    void ranges() {
        assertError(TAP.replace("}", ", mtu: 67}"), 2, "ports[0].mtu", "must be between 68 and 65535, got 67");
        assertError(TAP.replace("}", ", mtu: 99999999999999999999}"), 2, "ports[0].mtu", "must be between 68 and 65535");
        assertError("ports:\n  - {name: a, type: vhost-user, socket: $DIR/a.sock, mode: client, reconnect-ms: 5}\n",
                2, "ports[0].reconnect-ms", "must be between 10 and 60000, got 5");
        assertError(TAP + "datapath: {burst: 0}\n", 3, "datapath.burst", "must be between 1 and 256, got 0");
        assertError(TAP + "datapath: {burst: 257}\n", 3, "datapath.burst", "must be between 1 and 256");
        assertError(TAP + "datapath: {ring-size: 1000}\n", 3, "datapath.ring-size", "must be a power of two, got 1000");
        assertError(TAP + "datapath: {ring-size: 32}\n", 3, "datapath.ring-size", "must be between 64 and 65536");
        assertError(TAP + "datapath: {max-park-us: 0}\n", 3, "datapath.max-park-us", "must be between 1 and 100000");
        assertError(TAP + "datapath: {rx-retries: 65}\n", 3, "datapath.rx-retries", "must be between 0 and 64");
        assertError(TAP + "datapath: {cpus: [0, 1024]}\n", 3, "datapath.cpus[1]", "must be between 0 and 1023");
        assertError(TAP + "datapath: {cpus: [-1]}\n", 3, "datapath.cpus[0]", "must be between 0 and 1023");
        assertError(TAP + "datapath: {cpus: []}\n", 3, "datapath.cpus", "at least one CPU is required");
        assertError(TAP + "stats: {interval-seconds: 3601}\n", 3, "stats.interval-seconds", "must be between 0 and 3600");
        assertError(TAP + "fdb: {size: 15}\n", 3, "fdb.size", "must be between 16 and 16777216");
        assertError("ports: []\n", 1, "ports", "at least one port is required");
    }

    @Test
    void namesAndMacs() {
        assertError("ports:\n  - {name: 'vm 1', type: tap, ifname: x}\n", 2, "ports[0].name",
                "must be 1-32 characters of A-Z a-z 0-9 _ . -, got 'vm 1'");
        assertError("ports:\n  - {name: " + "a".repeat(33) + ", type: tap, ifname: x}\n", 2, "ports[0].name",
                "must be 1-32 characters");
        assertError(TAP.replace("vsw0", "sixteen-chars-xx"), 2, "ports[0].ifname", "1-15 characters");
        assertError(TAP.replace("vsw0", "a/b"), 2, "ports[0].ifname", "got 'a/b'");
        assertError(TAP.replace("}", ", mac: 02:00:00:00:10}"), 2, "ports[0].mac",
                "expected a MAC address like 02:00:00:00:00:01, got '02:00:00:00:10'");
        assertError(TAP.replace("}", ", mac: 01:00:5e:00:00:01}"), 2, "ports[0].mac", "must be a unicast MAC address");
        assertError(TAP.replace("}", ", mac: 00:00:00:00:00:00}"), 2, "ports[0].mac", "must not be all zeros");
    }

    // ---- duplicates: both lines named ----

    @Test
    void duplicatePortNames() {
        assertError("""
                ports:
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/vm1.sock
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/vm2.sock
                """, 5, "ports[1].name", "duplicate port name 'vm1' (already used at line 2)");
    }

    @Test
    void duplicateSockets() {
        assertError("""
                ports:
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/vm.sock
                  - name: vm2
                    type: vhost-user
                    socket: $DIR/./vm.sock
                """, 7, "ports[1].socket", "(already used at line 4)");
    }

    @Test
    void duplicateIfnamesAndCpus() {
        assertError("""
                ports:
                  - {name: a, type: tap, ifname: vsw0}
                  - {name: b, type: tap, ifname: vsw0}
                """, 3, "ports[1].ifname", "duplicate ifname 'vsw0' (already used at line 2)");
        assertError(TAP + "datapath:\n  cpus:\n    - 1\n    - 2\n    - 1\n", 7, "datapath.cpus[2]",
                "duplicate CPU 1 (already used at line 5)");
    }

    // ---- paths ----

    @Test
    void socketDirectoryMustExist() {
        assertError("""
                ports:
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/nope/vm1.sock
                """, 4, "ports[0].socket", "directory " + dir.resolve("nope") + " does not exist");
    }

    @Test
    void socketParentMustBeADirectoryAndSocketNotADirectory() throws Exception {
        Files.writeString(dir.resolve("file"), "x");
        assertError("ports:\n  - {name: a, type: vhost-user, socket: $DIR/file/a.sock}\n", 2, "ports[0].socket",
                dir.resolve("file") + " is not a directory");
        assertError("ports:\n  - {name: a, type: vhost-user, socket: $DIR}\n", 2, "ports[0].socket",
                dir + " is a directory");
    }

    @Test
    void socketPathLength() {
        String longName = "s".repeat(108 - dir.toString().length()) + ".sock";
        assertError("ports:\n  - {name: a, type: vhost-user, socket: $DIR/" + longName + "}\n", 2, "ports[0].socket",
                "a unix socket path may have at most 107");
    }

    @Test
    void fdbFileDirectoryMustExist() {
        assertError(TAP + "fdb:\n  file: $DIR/missing/fdb.dat\n", 4, "fdb.file",
                "directory " + dir.resolve("missing") + " does not exist");
    }

    @Test
    void fdbLimitsAndAging() {
        assertError(TAP + "fdb: {size: 1024, port-limit: 2048}\n", 3, "fdb.port-limit",
                "must be at most fdb.size (1024), got 2048");
        assertError(TAP + "fdb: {port-limit: 0}\n", 3, "fdb.port-limit", "must be between 1 and 16777216");
        assertError(TAP + "fdb: {aging-seconds: -1}\n", 3, "fdb.aging-seconds", "must be between 0 and 1000000");
        assertError(TAP + "fdb: {aging-seconds: 5m}\n", 3, "fdb.aging-seconds", "expected an integer");
    }

    @Test
    void fdbStaticEntries() {
        String fdb = TAP + "fdb:\n  static:\n";
        assertError(fdb + "    - {mac: 02:00:00:00:00:01, port: vm9}\n", 5, "fdb.static[0].port",
                "no port named 'vm9'; ports are host");
        assertError(fdb + "    - {mac: 01:00:5e:00:00:01, port: host}\n", 5, "fdb.static[0].mac",
                "must be a unicast MAC address");
        assertError(fdb + "    - {mac: 02:00:00:00:01, port: host}\n", 5, "fdb.static[0].mac",
                "expected a MAC address");
        assertError(fdb + "    - {mac: 02:00:00:00:00:01, port: host}\n    - {mac: 02:00:00:00:00:02, port: host}\n"
                + "    - port: host\n      mac: 02:00:00:00:00:01\n", 8, "fdb.static[2].mac",
                "duplicate static MAC 02:00:00:00:00:01 (already used at line 5)");
        assertError(fdb + "    - {mac: 02:00:00:00:00:01, port: host, vlan: 4096}\n", 5, "fdb.static[0].vlan",
                "must be between 0 and 4095");
        assertError(fdb + "    - {mac: 02:00:00:00:00:01, port: host, vid: 3}\n", 5, "fdb.static[0].vid",
                "allowed keys: mac, port, vlan");
        assertError(fdb + "    - {mac: 02:00:00:00:00:01}\n", 5, "fdb.static[0].port", "");
        assertError(TAP + "fdb: {static: 02:00:00:00:00:01}\n", 3, "fdb.static", "a list");
        StringBuilder many = new StringBuilder(TAP + "fdb:\n  size: 16\n  static:\n");
        for (int i = 0; i < 17; i++) {
            many.append("    - {mac: 02:00:00:00:00:").append(String.format("%02x", i + 1)).append(", port: host}\n");
        }
        assertError(many.toString(), 6, "fdb.static", "17 static entries do not fit in fdb.size 16");
    }

    @Test
    void messageFormatMatchesTheDocumentedExample() {
        ConfigException e = error("ports:\n  - {name: a, type: vhost-user, socket: /tmp/nope-" + System.nanoTime()
                + "/a.sock}\n", 2, "ports[0].socket");
        assertTrue(e.getMessage().matches("test\\.yaml:2: ports\\[0]\\.socket: directory /tmp/nope-\\d+ does not exist"),
                e.getMessage());
    }
}
