package dev.vswitch.core.control;

import dev.vswitch.core.VSwitch;
import dev.vswitch.pipeline.Log;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The process's control socket: {@link ControlServer} answering with {@link ControlCommands} for one switch. */
public final class ControlPlane
{
    private ControlPlane()
    {
    }

    /**
     * Serves the control socket the configuration names (its directory is created if missing).
     *
     * @param configFile the file {@code sw}'s configuration was loaded from
     */
    public static ControlServer start(final VSwitch sw, final Path configFile) throws IOException
    {
        final Path socket = sw.config().control().socket();
        final Path dir = socket.toAbsolutePath().getParent();
        if (dir != null)
        {
            Files.createDirectories(dir);
        }
        String text;
        try
        {
            text = Files.readString(configFile, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            text = "# " + configFile + " could not be read back: " + ex.getMessage() + "\n";
        }
        final ControlCommands commands = new ControlCommands(sw, configFile.toString(), text);
        final ControlServer server = ControlServer.start(socket, commands, commands, ControlServer.Limits.DEFAULT);
        // SIGHUP reloads like 'vswitchctl reload', off the signal thread, one at a time with control requests.
        sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig ->
        {
            final Thread t = new Thread(() ->
            {
                Log.info("reload", "SIGHUP received, reloading " + configFile);
                commands.reloadOnSignal();
            }, "reload");
            t.setDaemon(true);
            t.start();
        });
        return server;
    }
}
