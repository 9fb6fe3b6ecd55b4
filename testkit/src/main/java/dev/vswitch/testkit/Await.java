package dev.vswitch.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Waiting for a condition in a test, instead of sleeping and hoping: poll the condition (1 ms at first, backing
 * off to 20 ms), return as soon as it holds, fail with {@code what} and the timeout when it never does. The one
 * place tests wait; a plain sleep left in a test means "let time pass" (aging, a traffic window, "nothing else
 * arrives"), never "until something has happened".
 */
public final class Await
{
    private static final long FIRST_POLL_NANOS = 1_000_000L;
    private static final long MAX_POLL_NANOS = 20_000_000L;

    private Await()
    {
    }

    /** Returns once {@code condition} holds; an {@link AssertionError} naming {@code what} after {@code timeout}. */
    public static void until(final String what, final Duration timeout, final BooleanSupplier condition)
    {
        until(what, timeout, condition, () -> "");
    }

    /** {@link #until(String, Duration, BooleanSupplier)}, with {@code detail} (e.g. counters) in the failure. */
    public static void until(final String what, final Duration timeout, final BooleanSupplier condition,
        final Supplier<String> detail)
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        long poll = FIRST_POLL_NANOS;
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                final String more = detail.get();
                throw new AssertionError("timed out after " + describe(timeout) + " waiting for " + what +
                    (more.isEmpty() ? "" : ": " + more));
            }
            pause(poll);
            poll = Math.min(MAX_POLL_NANOS, poll * 2);
        }
    }

    /**
     * Returns once {@code value} is positive and has not changed for {@code quiet}: traffic has settled (every
     * frame in flight has been counted). Fails after {@code timeout}.
     */
    public static void steady(final String what, final Duration timeout, final Duration quiet,
        final LongSupplier value)
    {
        final long[] last = { -1 };
        final long[] since = { System.nanoTime() };
        until(what + " to settle", timeout, () ->
        {
            final long now = value.getAsLong();
            final long t = System.nanoTime();
            if (now <= 0 || now != last[0])
            {
                last[0] = now;
                since[0] = t;
                return false;
            }
            return t - since[0] >= quiet.toNanos();
        }, () -> "last value " + last[0]);
    }

    /** Returns once {@code file} exists and contains {@code text}; the failure shows the file's end. */
    public static void fileContains(final Path file, final String text, final Duration timeout)
    {
        fileContains(file, 0, text, timeout);
    }

    /** {@link #fileContains(Path, String, Duration)}, looking only after the first {@code from} characters. */
    public static void fileContains(final Path file, final int from, final String text, final Duration timeout)
    {
        until("'" + text + "' in " + file, timeout, () ->
        {
            final String s = read(file);
            return s.length() > from && s.indexOf(text, from) >= 0;
        }, () -> "\n" + tail(read(file), 4000));
    }

    private static String read(final Path file)
    {
        try
        {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    private static String tail(final String s, final int chars)
    {
        return s.isEmpty() ? "(empty or missing)" : s.substring(Math.max(0, s.length() - chars));
    }

    private static String describe(final Duration timeout)
    {
        return timeout.toMillis() % 1000 == 0 ? timeout.toSeconds() + " s" : timeout.toMillis() + " ms";
    }

    private static void pause(final long nanos)
    {
        try
        {
            Thread.sleep(nanos / 1_000_000L, (int)(nanos % 1_000_000L));
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting", ex);
        }
    }
}
