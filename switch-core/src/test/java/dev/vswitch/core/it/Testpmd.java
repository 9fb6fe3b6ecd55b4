package dev.vswitch.core.it;

import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * DPDK testpmd as a real vhost-user front end (virtio-user ports), driven interactively through its stdin. Flags
 * are the ones test-environment.md records as working here: no hugepages, forwarding lcore on CPU 0 so it does not
 * share a CPU with the switch's PMD on CPU 1. Run under stdbuf: piped, its stdio would hold stats output back.
 */
public final class Testpmd implements AutoCloseable
{
    private static final AtomicInteger PREFIX = new AtomicInteger();
    private static final Pattern RX = Pattern.compile("RX-packets:\\s+(\\d+)");
    private static final Pattern TX = Pattern.compile("TX-packets:\\s+(\\d+)");
    private static final Pattern RX_PPS = Pattern.compile("Rx-pps:\\s+(\\d+)");
    private static final Pattern TX_PPS = Pattern.compile("Tx-pps:\\s+(\\d+)");
    private static final Pattern TX_DROPPED = Pattern.compile("TX-dropped:\\s+(\\d+)");

    private final Process process;
    private final Writer stdin;
    private final StringBuffer output = new StringBuffer();
    private final int portCount;

    /** Per-port counters from one "show port stats all". */
    public record PortStats(long rxPackets, long txPackets, long rxPps, long txPps) {}

    /** A virtio-user port: socket path, MAC, and whether testpmd is the socket server (server=1). */
    public record Port(Path socket, String mac, boolean server) {}

    private Testpmd(final List<String> command, final int portCount) throws IOException
    {
        this.portCount = portCount;
        process = new ProcessBuilder(command).redirectErrorStream(true).start();
        stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        final Thread reader = new Thread(() ->
        {
            // Raw chars, not lines: the "testpmd> " prompt has no newline after it.
            try (InputStreamReader r = new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))
            {
                final char[] buf = new char[8192];
                int n;
                while ((n = r.read(buf)) > 0)
                {
                    output.append(buf, 0, n);
                }
            }
            catch (final IOException ignored)
            {
                // process ended
            }
        }, "testpmd-out");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Starts testpmd in mac-forwarding mode over the given virtio-user ports, each port's peer being the next
     * port's MAC (pairs 0-1, 2-3, ...), so frames circle between the pairs through the switch.
     */
    public static Testpmd macForwarding(final List<Port> ports, final String extraTestpmdArgs) throws IOException
    {
        return start(ports, "mac", extraTestpmdArgs);
    }

    /** testpmd in any forwarding mode (e.g. txonly) over the given virtio-user ports; peers as for mac mode. */
    public static Testpmd start(final List<Port> ports, final String forwardMode, final String extraTestpmdArgs)
        throws IOException
    {
        return start(ports, forwardMode, "", extraTestpmdArgs);
    }

    /** As {@link #start(List, String, String)}, with extra EAL arguments (before the "--"), e.g. log levels. */
    public static Testpmd start(final List<Port> ports, final String forwardMode, final String extraEalArgs,
        final String extraTestpmdArgs) throws IOException
    {
        final List<String> cmd = new ArrayList<>(List.of("stdbuf", "-oL", "dpdk-testpmd", "--lcores", "0@1,1@0", "--no-pci",
            "--no-huge", "-m", "1024", "--file-prefix", "vsw" + ProcessHandle.current().pid() + "-" +
            PREFIX.incrementAndGet(), "--log-level", "lib.eal:error"));
        if (!extraEalArgs.isBlank())
        {
            cmd.addAll(List.of(extraEalArgs.trim().split("\\s+")));
        }
        for (int i = 0; i < ports.size(); i++)
        {
            final Port p = ports.get(i);
            cmd.add("--vdev");
            cmd.add("net_virtio_user" + i + ",path=" + p.socket() + ",queues=1,mac=" + p.mac() +
                (p.server() ? ",server=1" : ""));
        }
        cmd.addAll(List.of("--", "-i", "--total-num-mbufs=16384", "--forward-mode=" + forwardMode));
        for (int i = 0; i + 1 < ports.size(); i += 2)
        {
            cmd.add("--eth-peer=" + i + "," + ports.get(i + 1).mac());
            cmd.add("--eth-peer=" + (i + 1) + "," + ports.get(i).mac());
        }
        if (extraTestpmdArgs != null && !extraTestpmdArgs.isBlank())
        {
            cmd.addAll(List.of(extraTestpmdArgs.trim().split("\\s+")));
        }
        return new Testpmd(cmd, ports.size());
    }

