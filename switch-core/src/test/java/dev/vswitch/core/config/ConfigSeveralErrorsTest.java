package dev.vswitch.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file with several errors reports every one of them in one run, each with its line and field, section by section
 * (a mapping's unknown keys first: a misspelt key comes before the missing field it causes);
 * an error in one part does not hide the errors of the parts after it, and does not add follow-on errors.
 */
class ConfigSeveralErrorsTest {
    @TempDir
    Path dir;

    private List<String> errors(String yaml) {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(yaml.replace("$DIR", dir.toString()), "test.yaml"));
        List<String> messages = e.errors().stream().map(Throwable::getMessage).toList();
        assertEquals(String.join("\n", messages), e.getMessage(), "the message is every error, one per line");
        assertEquals(e.errors().get(0).line(), e.line());
        return messages;
    }

    @Test
    void errorsInSeveralSectionsAndFieldsAreAllReported() {
        List<String> messages = errors("""
                ports:
                  - name: vm1
                    type: vhost-user
                    socket: $DIR/vm1.sock
                    mtu: 10
                    sokcet: typo
                  - {name: "bad name!", type: tap, ifname: vsw0}
                datapath:
                  burst: 0
                  ring-size: 1000
                stats: {interval-seconds: -1}
                fdb:
                  size: 8
                colour: blue
                """);
        assertEquals(List.of(
                "test.yaml:14: colour: unknown key; allowed keys: ports, datapath, stats, fdb, pipeline, mirror, metrics, control",
                "test.yaml:6: ports[0].sokcet: unknown key; allowed keys: name, type, mtu, socket, mode, "
                        + "reconnect-ms, ifname, mac, up, vlan, trunk",
                "test.yaml:5: ports[0].mtu: must be between 68 and 65535, got 10",
                "test.yaml:7: ports[1].name: must be 1-32 characters of A-Z a-z 0-9 _ . -, got 'bad name!'",
                "test.yaml:9: datapath.burst: must be between 1 and 256, got 0",
                "test.yaml:10: datapath.ring-size: must be a power of two, got 1000",
                "test.yaml:11: stats.interval-seconds: must be between 0 and 3600, got -1",
                "test.yaml:13: fdb.size: must be between 16 and 16777216, got 8"),
                messages);
    }

    @Test
    void aPortWithAnErrorStillCountsAsNamedForTheSectionsThatReferToIt() {
        // vm1's socket directory is missing; the static entry and the mirror that name vm1 are not errors too.
        List<String> messages = errors("""
                ports:
                  - {name: vm1, type: vhost-user, socket: $DIR/nope/vm1.sock}
                  - {name: vm2, type: vhost-user, socket: $DIR/vm2.sock}
                fdb:
                  static:
                    - {mac: 02:00:00:00:00:99, port: vm1}
                    - {mac: 02:00:00:00:00:98, port: vm9}
                mirror: {from: vm1, to-pcap: $DIR/m.pcap}
                """);
        assertEquals(2, messages.size(), String.join("\n", messages));
        assertTrue(messages.get(0).startsWith("test.yaml:2: ports[0].socket: directory "), messages.get(0));
        assertTrue(messages.get(1).startsWith("test.yaml:7: fdb.static[1].port: no port named 'vm9'"),
                messages.get(1));
    }

    @Test
    void severalUnknownKeysInOneMappingAreEachNamed() {
        List<String> messages = errors("""
                ports:
                  - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock}
                datapath:
                  cpu: [1]
                  bursts: 32
                """);
        assertEquals(2, messages.size(), String.join("\n", messages));
        assertTrue(messages.get(0).startsWith("test.yaml:4: datapath.cpu: unknown key"), messages.get(0));
        assertTrue(messages.get(1).startsWith("test.yaml:5: datapath.bursts: unknown key"), messages.get(1));
    }

    @Test
    void aBadStageDoesNotHideTheNextOne() {
        List<String> messages = errors("""
                ports:
                  - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock}
                pipeline:
                  stages:
                    - classify
                    - nosuchstage
                    - forward
                    - mac-learning
                """);
        assertEquals(2, messages.size(), String.join("\n", messages));
        assertTrue(messages.get(0).startsWith("test.yaml:6: pipeline.stages[1]: unknown stage 'nosuchstage'"),
                messages.get(0));
        assertTrue(messages.get(1).startsWith("test.yaml:7: pipeline.stages[2]: forward must be the last stage"),
                messages.get(1));
    }

    @Test
    void oneErrorIsItselfAsBefore() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "ports:\n  - {name: vm1, type: vhost-user, socket: " + dir + "/vm1.sock, mtu: 1}\n", "test.yaml"));
        assertEquals(List.of(e), e.errors());
        assertEquals("ports[0].mtu", e.fieldPath());
    }
}
