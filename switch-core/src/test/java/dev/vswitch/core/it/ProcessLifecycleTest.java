package dev.vswitch.core.it;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
    void everyErrorOfABadConfigurationIsReportedBeforeExiting2() throws Exception
    {
        final Path config = dir.resolve("bad.yaml");
        Files.writeString(config, "ports:\n  - {name: vm1, type: vhost-user, socket: " + dir.resolve("vm1.sock") +
            ", mtu: 9}\n  - {name: vm2, type: vhost-user, socket: " + dir.resolve("nope/vm2.sock") +
            "}\ndatapath: {burst: 0}\n");
        final Process p = new ProcessBuilder(SwitchProcess.javaCommand(config)).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("vswitch: configuration error: " + config + ":2: ports[0].mtu: must be between"), out);
        assertTrue(out.contains("vswitch: configuration error: " + config + ":3: ports[1].socket: directory "), out);
        assertTrue(out.contains("vswitch: configuration error: " + config + ":4: datapath.burst: must be between"),
            out);
        assertTrue(out.contains("vswitch: 3 configuration errors; nothing started"), out);
        assertFalse(Files.exists(dir.resolve("vm1.sock")), "nothing was bound");
    }

    @Test
    void versionAndUsageErrorsFromTheProcessItself() throws Exception
    {
        final java.util.List<String> cmd = SwitchProcess.javaCommand(dir.resolve("unused.yaml"));
        final java.util.List<String> base = cmd.subList(0, cmd.size() - 2); // without "--config FILE"
        final java.util.List<String> version = new java.util.ArrayList<>(base);
        version.add("--version");
        Process p = new ProcessBuilder(version).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.matches("(?s)vswitch \\S+ \\(commit [0-9a-f]{7,}.*"), out);

        final java.util.List<String> missing = new java.util.ArrayList<>(base);
        missing.add("--config");
        p = new ProcessBuilder(missing).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("Missing required parameter for option '--config' (FILE)"), out);
    }

    @Test
    void servesAFrontEndAndStopsCleanlyOnSigterm() throws Exception
    {
        final Path log = dir.resolve("switch.log");
        final Process sw = SwitchProcess.startTwoPorts(dir, log);
        try
        {
            assertTrue(Files.exists(dir.resolve("vm1.sock")) && Files.exists(dir.resolve("vm2.sock")));
            try (Testpmd pmd = SwitchProcess.startLoop(dir, log, "02:00:00:00:03:"))
            {
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
