package dev.vswitch.pipeline;

import java.io.PrintStream;
import java.time.Instant;

/**
 * The switch's one log: one line per event, {@code TIME LEVEL [subject] message}, to stdout (stderr for warnings
 * and errors). Control plane and stats only; the data path never logs, it counts ({@link Counters}). Libraries
 * that log through SLF4J land here too ({@link LogProvider}). The only other output is the command line's own:
 * usage and configuration errors printed by {@code Main} before the switch starts.
 */
public final class Log
{
    private static volatile PrintStream out = System.out;
    private static volatile PrintStream err = System.err;

    private Log()
    {
    }

    /** Tests: where lines go from now on. */
    static void redirect(final PrintStream stdout, final PrintStream stderr)
    {
        out = stdout;
        err = stderr;
    }

    public static void info(final String subject, final String message)
    {
        write(out, "INFO ", subject, message);
    }

    public static void warn(final String subject, final String message)
    {
        write(err, "WARN ", subject, message);
    }

    public static void error(final String subject, final String message)
    {
        write(err, "ERROR", subject, message);
    }

    private static void write(final PrintStream stream, final String level, final String subject, final String msg)
    {
        final String line = Instant.now() + " " + level + " [" + subject + "] " + msg;
        synchronized (Log.class)
        {
            stream.println(line);
        }
    }
}
