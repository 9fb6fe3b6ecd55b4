package dev.vswitch.core.it;

import dev.vswitch.testkit.Await;

import dev.vswitch.testkit.config.SwitchYaml;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Starts the switch as users run it: a separate JVM with bin/vswitch's options and classpath, and reads its log. */
public final class SwitchProcess
{
    private SwitchProcess()
    {
    }

    public static List<String> javaCommand(final Path config) throws IOException
    {
        final Path target = Path.of("target").toAbsolutePath();
        final String classpath = target.resolve("classes") + ":" +
            Files.readString(target.resolve("classpath.txt")).trim();
        final List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("@" + target.resolve("jvm.options"));
        cmd.addAll(List.of("-cp", classpath, "dev.vswitch.core.Main", "--config", config.toString()));
        return cmd;
    }

    /** Waits until the switch's log shows {@code text} ({@link Await#fileContains}). */
    public static void awaitLog(final Path log, final String text, final Duration timeout)
    {
        Await.fileContains(log, text, timeout);
    }

    /**
     * Writes a configuration of two vhost-user server ports (vm1, vm2, sockets in {@code dir}, PMD on CPU 1, stats
     * every second), starts the switch with its output in {@code log}, and waits until both ports listen.
     */
    static Process startTwoPorts(final Path dir, final Path log) throws IOException
    {
        final Path config = dir.resolve("switch.yaml");
        Files.writeString(config, SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2")
            .pmdCpu(1)
            .stats(1)
            .toString());
        final Process sw = new ProcessBuilder(javaCommand(config)).redirectErrorStream(true)
            .redirectOutput(log.toFile()).start();
        try
        {
            awaitLog(log, "[vm2] listening on", Duration.ofSeconds(60));
            return sw;
        }
        catch (final RuntimeException | Error ex)
        {
            sw.destroyForcibly();
            throw ex;
        }
    }

    /**
     * Attaches testpmd (mac forwarding, MACs {@code macPrefix}01 and {@code macPrefix}02) to the two ports of
     * {@link #startTwoPorts} and starts the loop; returns once the switch has forwarded unicast.
     */
    static Testpmd startLoop(final Path dir, final Path log, final String macPrefix) throws IOException
    {
        final Testpmd pmd = Testpmd.macForwarding(List.of(
            new Testpmd.Port(dir.resolve("vm1.sock"), macPrefix + "01", false),
            new Testpmd.Port(dir.resolve("vm2.sock"), macPrefix + "02", false)), null);
        try
        {
            pmd.awaitPrompt(Duration.ofSeconds(30));
            awaitLog(log, "[vm2] ring 1 (guest tx) started", Duration.ofSeconds(20));
            pmd.command("start tx_first 16");
            awaitLog(log, "unicast=", Duration.ofSeconds(10));
            return pmd;
        }
        catch (final RuntimeException | Error ex)
        {
            pmd.close();
            throw ex;
        }
    }
}
