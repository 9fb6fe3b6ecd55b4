package dev.vswitch.core;

import dev.vswitch.core.config.ConfigException;
import dev.vswitch.core.config.ConfigLoader;
import dev.vswitch.core.config.SwitchConfig;
import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.spi.StageSettingsException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * {@code vswitch [--config FILE]}: runs the switch until SIGTERM or SIGINT. Exit codes: 0 clean stop, 2 bad
 * configuration or usage, 1 failure to start.
 */
public final class Main
{
    public static final Path DEFAULT_CONFIG = Path.of("config", "switch.yaml");

    private Main()
    {
    }

    public static void main(final String[] args)
    {
        Path file = null;
        Path lockFile = null;
        for (int i = 0; i < args.length; i++)
        {
            if (("--config".equals(args[i]) || "-c".equals(args[i])) && i + 1 < args.length)
            {
                file = Path.of(args[++i]);
            }
            else if ("--lock".equals(args[i]) && i + 1 < args.length)
            {
                lockFile = Path.of(args[++i]);
            }
            else if ("--help".equals(args[i]) || "-h".equals(args[i]))
            {
                System.out.println("usage: vswitch [--config FILE] [--lock FILE]   (default config: config/switch.yaml;\n" +
                    "  --lock: held while running; a second switch started with the same lock warms up, waits,\n" +
                    "  and takes over when the first one stops: see README, Upgrading)");
                return;
            }
            else
            {
                System.err.println("vswitch: unknown argument '" + args[i] + "'; usage: vswitch [--config FILE] [--lock FILE]");
                System.exit(2);
            }
        }

        final SwitchConfig config;
        try
        {
            // The shipped default may name /tmp/vswitch, which a fresh machine does not have yet.
            config = file == null ? ConfigLoader.load(DEFAULT_CONFIG, true) : ConfigLoader.load(file);
        }
        catch (final ConfigException ex)
        {
            System.err.println("vswitch: configuration error: " + ex.getMessage());
            System.exit(2);
            return;
        }

        final HandoverLock handover = lockFile == null ? null : standBy(lockFile, config.datapath().cpus(),
            config.fdb().size());
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

        // SIGTERM/SIGINT end the wait below so the switch closes on the main thread and exits 0; the shutdown
        // hook only covers other ways out (System.exit elsewhere, SIGHUP).
        final CountDownLatch signalled = new CountDownLatch(1);
        final SignalHandler onSignal = sig ->
        {
            Log.info("switch", "SIG" + sig.getName() + " received, stopping");
            signalled.countDown();
        };
        Signal.handle(new Signal("TERM"), onSignal);
        Signal.handle(new Signal("INT"), onSignal);
        Runtime.getRuntime().addShutdownHook(new Thread(sw::close, "shutdown"));
        try
        {
            signalled.await();
        }
        catch (final InterruptedException ignored)
        {
            Thread.currentThread().interrupt();
        }
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
