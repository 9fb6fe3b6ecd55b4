package dev.vswitch.core;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/**
 * The version and the git commit the running code was built from, as the build recorded them
 * ({@code vswitch-git.properties}, written by the git-commit-id plugin); "unknown" where the build had no git.
 */
public final class VersionInfo implements IVersionProvider {
    private static final String RESOURCE = "/vswitch-git.properties";

    /** One line, e.g. {@code vswitch 0.1.0-SNAPSHOT (commit 5a59040, 2026-12-06T21:00:00Z)}. */
    public static String line() {
        Properties p = new Properties();
        try (InputStream in = VersionInfo.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException ignored) {
            // unknown below
        }
        String version = p.getProperty("git.build.version", "unknown");
        String commit = p.getProperty("git.commit.id.abbrev", "unknown");
        String dirty = "true".equals(p.getProperty("git.dirty")) ? " with uncommitted changes" : "";
        String time = p.getProperty("git.commit.time");
        return "vswitch " + version + " (commit " + commit + dirty + (time == null ? "" : ", " + time) + ")";
    }

    @Override
    public String[] getVersion() {
        return new String[] {line(), "Java " + System.getProperty("java.version") + " ("
                + System.getProperty("java.vm.name") + ")"};
    }
}
