package dev.vswitch.tap;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PmdAgent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.stages.ForwardStage;
import dev.vswitch.pipeline.stages.MacLearningStage;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.testkit.Await;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Real TCP through the switch: two taps, each moved into a network namespace of its own (server 10.98.0.1/24,
 * client 10.98.0.2/24), joined by a real pipeline (classify, MAC learning, forward) on a real PMD thread, with iperf3
 * pushing data from the client to the server. Namespaces, taps, processes and the PMD are all gone after each test,
 * failed or not.
 */
class TapOffloadSwitchTest
{
    private static final int MTU = 1500;
    private static final int BURST = 32;
    private static final String SERVER_IP = "10.98.0.1";
    private static final String CLIENT_IP = "10.98.0.2";
    private static final Pattern RECEIVED_BITRATE =
        Pattern.compile("\"sum_received\"\\s*:\\s*\\{[^}]*?\"bits_per_second\"\\s*:\\s*([0-9.eE+]+)");

    private final String suffix = Integer.toString(ThreadLocalRandom.current().nextInt(100_000, 1_000_000));
    private final String serverIf = "vswos" + suffix;
    private final String clientIf = "vswoc" + suffix;
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private final List<Path> files = new ArrayList<>();
    private final List<Throwable> pmdErrors = new CopyOnWriteArrayList<>();
    private TapPort server;
    private TapPort client;
    private MacTable fdb;
    private Stage[] stages;
    private AgentRunner runner;

    @AfterEach
    void cleanUp() throws IOException
    {
        for (final Process p : processes)
        {
            p.destroyForcibly();
        }
        for (final Process p : processes)
        {
            try
            {
                p.waitFor(5, TimeUnit.SECONDS);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
        if (null != runner)
        {
            runner.close();   // stops and joins the PMD thread: nothing polls the ports after this
        }
        if (null != stages)
        {
            for (final Stage stage : stages)
            {
                stage.close();
            }
        }
        if (null != server)
        {
            server.close();
        }
        if (null != client)
        {
            client.close();
        }
        if (null != fdb)
        {
            fdb.close();
        }
        for (final String ns : namespaces)
        {
            Shell.quietly("ip", "netns", "del", ns);
        }
        for (final Path f : files)
        {
            Files.deleteIfExists(f);
        }
    }

    /** Opens both taps, puts each into a fresh namespace with its address, and starts the PMD switching them. */
    private void connect(final boolean serverOffloads, final boolean clientOffloads) throws IOException
    {
        server = TapPort.open(0, "server", serverIf, MTU, "02:00:00:00:98:01", false, BURST, serverOffloads);
        client = TapPort.open(1, "client", clientIf, MTU, "02:00:00:00:98:02", false, BURST, clientOffloads);
        intoNamespace("vswos-" + suffix, serverIf, SERVER_IP);
        intoNamespace("vswoc-" + suffix, clientIf, CLIENT_IP);

        final SwitchPort[] ports = {server, client};
        fdb = MacTable.inMemory(1024);
        stages = new Stage[]{new ClassifyStage(), new MacLearningStage(fdb), new ForwardStage(fdb, ports)};
        final PmdAgent pmd = new PmdAgent("pmd", ports, stages, 1024, BURST);
        runner = new AgentRunner(new BackoffIdleStrategy(), pmdErrors::add, null, pmd);
        AgentRunner.startOnThread(runner);
    }

    private void intoNamespace(final String ns, final String ifname, final String address) throws IOException
    {
        Shell.run("ip", "netns", "add", ns);
        namespaces.add(ns);
        Shell.run("ip", "link", "set", ifname, "netns", ns);
        try
        {
            Shell.run("ip", "netns", "exec", ns, "sh", "-c",
                "echo 1 > /proc/sys/net/ipv6/conf/" + ifname + "/disable_ipv6");
        }
        catch (final IOException ex)
        {
            // a kernel without IPv6: nothing to silence
        }
        Shell.run("ip", "-n", ns, "addr", "add", address + "/24", "dev", ifname);
        Shell.run("ip", "-n", ns, "link", "set", ifname, "up");
        Shell.run("ip", "-n", ns, "link", "set", "lo", "up");
    }

    private Path tempFile(final String prefix) throws IOException
    {
        final Path f = Files.createTempFile(prefix, ".log");
        files.add(f);
        return f;
    }

    private Process start(final Path output, final String... command) throws IOException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).redirectOutput(output.toFile())
            .start();
        processes.add(p);
        return p;
    }

    /** iperf3's JSON report of one run from the client namespace to the server namespace. */
    private static final class Run
    {
        final int exitCode;
        final String json;

        Run(final int exitCode, final String json)
        {
            this.exitCode = exitCode;
            this.json = json;
        }

        double receivedBitsPerSecond()
        {
            final Matcher m = RECEIVED_BITRATE.matcher(json);
            assertTrue(m.find(), "no sum_received in iperf3's report: " + json);
            return Double.parseDouble(m.group(1));
        }
    }

