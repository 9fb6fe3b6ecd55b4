package dev.vswitch.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The process's own command line: version, help, a flag without its value, an unknown flag. */
class MainOptionsTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private final int[] exit = {-1};

    private Main.Options parse(String... args) {
        return Main.parse(args, new PrintWriter(out, true), new PrintWriter(err, true), exit);
    }

    @Test
    void versionPrintsTheVersionAndTheCommitItWasBuiltFrom() {
        assertNull(parse("--version"));
        assertEquals(0, exit[0]);
        String text = out.toString();
        // The build writes vswitch-git.properties: the project's version and a real abbreviated commit id.
        assertTrue(text.matches("(?s)vswitch 0\\.\\d+\\.\\d+(-SNAPSHOT)? \\(commit [0-9a-f]{7,}.*\\n.*Java 1?\\d.*"),
                text);
        assertEquals("", err.toString());
        assertNull(parse("-V"));
        assertEquals(0, exit[0]);
    }

    @Test
    void aConfigFlagWithoutItsValueSaysSo() {
        assertNull(parse("--config"));
        assertEquals(2, exit[0]);
        assertTrue(err.toString().startsWith("vswitch: Missing required parameter for option '--config' (FILE)\n"
                + "usage: vswitch [--config FILE]"), err.toString());
    }

    @Test
    void anUnknownFlagIsAUsageError() {
        assertNull(parse("--confg", "x.yaml"));
        assertEquals(2, exit[0]);
        assertTrue(err.toString().startsWith("vswitch: Unknown options: '--confg', 'x.yaml'"), err.toString());
    }

    @Test
    void helpListsTheOptionsAndExitCodes() {
        assertNull(parse("--help"));
        assertEquals(0, exit[0]);
        assertTrue(out.toString().contains("--config=FILE") && out.toString().contains("2   bad configuration"),
                out.toString());
    }

    @Test
    void configTakesItsValueInBothSpellings() {
        Main.Options options = parse("--config", "a.yaml");
        assertNotNull(options);
        assertEquals(Path.of("a.yaml"), options.config);
        assertEquals(Path.of("b.yaml"), parse("-c", "b.yaml").config);
        assertEquals(Path.of("c.yaml"), parse("--config=c.yaml").config);
        assertNull(parse().config, "no flag: the default config");
    }

    @Test
    void lockTakesItsValueAndSaysSoWithout() {
        Main.Options options = parse("--config", "a.yaml", "--lock", "/run/vswitch.lock");
        assertNotNull(options);
        assertEquals(Path.of("/run/vswitch.lock"), options.lock);
        assertNull(parse("--lock"));
        assertEquals(2, exit[0]);
        assertTrue(err.toString().contains("Missing required parameter for option '--lock' (FILE)"), err.toString());
    }
}
