package dev.vswitch.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code mirror:} section: one mapping or a list, and every mistake reported at its line. */
class MirrorConfigTest {
    @TempDir
    Path dir;

    private static final String PORTS = """
            ports:
              - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock}
              - {name: up, type: tap, ifname: vsw0}
            """;

    private SwitchConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse((PORTS + yaml).replace("$DIR", dir.toString()), "test.yaml");
    }

    private void assertError(String yaml, int line, String fieldPath, String detail) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse(yaml));
        String prefix = "test.yaml:" + line + ": " + fieldPath + ": ";
        assertTrue(e.getMessage().startsWith(prefix), () -> "expected prefix '" + prefix + "' in: " + e.getMessage());
        assertTrue(e.getMessage().contains(detail), () -> "expected '" + detail + "' in: " + e.getMessage());
    }

    @Test
    void noMirrorSection() throws Exception {
        assertEquals(List.of(), parse("").mirrors());
    }

    @Test
    void oneMappingWithDefaults() throws Exception {
        SwitchConfig config = parse("mirror: {from: vm1, to-pcap: $DIR/vm1.pcap}\n");
        assertEquals(List.of(new MirrorConfig("vm1", dir.resolve("vm1.pcap"), null, MirrorDirection.BOTH, 262_144)),
                config.mirrors());
    }

    @Test
    void listOfMirrorsWithEveryKey() throws Exception {
        SwitchConfig config = parse("""
                mirror:
                  - {from: vm1, to-pcap: $DIR/in.pcap, direction: in, snaplen: 128}
                  - {from: vm1, to-tap: mir0, direction: out}
                  - {from: up, to-tap: mir1}
                """);
        assertEquals(List.of(
                new MirrorConfig("vm1", dir.resolve("in.pcap"), null, MirrorDirection.IN, 128),
                new MirrorConfig("vm1", null, "mir0", MirrorDirection.OUT, 262_144),
                new MirrorConfig("up", null, "mir1", MirrorDirection.BOTH, 262_144)), config.mirrors());
    }

    @Test
    void fromMustNameAPort() {
        assertError("mirror: {from: vm9, to-pcap: $DIR/x.pcap}\n", 4, "mirror.from",
                "no port named 'vm9'; ports: vm1, up");
        assertError("mirror:\n  - {from: vm1, to-tap: mir0}\n  - {to-tap: mir1}\n", 6, "mirror[1].from",
                "required field missing");
    }

    @Test
    void exactlyOneTarget() {
        assertError("mirror:\n  from: vm1\n  to-pcap: $DIR/x.pcap\n  to-tap: mir0\n", 7, "mirror.to-tap",
                "give either to-pcap or to-tap, not both");
        assertError("mirror:\n  from: vm1\n", 5, "mirror", "one of to-pcap (a file) or to-tap (an interface name) is required");
    }

    @Test
    void pcapDirectoryMustExistAndFileNotBeADirectory() throws Exception {
        assertError("mirror: {from: vm1, to-pcap: $DIR/missing/x.pcap}\n", 4, "mirror.to-pcap",
                "directory " + dir.resolve("missing") + " does not exist");
        Files.createDirectory(dir.resolve("d"));
        assertError("mirror: {from: vm1, to-pcap: $DIR/d}\n", 4, "mirror.to-pcap", "is a directory");
    }

    @Test
    void tapNameMustBeValidAndNotAPortsIfname() {
        assertError("mirror: {from: vm1, to-tap: vsw0}\n", 4, "mirror.to-tap",
                "'vsw0' is the ifname of port up; a mirror needs a tap of its own");
        assertError("mirror: {from: vm1, to-tap: a-very-long-interface}\n", 4, "mirror.to-tap",
                "must be an interface name of 1-15 characters");
    }

    @Test
    void duplicateTargets() {
        assertError("mirror:\n  - {from: vm1, to-tap: mir0}\n  - {from: up, to-tap: mir0}\n", 6, "mirror[1].to-tap",
                "duplicate mirror tap 'mir0' (already used at line 5)");
        assertError("mirror:\n  - {from: vm1, to-pcap: $DIR/a.pcap}\n  - {from: up, to-pcap: $DIR/./a.pcap}\n", 6,
                "mirror[1].to-pcap", "duplicate pcap file");
    }

    @Test
    void badValues() {
        assertError("mirror: {from: vm1, to-pcap: $DIR/x.pcap, direction: sideways}\n", 4, "mirror.direction",
                "must be one of both, in, out, got 'sideways'");
        assertError("mirror: {from: vm1, to-pcap: $DIR/x.pcap, snaplen: 10}\n", 4, "mirror.snaplen",
                "must be between 64 and 262144, got 10");
        assertError("mirror: {from: vm1, to-tap: mir0, snaplen: 128}\n", 4, "mirror.snaplen",
                "only applies to to-pcap");
        assertError("mirror: {from: vm1, to-pcap: $DIR/x.pcap, to: y}\n", 4, "mirror.to",
                "unknown key; allowed keys: from, to-pcap, to-tap, direction, snaplen");
        assertError("mirror: vm1\n", 4, "mirror", "expected a mapping, got a string 'vm1'");
    }
}
