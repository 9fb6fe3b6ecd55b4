package dev.vswitch.core.it;

import dev.vswitch.core.VSwitch;
import dev.vswitch.core.config.ConfigException;
import dev.vswitch.core.config.ConfigLoader;
import dev.vswitch.testkit.Await;

import java.io.IOException;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Starting an in-process switch from YAML text, and waiting on conditions with a deadline. */
public final class SwitchHarness
{
    private SwitchHarness()
    {
    }

    public static VSwitch start(final String yaml) throws IOException
    {
        try
        {
            return VSwitch.start(ConfigLoader.parse(yaml, "test.yaml"));
        }
        catch (final ConfigException ex)
        {
            throw new AssertionError("test config rejected: " + ex.getMessage(), ex);
        }
    }

    /** {@link Await#until}: kept as a name the integration tests already use. */
    public static void await(final String what, final Duration timeout, final BooleanSupplier condition)
    {
        Await.until(what, timeout, condition);
    }

    /** {@link Await#until} with a detail for the failure message. */
    public static void await(final String what, final Duration timeout, final BooleanSupplier condition,
        final java.util.function.Supplier<String> detail)
    {
        Await.until(what, timeout, condition, detail);
    }
}
