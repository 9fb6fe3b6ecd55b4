package dev.vswitch.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code control} key: where the control socket goes, and its errors. */
class ControlConfigTest {
    @TempDir
    Path dir;

    private SwitchConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml.replace("$DIR", dir.toString()), "test.yaml");
    }

    @Test
    void defaultIsBesideTheFirstVhostUserSocket() throws Exception {
        SwitchConfig config = parse("""
                ports:
                  - {name: up, type: tap, ifname: vsw0}
                  - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock}
                """);
        assertEquals(dir.resolve("control.sock"), config.control().socket());
    }

    @Test
    void withoutVhostUserPortsItIsUnderRun() throws Exception {
        SwitchConfig config = parse("ports:\n  - {name: up, type: tap, ifname: vsw0}\n");
        assertEquals(Path.of("/run/vswitch/control.sock"), config.control().socket());
    }

    @Test
    void explicitSocket() throws Exception {
        SwitchConfig config = parse("""
                ports:
                  - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock}
                control: {socket: $DIR/ctl.sock, spare-ports: 0}
                """);
        assertEquals(dir.resolve("ctl.sock"), config.control().socket());
        assertEquals(0, config.control().sparePorts());
        assertEquals(8, parse("ports:\n  - {name: up, type: tap, ifname: vsw0}\n").control().sparePorts());
    }

    @Test
    void errorsNameTheField() {
        ConfigException unknown = assertThrows(ConfigException.class, () -> parse("""
                ports:
                  - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock}
                control: {sokcet: $DIR/ctl.sock}
                """));
        assertTrue(unknown.getMessage().contains("test.yaml:3"), unknown.getMessage());
        assertTrue(unknown.getMessage().contains("sokcet"), unknown.getMessage());
        ConfigException missingDir = assertThrows(ConfigException.class, () -> parse("""
                ports:
                  - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock}
                control:
                  socket: $DIR/no/such/dir/ctl.sock
                """));
        assertTrue(missingDir.getMessage().contains("test.yaml:4"), missingDir.getMessage());
        assertTrue(missingDir.getMessage().contains("control.socket"), missingDir.getMessage());
    }
}
