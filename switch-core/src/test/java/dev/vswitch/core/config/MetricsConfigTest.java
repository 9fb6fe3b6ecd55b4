package dev.vswitch.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code metrics:} section: off unless given, {@code listen: HOST:PORT}, every mistake at its line. */
class MetricsConfigTest {
    @TempDir
    Path dir;

    private static final String PORTS = """
            ports:
              - {name: vm1, type: vhost-user, socket: $DIR/vm1.sock}
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
    void offUnlessConfigured() throws Exception {
        assertFalse(parse("").metrics().enabled());
        assertFalse(parse("metrics:\n").metrics().enabled());
        assertEquals(MetricsConfig.OFF, parse("metrics: {}\n").metrics());
    }

    @Test
    void listenAddresses() throws Exception {
        assertEquals(new MetricsConfig("127.0.0.1", 9482), parse("metrics: {listen: 127.0.0.1:9482}\n").metrics());
        assertEquals(new MetricsConfig("0.0.0.0", 80), parse("metrics:\n  listen: 0.0.0.0:80\n").metrics());
        assertEquals(new MetricsConfig("localhost", 9482), parse("metrics: {listen: \"localhost:9482\"}\n").metrics());
        MetricsConfig v6 = parse("metrics: {listen: \"[::1]:9482\"}\n").metrics();
        assertEquals(new MetricsConfig("::1", 9482), v6);
        assertEquals("[::1]:9482", v6.listen());
    }

    @Test
    void aMetricsErrorIsReportedWithTheFileOtherErrors() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> parse("datapath: {burst: 0}\nmetrics: {listen: \"127.0.0.1:0\"}\n"));
        assertEquals(2, e.errors().size(), e.getMessage());
        assertTrue(e.getMessage().contains("test.yaml:3: datapath.burst: "), e.getMessage());
        assertTrue(e.getMessage().contains("test.yaml:4: metrics.listen: port must be 1..65535, got 0"), e.getMessage());
    }

    @Test
    void badListenIsAnErrorAtItsLine() {
        assertError("metrics: {listen: 9482}\n", 3, "metrics.listen", "expected HOST:PORT (e.g. 127.0.0.1:9482");
        assertError("metrics: {listen: 127.0.0.1}\n", 3, "metrics.listen", "expected HOST:PORT");
        assertError("metrics: {listen: \":9482\"}\n", 3, "metrics.listen", "expected HOST:PORT");
        assertError("metrics: {listen: \"127.0.0.1:\"}\n", 3, "metrics.listen", "expected HOST:PORT");
        assertError("metrics: {listen: \"127.0.0.1:0\"}\n", 3, "metrics.listen", "port must be 1..65535, got 0");
        assertError("metrics: {listen: \"127.0.0.1:65536\"}\n", 3, "metrics.listen", "port must be 1..65535");
        assertError("metrics: {listen: \"127.0.0.1:99999\"}\n", 3, "metrics.listen", "port must be 1..65535");
        assertError("metrics: {listen: \"http://127.0.0.1:9482\"}\n", 3, "metrics.listen", "expected HOST:PORT");
        assertError("metrics: {listen: \"::1:9482\"}\n", 3, "metrics.listen", "expected HOST:PORT");
        assertError("metrics: {listen: \"[127.0.0.1]:9482\"}\n", 3, "metrics.listen", "must be an IPv6 address");
        assertError("metrics: {listen: \"no-such-host.invalid:9482\"}\n", 3, "metrics.listen", "unknown host");
        assertError("metrics:\n  listen: 127.0.0.1:9482\n  port: 1\n", 5, "metrics.port",
                "unknown key; allowed keys: listen");
        assertError("metrics: [127.0.0.1:9482]\n", 3, "metrics", "expected a mapping");
        assertError("metrics: {port: 9482}\n", 3, "metrics.port", "unknown key; allowed keys: listen");
    }
}
