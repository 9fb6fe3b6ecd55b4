package dev.vswitch.core;

import dev.vswitch.core.config.ConfigException;
import dev.vswitch.core.config.ConfigLoader;
import dev.vswitch.core.config.SwitchConfig;
import dev.vswitch.core.control.ControlPlane;
import dev.vswitch.core.control.ControlServer;
import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.spi.StageSettingsException;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * {@code vswitch [--config FILE] [--lock FILE] [--version] [--help]}: runs the switch until SIGTERM or SIGINT. Exit codes: 0 clean
 * stop, 2 bad configuration or usage, 1 failure to start.
 */
public final class Main
{
    public static final Path DEFAULT_CONFIG = Path.of("config", "switch.yaml");

    private Main()
    {
    }

    /** The command line: picocli parses it, so a flag without its value or an unknown one is a clear usage error. */
    @Command(name = "vswitch", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class,
        description = "Runs the switch until SIGTERM or SIGINT.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:clean stop", "1:failed to start", "2:bad configuration or usage"})
    static final class Options
    {
        @Option(names = {"-c", "--config"}, paramLabel = "FILE",
            description = "YAML configuration (default: config/switch.yaml)")
        Path config;

        @Option(names = "--lock", paramLabel = "FILE",
            description = {"Held while running. A second switch started with the same lock warms up, waits, and",
                "takes over when the first one stops (upgrade by handover: see the README)."})
        Path lock;
    }

    /**
     * Parses {@code args}; returns the options to run with, or null when the process should exit with
     * {@code exit[0]} (help and version printed to {@code out}, usage errors to {@code err}).
     */
    static Options parse(final String[] args, final PrintWriter out, final PrintWriter err, final int[] exit)
    {
        final Options options = new Options();
        final CommandLine cli = new CommandLine(options).setOut(out).setErr(err);
        try
        {
            final CommandLine.ParseResult result = cli.parseArgs(args);
            if (CommandLine.printHelpIfRequested(result))
            {
                exit[0] = 0;
                return null;
            }
            return options;
        }
        catch (final CommandLine.ParameterException ex)
        {
            err.println("vswitch: " + ex.getMessage());
            err.println("usage: vswitch [--config FILE] [--lock FILE] [--version] [--help]");
            err.flush();
            exit[0] = 2;
            return null;
        }
    }

    public static void main(final String[] args)
    {
        final int[] exit = new int[1];
        final Options options = parse(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true),
            exit);
        if (options == null)
        {
            System.exit(exit[0]);
            return;
        }
        final Path file = options.config;

        final Path configFile = file == null ? DEFAULT_CONFIG : file;
        final SwitchConfig config;
        try
        {
            // The shipped default may name /tmp/vswitch, which a fresh machine does not have yet.
            config = file == null ? ConfigLoader.load(DEFAULT_CONFIG, true) : ConfigLoader.load(file);
        }
        catch (final ConfigException ex)
        {
            // Every error the file has, one line each, so one edit can fix them all.
            for (final ConfigException error : ex.errors())
            {
                System.err.println("vswitch: configuration error: " + error.getMessage());
            }
            if (ex.errors().size() > 1)
            {
                System.err.println("vswitch: " + ex.errors().size() + " configuration errors; nothing started");
            }
            System.exit(2);
            return;
        }

        final HandoverLock handover = options.lock == null ? null : standBy(options.lock,
            config.datapath().cpus(), config.fdb().size());
        // SIGTERM/SIGINT end the wait below so the switch closes on the main thread and exits 0; the shutdown
        // hook only covers other ways out (System.exit elsewhere). Installed before the switch starts: a SIGTERM
        // that arrives while it starts (ports may already serve front ends) still means a clean stop right after.
        // Not before the handover wait above: a standby that is told to stop just ends.
        final CountDownLatch signalled = new CountDownLatch(1);
        final SignalHandler onSignal = sig ->
        {
            Log.info("switch", "SIG" + sig.getName() + " received, stopping");
            signalled.countDown();
        };
        Signal.handle(new Signal("TERM"), onSignal);
        Signal.handle(new Signal("INT"), onSignal);
        final VSwitch sw;
        try
        {
            sw = VSwitch.start(config);
        }
        catch (final StageSettingsException ex)
        {
            // A stage's settings are checked when it is created; the message names file:line: field.
            System.err.println("vswitch: configuration error: " + ex.getMessage());
            System.exit(2);
            return;
        }
        catch (final IOException | RuntimeException ex)
        {
            System.err.println("vswitch: failed to start: " + ex.getMessage());
            System.exit(1);
            return;
        }
        // A process-wide policy, so it lives here and not in VSwitch (which tests embed in their own JVM): once the
        // switch runs, every thread but the PMD (pinned by itself) moves off the PMD CPUs. Not before: start-up is
        // the critical path of a restart, and until the PMD starts its CPU is the idle one.
        HousekeepingAffinity.apply(config.datapath().cpus());

        // The control socket (vswitchctl): started after the switch, closed before it.
        final ControlServer control;
        try
        {
            control = ControlPlane.start(sw, configFile);
        }
        catch (final IOException | RuntimeException ex)
        {
            System.err.println("vswitch: cannot serve the control socket " + config.control().socket() + ": " +
                ex.getMessage());
            sw.close();
            System.exit(1);
            return;
        }

        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            control.close();
            sw.close();
        }, "shutdown"));
        try
        {
            signalled.await();
        }
        catch (final InterruptedException ignored)
        {
            Thread.currentThread().interrupt();
        }
        control.close();
        sw.close();
        if (handover != null)
        {
            handover.close();   // sockets closed, memory unmapped: the standby may take over now
        }
        System.exit(0);
    }

    /**
     * Takes the handover lock, or, while another switch holds it, does the start-up work that needs no socket or
     * device (off the PMD CPUs, which the running switch uses) and waits for it to stop.
     */
    private static HandoverLock standBy(final Path lockFile, final int[] pmdCpus, final int fdbSize)
    {
        try
        {
            final HandoverLock handover = HandoverLock.open(lockFile);
            if (handover.heldElsewhere())
            {
                HousekeepingAffinity.apply(pmdCpus);
                StartupWarmup.run(fdbSize);
                handover.acquire();
            }
            return handover;
        }
        catch (final IOException ex)
        {
            System.err.println("vswitch: cannot use lock file " + lockFile + ": " + ex.getMessage());
            System.exit(1);
            return null;
        }
    }
}
