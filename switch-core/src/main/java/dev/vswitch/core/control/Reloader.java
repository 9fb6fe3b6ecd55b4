package dev.vswitch.core.control;

import dev.vswitch.core.VSwitch;
import dev.vswitch.core.config.ConfigException;
import dev.vswitch.core.config.ConfigLoader;
import dev.vswitch.core.config.PortConfig;
import dev.vswitch.core.config.PortType;
import dev.vswitch.core.config.SwitchConfig;
import dev.vswitch.pipeline.Log;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * {@code vswitchctl reload} and SIGHUP: re-reads the YAML file and applies the difference in vhost-user ports
 * (added, removed, changed: a changed port is removed and added again; the others are not touched). Everything else
 * (datapath, stats, fdb, pipeline, mirror, control, tap ports) is fixed at start: a difference there is reported as
 * needing a restart and not applied.
 * <p>
 * Nothing is half-applied: a file with an error changes nothing (the error names file:line and field); the port
 * changes are checked against the free slots before any is made; if one still fails (e.g. a socket cannot be
 * bound), those already made are undone in reverse order.
 */
final class Reloader
{
    private static final String LOG = "reload";
    private static final List<String> FIXED_SECTIONS = List.of("datapath", "stats", "fdb", "pipeline", "mirror",
        "control");

    /** What a reload did. */
    record Outcome(List<String> added, List<String> removed, List<String> changed, List<String> unchanged,
        List<String> restartNeeded)
    {
    }

    private final VSwitch sw;
    private final Path file;
    /** The text the switch started from: what the sections fixed at start really are. */
    private final String startText;
    private String text;
    private List<PortConfig> filePorts;

    Reloader(final VSwitch sw, final Path file, final String text)
    {
        this.sw = sw;
        this.file = file;
        this.startText = text;
        this.text = text;
        this.filePorts = sw.config().ports();
    }

    synchronized String text()
    {
        return text;
    }

    /** The ports the file named when it was last loaded (at start or by a reload). */
    synchronized List<PortConfig> filePorts()
    {
        return filePorts;
    }

    synchronized Path file()
    {
        return file;
    }

    synchronized Outcome reload()
    {
        final String newText;
        final SwitchConfig next;
        try
        {
            newText = Files.readString(file, StandardCharsets.UTF_8);
            next = ConfigLoader.parse(newText, file.toString());
        }
        catch (final ConfigException ex)
        {
            throw new IllegalArgumentException("configuration error, nothing changed: " + ex.getMessage());
        }
        catch (final IOException ex)
        {
            throw new IllegalArgumentException("cannot read " + file + ", nothing changed: " + ex);
        }

        final List<String> restartNeeded = fixedSectionChanges(startText, newText);
        final Map<String, PortConfig> running = new LinkedHashMap<>();
        for (int id = 0; id < sw.ports().size(); id++)
        {
            final PortConfig pc = sw.portConfig(id);
            if (pc != null)
            {
                running.put(pc.name(), pc);
            }
        }
        final Map<String, PortConfig> wanted = new LinkedHashMap<>();
        next.ports().forEach(pc -> wanted.put(pc.name(), pc));

        final List<PortConfig> toRemove = new ArrayList<>();
        final List<PortConfig> toAdd = new ArrayList<>();
        final List<String> added = new ArrayList<>();
        final List<String> removed = new ArrayList<>();
        final List<String> changed = new ArrayList<>();
        final List<String> unchanged = new ArrayList<>();
        for (final PortConfig now : running.values())
        {
            final PortConfig then = wanted.get(now.name());
            if (now.equals(then))
            {
                unchanged.add(now.name());
            }
            else if (!liveChangeable(now) || (then != null && !liveChangeable(then)))
            {
                restartNeeded.add("ports." + now.name() + " (" + (then == null ? "removed" : "changed") +
                    "; only vhost-user ports change live)");
            }
            else
            {
                toRemove.add(now);
                if (then != null)
                {
                    toAdd.add(then);
                    changed.add(now.name());
                }
                else
                {
                    removed.add(now.name());
                }
            }
        }
        for (final PortConfig then : wanted.values())
        {
            if (!running.containsKey(then.name()))
            {
                if (liveChangeable(then))
                {
                    toAdd.add(then);
                    added.add(then.name());
                }
                else
                {
                    restartNeeded.add("ports." + then.name() + " (added; only vhost-user ports change live)");
                }
            }
        }
        int free = 0;
        for (int id = 0; id < sw.ports().size(); id++)
        {
            free += sw.portConfig(id) == null ? 1 : 0;
        }
        if (toAdd.size() > free + toRemove.size())
        {
            throw new IllegalStateException("the file adds " + toAdd.size() + " ports but only " +
                (free + toRemove.size()) + " slots would be free (control.spare-ports); nothing changed");
        }

        apply(toRemove, toAdd);
        text = newText;
        filePorts = next.ports();
        final Outcome outcome = new Outcome(added, removed, changed, unchanged, restartNeeded);
        Log.info(LOG, file + ": added " + added + ", removed " + removed + ", changed " + changed +
            (restartNeeded.isEmpty() ? "" : "; needs a restart: " + restartNeeded));
        return outcome;
    }

    private static boolean liveChangeable(final PortConfig pc)
    {
        return pc.type() == PortType.VHOST_USER;
    }

    /** Removals first (they free slots and sockets), then additions; undone in reverse on a failure. */
    private void apply(final List<PortConfig> toRemove, final List<PortConfig> toAdd)
    {
        final List<PortConfig> removedDone = new ArrayList<>();
        final List<PortConfig> addedDone = new ArrayList<>();
        try
        {
            for (final PortConfig pc : toRemove)
            {
                sw.removePort(pc.name());
                removedDone.add(pc);
            }
            for (final PortConfig pc : toAdd)
            {
                sw.addPort(pc);
                addedDone.add(pc);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            for (int i = addedDone.size() - 1; i >= 0; i--)
            {
                final String name = addedDone.get(i).name();
                undo(() -> sw.removePort(name));
            }
            for (int i = removedDone.size() - 1; i >= 0; i--)
            {
                final PortConfig pc = removedDone.get(i);
                undo(() -> sw.addPort(pc));
            }
            throw new IllegalStateException("reload failed, the ports are as before: " + ex.getMessage());
        }
    }

    @FunctionalInterface
    private interface Step
    {
        void run() throws IOException;
    }

    private static void undo(final Step step)
    {
        try
        {
            step.run();
        }
        catch (final IOException | RuntimeException ex)
        {
            Log.error(LOG, "undoing a reload step failed: " + ex.getMessage());
        }
    }

    /** Top-level sections other than ports whose content differs between the two texts (compared as YAML data). */
    private static List<String> fixedSectionChanges(final String before, final String after)
    {
        final Map<?, ?> a = asMap(before);
        final Map<?, ?> b = asMap(after);
        final List<String> changed = new ArrayList<>();
        for (final String section : FIXED_SECTIONS)
        {
            if (!Objects.equals(a.get(section), b.get(section)))
            {
                changed.add(section);
            }
        }
        return changed;
    }

    private static Map<?, ?> asMap(final String yaml)
    {
        final Object doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(yaml);
        return doc instanceof Map<?, ?> map ? map : Map.of();
    }
}
