package dev.vswitch.core.it.guest;

import dev.vswitch.core.it.SwitchProcess;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The switch is restarted under two running Linux guests, which are not: both QEMUs own their sockets
 * ({@code server=on}), the switch's ports are in client mode. Ping and iperf3 through the switch, SIGTERM the
 * switch process, start a new one, and ping and iperf3 again from the same guests (the client starts pinging while
 * no switch runs). The guests' virtio-net drivers
 * must carry on: no NETDEV WATCHDOG (a TX queue the back end stopped serving), no stuck queue.
 */
class GuestsSurviveSwitchRestartTest
{
    private static final Duration BOOT = Duration.ofSeconds(90);

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void guestsPingAndRunIperfAgainAfterTheSwitchRestarts(@TempDir final Path dir) throws Exception
    {
        GuestImage.ensureBuilt();
        final Path logs = Path.of("target", "guest-logs").toAbsolutePath();
        Files.createDirectories(logs);
        final Path config = dir.resolve("switch.yaml");
        Files.writeString(config, SwitchYaml.create()
            .vhostUser("vm1", dir.resolve("q1.sock"), "mode", "client", "reconnect-ms", 200)
            .vhostUser("vm2", dir.resolve("q2.sock"), "mode", "client", "reconnect-ms", 200)
            .fdb("file", dir.resolve("fdb.map"))
            .pmdCpu(1)
            .stats(0)
            .toString());
        Process sw = null;
        try (QemuGuest server = QemuGuest.builder().name("restart-server").socket(dir.resolve("q1.sock"))
                 .qemuIsServer(true).mac("52:54:00:00:40:01").ip("10.0.0.1/24").role(QemuGuest.Role.SERVER)
                 .peer("10.0.0.2").kernelArgs("serve=2").log(logs.resolve("restart-server.log")).build();
             QemuGuest client = QemuGuest.builder().name("restart-client").socket(dir.resolve("q2.sock"))
                 .qemuIsServer(true).mac("52:54:00:00:40:02").ip("10.0.0.2/24").role(QemuGuest.Role.CLIENT)
                 .peer("10.0.0.1").iperfSeconds(4).kernelArgs("rounds=2").log(logs.resolve("restart-client.log"))
                 .build())
        {
            server.start();
            client.start();
            sw = startSwitch(config, dir.resolve("switch-1.log"));
            server.awaitLine("VSW-READY", BOOT);
            client.awaitLine("VSW-READY", BOOT);
            final List<String> results = new ArrayList<>();
            results.add(round(client, 0));
            client.awaitLine("VSW-ROUND-DONE n=1", Duration.ofSeconds(30));
            server.awaitLine("VSW-IPERF-SERVED rc=0 n=1", Duration.ofSeconds(30));

            // Restart the switch; the guests keep running.
            final long t0 = System.nanoTime();
            new ProcessBuilder("kill", "-TERM", Long.toString(sw.pid())).start().waitFor();
            assertTrue(sw.waitFor(30, TimeUnit.SECONDS), "the old switch exits");
            assertEquals(0, sw.exitValue());
            // The client starts its second round now, with no switch: it pings into the void (its TX chains wait in
            // the ring) until the new switch picks them up.
            final int mark = client.lineCount();
            client.typeLine("go");
            final Path log2 = dir.resolve("switch-2.log");
            sw = startSwitch(config, log2);
            awaitLog(log2, "[vm1] ring 1 (guest tx) started", Duration.ofSeconds(60));
            awaitLog(log2, "[vm2] ring 1 (guest tx) started", Duration.ofSeconds(60));
            System.out.printf("switch restarted under the guests: rings running again %d ms after SIGTERM%n",
                (System.nanoTime() - t0) / 1_000_000);

            results.add(round(client, mark));
            server.awaitLine("VSW-IPERF-SERVED rc=0", Duration.ofSeconds(30));
            client.awaitLine("VSW-DONE", mark, Duration.ofSeconds(30));
            assertEquals(0, client.waitForExit(Duration.ofSeconds(30)));
            assertEquals(0, server.waitForExit(Duration.ofSeconds(30)));
            for (final QemuGuest g : List.of(server, client))
            {
                for (final String bad : List.of("NETDEV WATCHDOG", "transmit queue", "BUG:", "Oops"))
                {
                    assertFalse(g.hasLine(bad), g.name() + " console shows '" + bad + "':\n" + g.tail(40));
                }
            }
            final String switchLog = Files.readString(log2, StandardCharsets.UTF_8);
            final String recovery = switchLog.lines().filter(l -> l.contains(" recovered: ") ||
                l.contains(" started: size")).reduce("", (a, b) -> a + "\n  " + b);
            System.out.println("through the switch before / after its restart: " + results + "\nnew switch rings:" +
                recovery);
        }
        finally
        {
            if (sw != null)
            {
                sw.destroy();
                sw.waitFor(30, TimeUnit.SECONDS);
                sw.destroyForcibly();
            }
        }
    }

    /** One client round from console line {@code from}: ping 5/5, then an iperf3 transfer; returns a summary. */
    private static String round(final QemuGuest client, final int from)
    {
        final String ping = client.awaitLine("VSW-PING", from, Duration.ofSeconds(60));
        assertTrue(ping.contains("VSW-PING-OK 10.0.0.1") && "5".equals(QemuGuest.value(ping, "rx")), ping);
        final String result = client.awaitLine("VSW-IPERF-RESULT", from, Duration.ofSeconds(90));
        final long receiver = Long.parseLong(QemuGuest.value(result, "receiver_bps"));
        assertTrue(receiver > 1_000_000, "a real TCP transfer completed: " + result);
        return String.format("ping %s, iperf3 %.1f Mbit/s", QemuGuest.value(ping, "rtt_min/avg/max"), receiver / 1e6);
    }

    private static Process startSwitch(final Path config, final Path log) throws IOException
    {
        return new ProcessBuilder(SwitchProcess.javaCommand(config)).redirectErrorStream(true)
            .redirectOutput(log.toFile()).start();
    }

    private static void awaitLog(final Path log, final String text, final Duration timeout) throws IOException
    {
        SwitchProcess.awaitLog(log, text, timeout);
    }
}
