package dev.vswitch.core.it.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the guest tooling against a real vhost-user backend: DPDK testpmd with two net_vhost
 * ports in io forwarding (port 0 <-> port 1), one guest on each. Needs qemu-system-x86 and dpdk
 * installed; excluded from the default suite by its tag.
 */
@Tag("dpdk-reference")
class GuestOverDpdkVhostTest {

    private static final Duration BOOT = Duration.ofSeconds(60);

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void twoGuestsPingAndRunIperfThroughTestpmd(@TempDir Path dir) throws Exception {
        GuestImage.ensureBuilt(); // outside the timings below
        Path logs = Path.of("target", "guest-logs").toAbsolutePath();
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");

        try (Testpmd testpmd = Testpmd.start(a, b, logs.resolve("dpdk-testpmd.log"));
                QemuGuest server = QemuGuest.builder().name("server").socket(a).mac("52:54:00:00:00:01")
                        .ip("10.0.0.1/24").role(QemuGuest.Role.SERVER).peer("10.0.0.2")
                        .log(logs.resolve("dpdk-server.log")).echo(true).build();
                QemuGuest client = QemuGuest.builder().name("client").socket(b).mac("52:54:00:00:00:02")
                        .ip("10.0.0.2/24").role(QemuGuest.Role.CLIENT).peer("10.0.0.1").iperfSeconds(5)
                        .log(logs.resolve("dpdk-client.log")).echo(true).build()) {
            System.out.println("qemu: " + String.join(" ", server.command()));
            server.start();
            client.start();

            server.awaitLine("VSW-READY", BOOT);
            System.out.printf("server ready after %.1f s%n", server.uptime().toMillis() / 1000.0);
            client.awaitLine("VSW-READY", BOOT);
            System.out.printf("client ready after %.1f s%n", client.uptime().toMillis() / 1000.0);

            String ping = client.awaitLine("VSW-PING", Duration.ofSeconds(60));
            assertTrue(ping.startsWith("VSW-PING-OK 10.0.0.1"), ping);
            assertEquals("5", QemuGuest.value(ping, "rx"), ping);

            client.awaitLine("VSW-IPERF-BEGIN", Duration.ofSeconds(30));
            client.awaitLine("VSW-DONE", Duration.ofSeconds(90));
            // Present or not by now: a VSW-IPERF-FAIL shows up in the failure message's console tail.
            String iperf = client.awaitLine("VSW-IPERF-RESULT", Duration.ZERO);
            long sender = Long.parseLong(QemuGuest.value(iperf, "sender_bps"));
            long receiver = Long.parseLong(QemuGuest.value(iperf, "receiver_bps"));
            System.out.printf("iperf3 over DPDK testpmd net_vhost: sender %.1f Mbit/s, receiver %.1f Mbit/s%n",
                    sender / 1e6, receiver / 1e6);
            assertTrue(receiver > 0, iperf);

            server.awaitLine("VSW-IPERF-SERVED rc=0", Duration.ofSeconds(30));
            assertEquals(0, client.waitForExit(Duration.ofSeconds(30)));
            assertEquals(0, server.waitForExit(Duration.ofSeconds(30)));
            assertTrue(testpmd.isAlive(), "testpmd died, see " + testpmd.log);
        }
    }

    /** dpdk-testpmd with two net_vhost (vhost-user server) ports, io-forwarding between them. */
    private static final class Testpmd implements AutoCloseable {
        final Process process;
        final Path log;
        final String filePrefix;

        private Testpmd(Process process, Path log, String filePrefix) {
            this.process = process;
            this.log = log;
            this.filePrefix = filePrefix;
        }

        static Testpmd start(Path sock0, Path sock1, Path log) throws IOException, InterruptedException {
            Files.createDirectories(log.getParent());
            String prefix = "vswref" + ProcessHandle.current().pid(); // own DPDK runtime dir
            List<String> cmd = List.of("dpdk-testpmd", "-l", "0,1", "--no-pci", "--no-huge", "-m", "1024",
                    "--file-prefix", prefix,
                    "--vdev", "net_vhost0,iface=" + sock0 + ",queues=1",
                    "--vdev", "net_vhost1,iface=" + sock1 + ",queues=1",
                    "--", "--forward-mode=io", "--total-num-mbufs=16384", "--stats-period", "5");
            Process p;
            try {
                // stdin stays an open pipe; --stats-period keeps non-interactive testpmd running.
                p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            } catch (IOException e) {
                throw new IOException("cannot run dpdk-testpmd (apt-get install -y dpdk)", e);
            }
            Testpmd t = new Testpmd(p, log, prefix);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!(Files.exists(sock0) && Files.exists(sock1))) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    t.close();
                    fail("testpmd did not create " + sock0 + " and " + sock1 + ":\n" + Files.readString(log));
                }
                Thread.sleep(100);
            }
            return t;
        }

        boolean isAlive() {
            return process.isAlive();
        }

        @Override
        public void close() throws IOException {
            process.destroy(); // SIGTERM: testpmd prints its accumulated forward statistics and exits
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
            deleteRecursively(Path.of("/var/run/dpdk", filePrefix));
            List<String> lines = Files.readAllLines(log);
            int from = 0;
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).contains("Forward statistics for port 0")) {
                    from = i;
                }
            }
            lines.subList(from, lines.size()).stream()
                    .filter(l -> l.contains("-packets") || l.contains("statistics for"))
                    .forEach(l -> System.out.println("[testpmd] " + l.trim()));
        }

        private static void deleteRecursively(Path dir) throws IOException {
            if (!Files.isDirectory(dir)) {
                return;
            }
            try (Stream<Path> paths = Files.walk(dir)) {
                for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
