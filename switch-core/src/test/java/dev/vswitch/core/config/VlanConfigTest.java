package dev.vswitch.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code vlan} and {@code trunk} port keys: values and file:line: field errors. */
class VlanConfigTest {
    @TempDir
    Path dir;

    private SwitchConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml.replace("$DIR", dir.toString()), "test.yaml");
    }

    private void assertError(String yaml, String prefix, String detail) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse(yaml));
        assertTrue(e.getMessage().startsWith(prefix), () -> "expected prefix '" + prefix + "' in: " + e.getMessage());
        assertTrue(e.getMessage().contains(detail), () -> "expected '" + detail + "' in: " + e.getMessage());
    }

    @Test
    void accessTrunkAndUntaggedPorts() throws Exception {
        List<PortConfig> ports = parse("""
                ports:
                  - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock, vlan: 10}
                  - name: host
                    type: tap
                    ifname: vsw0
                    trunk: [20, 10, 4094]
                  - {name: vm2, type: vhost-user, socket: $DIR/vm2.sock}
                  - {name: up, type: tap, ifname: vsw1, vlan: 1}
                """).ports();
        assertEquals(10, ports.get(0).vlan());
        assertTrue(ports.get(0).isAccess());
        assertFalse(ports.get(0).isTrunk());
        assertEquals(List.of(10, 20, 4094), ports.get(1).trunk());
        assertTrue(ports.get(1).isTrunk());
        assertEquals(PortConfig.NO_VLAN, ports.get(1).vlan());
        assertFalse(ports.get(2).isAccess());
        assertFalse(ports.get(2).isTrunk());
        assertEquals(1, ports.get(3).vlan());
    }

    @Test
    void vlanOutOfRange() {
        String yaml = "ports:\n  - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock, vlan: %s}\n";
        assertError(yaml.formatted("0"), "test.yaml:2: ports[0].vlan: ", "must be between 1 and 4094, got 0");
        assertError(yaml.formatted("4095"), "test.yaml:2: ports[0].vlan: ", "must be between 1 and 4094, got 4095");
        assertError(yaml.formatted("ten"), "test.yaml:2: ports[0].vlan: ", "an integer");
    }

    @Test
    void bothVlanAndTrunk() {
        assertError("""
                ports:
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/vm1.sock
                    vlan: 10
                    trunk: [10, 20]
                """, "test.yaml:6: ports[0].trunk: ", "either an access port (vlan) or a trunk (trunk), not both");
    }

    @Test
    void badTrunks() {
        String yaml = "ports:\n  - name: host\n    type: tap\n    ifname: vsw0\n    trunk: %s\n";
        assertError(yaml.formatted("[]"), "test.yaml:5: ports[0].trunk: ", "needs at least one VLAN id");
        assertError(yaml.formatted("[10, 20, 10]"), "test.yaml:5: ports[0].trunk[2]: ",
                "duplicate VLAN 10 (already used at line 5)");
        assertError(yaml.formatted("[10, 4095]"), "test.yaml:5: ports[0].trunk[1]: ", "must be between 1 and 4094");
        assertError(yaml.formatted("10"), "test.yaml:5: ports[0].trunk: ", "a list");
        assertError("ports:\n  - name: host\n    type: tap\n    ifname: vsw0\n    trunk:\n      - 10\n      - 0\n",
                "test.yaml:7: ports[0].trunk[1]: ", "must be between 1 and 4094, got 0");
    }
}
