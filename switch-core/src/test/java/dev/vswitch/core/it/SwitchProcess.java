package dev.vswitch.core.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Starts the switch as users run it: a separate JVM with bin/vswitch's options and classpath, and reads its log. */
final class SwitchProcess
{
    private SwitchProcess()
    {
    }

    static List<String> javaCommand(final Path config) throws IOException
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

    static void awaitLog(final Path log, final String text, final Duration timeout) throws IOException
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline)
        {
            if (Files.exists(log) && Files.readString(log).contains(text))
            {
                return;
            }
            Testpmd.sleep(100);
        }
        throw new AssertionError("switch log never showed '" + text + "':\n" +
            (Files.exists(log) ? Files.readString(log) : "(no log)"));
    }
}
