package dev.vswitch.pipeline;

import java.io.PrintStream;
import java.time.Instant;

/**
 * The switch's log: one line per event, timestamped, to stdout (stderr for errors). Control plane and stats only;
 * the data path never logs, it counts.
 */
public final class Log
{
    private static volatile PrintStream out = System.out;
    private static volatile PrintStream err = System.err;

    private Log()
    {
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