    /** One-shot iperf3 server in the server namespace (foreground), then a client run of {@code seconds}. */
    private Run iperf(final int seconds, final String... extraClientArgs) throws Exception
    {
        final Path serverLog = tempFile("vswo-iperf3-server");
        start(serverLog, "ip", "netns", "exec", namespaces.get(0), "iperf3", "-s", "-1", "-B", SERVER_IP,
            "--forceflush");
        Await.fileContains(serverLog, "listening", Duration.ofSeconds(10));   // the iperf3 server started
        final Path clientLog = tempFile("vswo-iperf3-client");
        final List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", namespaces.get(1), "iperf3",
            "-c", SERVER_IP, "-t", Integer.toString(seconds), "-J"));
        command.addAll(List.of(extraClientArgs));
        final Process c = start(clientLog, command.toArray(new String[0]));
        assertTrue(c.waitFor(seconds + 30L, TimeUnit.SECONDS), "iperf3 client did not finish");
        return new Run(c.exitValue(), Files.readString(clientLog, StandardCharsets.UTF_8));
    }

    private void assertNoMalformedFrames()
    {
        for (final TapPort port : new TapPort[]{server, client})
        {
            final PortCounters c = port.counters();
            assertEquals(0, c.drops(DropReason.BAD_HEADER), port.name() + ": " + c.summary());
            assertEquals(0, c.drops(DropReason.TOO_BIG), port.name() + ": " + c.summary());
            assertEquals(0, c.drops(DropReason.RUNT), port.name() + ": " + c.summary());
            assertEquals(0, port.txErrors(), port.name() + ": errno " + port.lastErrno());
            assertEquals(0, port.rxErrors(), port.name() + ": errno " + port.lastErrno());
        }
        assertEquals(List.of(), pmdErrors);
    }

    private static String mbits(final double bitsPerSecond)
    {
        return String.format("%.0f Mbit/s", bitsPerSecond / 1e6);
    }

    private void report(final String what, final double bps)
    {
        System.out.println(what + ": iperf3 received " + mbits(bps) + "; server " + server.counters().summary() +
            "; client " + client.counters().summary());
    }

    @Test
    void tcpSuperFramesCrossTheSwitchUnsegmented() throws Exception
    {
        connect(true, true);
        final Run run = iperf(3);
        assertEquals(0, run.exitCode, run.json);
        final double bps = run.receivedBitsPerSecond();
        report("offloads on", bps);
        assertTrue(bps > 100e6, "bitrate " + mbits(bps));

        // The client's kernel handed the switch TCP super-frames, and the server's kernel took them whole.
        assertTrue(client.counters().get(PortCounters.RX_GSO) > 0, client.counters().summary());
        assertTrue(server.counters().get(PortCounters.TX_GSO) > 0, server.counters().summary());
        assertEquals(0, server.counters().get(PortCounters.TX_SEGMENTED));
        assertEquals(0, server.counters().get(PortCounters.TX_CSUM_FILLED));
        assertEquals(0, client.counters().get(PortCounters.TX_SEGMENTED));
        assertEquals(0, client.counters().get(PortCounters.TX_CSUM_FILLED));
        assertNoMalformedFrames();
    }

    @Test
    void withoutOffloadsEveryFrameFitsTheMtu() throws Exception
    {
        connect(false, false);
        final Run run = iperf(3);
        assertEquals(0, run.exitCode, run.json);
        final double bps = run.receivedBitsPerSecond();
        report("offloads off", bps);
        assertTrue(bps > 100e6, "bitrate " + mbits(bps));

        for (final TapPort port : new TapPort[]{server, client})
        {
            final PortCounters c = port.counters();
            assertEquals(0, c.get(PortCounters.RX_GSO), port.name() + ": " + c.summary());
            assertEquals(0, c.get(PortCounters.TX_GSO), port.name() + ": " + c.summary());
            assertEquals(0, c.get(PortCounters.TX_SEGMENTED), port.name() + ": " + c.summary());
            assertEquals(0, c.get(PortCounters.TX_CSUM_FILLED), port.name() + ": " + c.summary());
        }
        assertNoMalformedFrames();
    }

    /**
     * The client's tap has offloads, the server's has not: the switch completes the checksums and cuts the
     * super-frames the client's kernel left to the hardware before the server's kernel sees them.
     */
    @Test
    void theSwitchFinishesOffloadsForATapWithout() throws Exception
    {
        connect(false, true);
        final Run run = iperf(3);
        assertEquals(0, run.exitCode, run.json);
        final double bps = run.receivedBitsPerSecond();
        report("client offloads on, server off", bps);
        assertTrue(bps > 100e6, "bitrate " + mbits(bps));

        assertTrue(client.counters().get(PortCounters.RX_GSO) > 0, client.counters().summary());
        final PortCounters s = server.counters();
        assertTrue(s.get(PortCounters.TX_SEGMENTED) > 0, s.summary());
        assertTrue(s.get(PortCounters.TX_CSUM_FILLED) > 0, s.summary());
        assertEquals(0, s.get(PortCounters.TX_GSO), s.summary());
        assertNoMalformedFrames();
    }

    /** The other way round: the client's kernel finishes every frame, the server's tap is handed plain frames. */
    @Test
    void plainFramesReachATapWithOffloads() throws Exception
    {
        connect(true, false);
        final Run run = iperf(2);
        assertEquals(0, run.exitCode, run.json);
        final double bps = run.receivedBitsPerSecond();
        report("client offloads off, server on", bps);
        assertTrue(bps > 100e6, "bitrate " + mbits(bps));
        assertEquals(0, client.counters().get(PortCounters.RX_GSO));
        assertEquals(0, server.counters().get(PortCounters.TX_GSO));
        // The server's acknowledgements leave its kernel with partial checksums: completed for the client.
        assertTrue(client.counters().get(PortCounters.TX_CSUM_FILLED) > 0, client.counters().summary());
        assertNoMalformedFrames();
    }
}
