package dev.vswitch.core.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** A network namespace the test owns: commands run inside it, and it is deleted (with its links) on close. */
public final class Netns implements AutoCloseable
{
    private final String name;

    public record Result(int exitCode, String output)
    {
        public Result check(final String what)
        {
            if (exitCode != 0)
            {
                throw new AssertionError(what + " failed (" + exitCode + "): " + output);
            }
            return this;
        }
    }

    private Netns(final String name)
    {
        this.name = name;
    }

    public static Netns create() throws IOException
    {
        final Netns ns = new Netns("vswt-" + ThreadLocalRandom.current().nextInt(100_000, 1_000_000));
        host(60, "ip", "netns", "add", ns.name).check("ip netns add");
        return ns;
    }

    public String name()
    {
        return name;
    }

    /** Moves a host link into this namespace. */
    public void adopt(final String ifname) throws IOException
    {
        host(10, "ip", "link", "set", ifname, "netns", name).check("move " + ifname + " into " + name);
    }

    public Result exec(final int timeoutSeconds, final String... command) throws IOException
    {
        final List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name));
        cmd.addAll(List.of(command));
        return host(timeoutSeconds, cmd.toArray(new String[0]));
    }

    public static Result host(final int timeoutSeconds, final String... command) throws IOException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try
        {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS))
            {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                return new Result(-1, "timed out after " + timeoutSeconds + " s: " + String.join(" ", command));
            }
        }
        catch (final InterruptedException ex)
        {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(ex);
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Override
    public void close() throws IOException
    {
        host(30, "ip", "netns", "del", name);
    }
}
