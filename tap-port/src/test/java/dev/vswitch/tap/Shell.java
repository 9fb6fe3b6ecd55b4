package dev.vswitch.tap;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the few commands tests need for namespaces (iproute2 and busybox), with a timeout and the output kept. */
final class Shell
{
    private Shell()
    {
    }

    /** Runs {@code command}, failing with its output unless it exits 0 within 30 s; returns stdout+stderr. */
    static String run(final String... command) throws IOException
    {
        // Output goes to a file, not a pipe, so a hung command cannot block us past the timeout.
        final Path log = Files.createTempFile("vswt-cmd", ".log");
        try
        {
            final Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(log.toFile()).start();
            try
            {
                if (!process.waitFor(30, TimeUnit.SECONDS))
                {
                    process.destroyForcibly();
                    throw new IOException(String.join(" ", command) + ": timed out");
                }
            }
            catch (final InterruptedException ex)
            {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException(String.join(" ", command) + ": interrupted", ex);
            }
            final String output = Files.readString(log, StandardCharsets.UTF_8);
            if (process.exitValue() != 0)
            {
                throw new IOException(String.join(" ", command) + ": exit " + process.exitValue() + ": " + output);
            }
            return output;
        }
        finally
        {
            Files.deleteIfExists(log);
        }
    }

    /** Like {@link #run} for cleanup: failures are reported on stderr, never thrown. */
    static void quietly(final String... command)
    {
        try
        {
            run(command);
        }
        catch (final IOException ex)
        {
            System.err.println("cleanup: " + ex.getMessage());
        }
    }

    /** Starts {@code command} in the background, output discarded. */
    static Process start(final List<String> command) throws IOException
    {
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    }

    /** busybox ping if busybox is installed (the test script installs it), else the system ping. */
    static List<String> ping()
    {
        for (final String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":"))
        {
            if (new File(dir, "busybox").canExecute())
            {
                return List.of("busybox", "ping");
            }
        }
        return List.of("ping");
    }
}