    public void awaitPrompt(final Duration timeout)
    {
        awaitOutput("testpmd>", timeout);
    }

    public void command(final String line) throws IOException
    {
        stdin.write(line + "\n");
        stdin.flush();
    }

    /** Sends "show port stats all" and parses every port's block. */
    public List<PortStats> stats(final Duration timeout) throws IOException
    {
        final int mark = output.length();
        command("show port stats all");
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline)
        {
            final String tail = output.substring(mark);
            if (count(tail, "Tx-bps") >= portCount)
            {
                return parse(tail);
            }
            sleep(50);
        }
        throw new AssertionError("testpmd printed no stats within " + timeout + "; output tail:\n" + tail(3000));
    }

    /**
     * Frames testpmd's forwarding could not hand to a port (TX-dropped of "show fwd stats all", summed over all
     * ports): in a loop, the frames lost while the device under test was away.
     */
    public long txDropped(final Duration timeout) throws IOException
    {
        final int mark = output.length();
        command("show fwd stats all");
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline)
        {
            final String tail = output.substring(mark);
            final int acc = tail.indexOf("Accumulated forward statistics");
            if (acc >= 0 && tail.indexOf("TX-total", acc) >= 0)
            {
                final Matcher m = TX_DROPPED.matcher(tail.substring(acc));
                return m.find() ? Long.parseLong(m.group(1)) : -1;
            }
            sleep(20);
        }
        throw new AssertionError("testpmd printed no forward stats within " + timeout + ":\n" + tail(3000));
    }

    /** RX-packets summed over all ports, from a fresh "show port stats all". */
    public long rxTotal(final Duration timeout) throws IOException
    {
        long sum = 0;
        for (final PortStats s : stats(timeout))
        {
            sum += s.rxPackets();
        }
        return sum;
    }

    private List<PortStats> parse(final String text)
    {
        final List<PortStats> stats = new ArrayList<>();
        final String[] blocks = text.split("NIC statistics for port");
        for (int i = 1; i < blocks.length && stats.size() < portCount; i++)
        {
            stats.add(new PortStats(first(RX, blocks[i]), first(TX, blocks[i]), first(RX_PPS, blocks[i]),
                first(TX_PPS, blocks[i])));
        }
        return stats;
    }

    private static long first(final Pattern p, final String s)
    {
        final Matcher m = p.matcher(s);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    private static int count(final String s, final String what)
    {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1))
        {
            n++;
        }
        return n;
    }

    public void awaitOutput(final String text, final Duration timeout)
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline)
        {
            if (output.indexOf(text) >= 0)
            {
                return;
            }
            if (!process.isAlive())
            {
                throw new AssertionError("testpmd exited (" + process.exitValue() + "):\n" + tail(3000));
            }
            sleep(50);
        }
        throw new AssertionError("testpmd did not print '" + text + "' within " + timeout + ":\n" + tail(3000));
    }

    public String tail(final int chars)
    {
        final String s = output.toString();
        return s.substring(Math.max(0, s.length() - chars));
    }

    /** Quits testpmd (stop + quit), killing it if it does not exit promptly. */
    @Override
    public void close()
    {
        try
        {
            if (process.isAlive())
            {
                command("stop");
                command("quit");
            }
        }
        catch (final IOException ignored)
        {
            // already gone
        }
        try
        {
            if (!process.waitFor(10, TimeUnit.SECONDS))
            {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
        catch (final InterruptedException ex)
        {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        closeQuietly(process.getOutputStream());
        closeQuietly(process.getInputStream());
        closeQuietly(process.getErrorStream());
    }

    private static void closeQuietly(final java.io.Closeable c)
    {
        try
        {
            c.close();
        }
        catch (final IOException ignored)
        {
            // nothing to do
        }
    }

    static void sleep(final long millis)
    {
        try
        {
            Thread.sleep(millis);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AssertionError(ex);
        }
    }
}
