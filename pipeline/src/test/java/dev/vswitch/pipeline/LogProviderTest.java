package dev.vswitch.pipeline;

import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What libraries log through SLF4J comes out as the switch's own log lines. */
class LogProviderTest
{
    @Test
    void slf4jLinesGoThroughLogInItsFormat()
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        Log.redirect(new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
        try
        {
            final Logger logger = LoggerFactory.getLogger("net.openhft.chronicle.core.Jvm");
            assertEquals("net.openhft.chronicle.core.Jvm", logger.getName());
            assertFalse(logger.isDebugEnabled());
            logger.info("Chronicle core loaded from {}", "a.jar");
            logger.debug("not shown {}", 1);
            logger.warn("careful", new IllegalStateException("why"));
        }
        finally
        {
            Log.redirect(System.out, System.err);
        }
        final String stdout = out.toString(StandardCharsets.UTF_8);
        final String stderr = err.toString(StandardCharsets.UTF_8);
        assertTrue(stdout.matches("\\S+Z INFO  \\[Jvm] Chronicle core loaded from a\\.jar\\R"), stdout);
        assertTrue(stderr.matches("\\S+Z WARN  \\[Jvm] careful: java\\.lang\\.IllegalStateException: why\\R"), stderr);
    }
}
