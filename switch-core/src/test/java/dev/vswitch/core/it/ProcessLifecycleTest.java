package dev.vswitch.core.it;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The switch as users run it: a separate JVM started the way bin/vswitch starts it. A bad configuration is refused
 * with the field and line and nothing is bound; a good one logs its ports, serves a real front end, and on
 * SIGTERM stops cleanly (exit 0) with its sockets removed.
 */
class ProcessLifecycleTest
{
    @TempDir
    Path dir;

    @Test
    void badConfigurationIsRefusedWithFieldAndLineAndNothingStarts() throws Exception
    {
        final Path config = dir.resolve("bad.yaml");
        Files.writeString(config, "ports:\n  - name: vm1\n    type: vhost-user\n    socket: " +
            dir.resolve("vm1.sock") + "\n    sokcet: typo\n");
        final Process p = new ProcessBuilder(SwitchProcess.javaCommand(config)).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("bad.yaml:5") && out.contains("ports[0].sokcet") && out.contains("unknown key"), out);
        assertFalse(Files.exists(dir.resolve("vm1.sock")), "nothing was bound");
    }

    @Test
    void servesAFrontEndAndStopsCleanlyOnSigterm() throws Exception
    {
        final Path config = dir.resolve("switch.yaml");
        Files.writeString(config, "ports:\n" +
            "  - {name: vm1, type: vhost-user, socket: " + dir.resolve("vm1.sock") + "}\n" +
            "  - {name: vm2, type: vhost-user, socket: " + dir.resolve("vm2.sock") + "}\n" +
            "datapath: {cpus: [1]}\nstats: {interval-seconds: 1}\n");
        final Path log = dir.resolve("switch.log");
        final Process sw = new ProcessBuilder(SwitchProcess.javaCommand(config)).redirectErrorStream(true)
            .redirectOutput(log.toFile()).start();
        try
        {
            SwitchProcess.awaitLog(log, "[vm2] listening on", Duration.ofSeconds(60));
            assertTrue(Files.exists(dir.resolve("vm1.sock")) && Files.exists(dir.resolve("vm2.sock")));
            try (Testpmd pmd = Testpmd.macForwarding(List.of(
                new Testpmd.Port(dir.resolve("vm1.sock"), "02:00:00:00:03:01", false),
                new Testpmd.Port(dir.resolve("vm2.sock"), "02:00:00:00:03:02", false)), null))
            {
                pmd.awaitPrompt(Duration.ofSeconds(30));
                SwitchProcess.awaitLog(log, "[vm2] ring 1 (guest tx) started", Duration.ofSeconds(20));
                pmd.command("start tx_first 16");
                SwitchProcess.awaitLog(log, "unicast=", Duration.ofSeconds(10));
                // Stop the switch while the front end is still attached and traffic flows.
                new ProcessBuilder("kill", "-TERM", Long.toString(sw.pid())).start().waitFor();
                assertTrue(sw.waitFor(30, TimeUnit.SECONDS), "switch exits within 30 s of SIGTERM");
            }
            final String out = Files.readString(log);
            assertEquals(0, sw.exitValue(), out);
            for (final String expected : new String[] {
                "[vm1] front end connected", "features negotiated", "[vm1] ring 0 (guest rx) started",
                "[vm1] up   rx=", "SIGTERM received", "device reset, memory unmapped", "[switch] stopped" })
            {
                assertTrue(out.contains(expected), "log has '" + expected + "':\n" + out);
            }
            assertFalse(Files.exists(dir.resolve("vm1.sock")), "vm1 socket removed");
            assertFalse(Files.exists(dir.resolve("vm2.sock")), "vm2 socket removed");
        }
        finally
        {
            sw.destroyForcibly();
        }
    }
}
