package dev.vswitch.core;

import dev.vswitch.core.config.ConfigException;
import dev.vswitch.core.config.ConfigLoader;
import dev.vswitch.core.config.SwitchConfig;
import dev.vswitch.core.control.ControlPlane;
import dev.vswitch.core.control.ControlServer;
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
        for (int i = 0; i < args.length; i++)
        {
            if (("--config".equals(args[i]) || "-c".equals(args[i])) && i + 1 < args.length)
            {
                file = Path.of(args[++i]);
            }
            else if ("--help".equals(args[i]) || "-h".equals(args[i]))
            {
                System.out.println("usage: vswitch [--config FILE]   (default: config/switch.yaml)");
                return;
            }
            else
            {
                System.err.println("vswitch: unknown argument '" + args[i] + "'; usage: vswitch [--config FILE]");
                System.exit(2);
            }
        }

        final Path configFile = file == null ? DEFAULT_CONFIG : file;
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

        // A process-wide policy, so it lives here and not in VSwitch (which tests embed in their own JVM): before the
        // PMD thread exists, every thread of the process moves off the PMD CPUs; the PMD then pins itself.
        HousekeepingAffinity.apply(config.datapath().cpus());
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
        System.exit(0);
    }
}
