package dev.vswitch.pipeline.spi;

import java.util.Collections;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The {@link StageFactory} implementations visible to a class loader, by name. */
public final class StageRegistry
{
    private final Map<String, StageFactory> factories;

    private StageRegistry(final Map<String, StageFactory> factories)
    {
        this.factories = Collections.unmodifiableMap(factories);
    }

    /** Factories on the thread's context class path (the switch's classpath, plus any user stage jars on it). */
    public static StageRegistry load()
    {
        final ClassLoader loader = Thread.currentThread().getContextClassLoader();
        return load(loader != null ? loader : StageRegistry.class.getClassLoader());
    }

    /**
     * @throws IllegalStateException when a listed factory cannot be loaded or two factories claim the same name
     *                               (both class names are given).
     */
    public static StageRegistry load(final ClassLoader loader)
    {
        final Map<String, StageFactory> byName = new TreeMap<>();
        try
        {
            for (final StageFactory factory : ServiceLoader.load(StageFactory.class, loader))
            {
                final StageFactory other = byName.putIfAbsent(factory.name(), factory);
                if (other != null && other.getClass() != factory.getClass())
                {
                    throw new IllegalStateException("two stage factories are named '" + factory.name() + "': " +
                        other.getClass().getName() + " and " + factory.getClass().getName());
                }
            }
        }
        catch (final ServiceConfigurationError ex)
        {
            throw new IllegalStateException("cannot load a stage factory: " + ex.getMessage(), ex);
        }
        return new StageRegistry(byName);
    }

    /** The factory for {@code name}, or null. */
    public StageFactory find(final String name)
    {
        return factories.get(name);
    }

    /** Known stage names, sorted, comma-separated (for error messages). */
    public String names()
    {
        return String.join(", ", factories.keySet());
    }
}
