package dev.vswitch.core.it.guest;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The Linux test guest (kernel + initramfs) built by {@code scripts/build-guest.sh} into
 * {@code <repo>/build/guest}. The script is idempotent; it runs at most once per JVM.
 */
public final class GuestImage {

    static final String SCRIPT = "scripts/build-guest.sh";
    private static final long BUILD_TIMEOUT_MINUTES = 15;

    private static Path[] built;

    private GuestImage() {
    }

    /**
     * Builds the guest image if needed and returns {@code {kernel, initrd}}: kernel is
     * {@code vmlinux} (uncompressed) when the script could extract it, else {@code vmlinuz}.
     *
     * @throws IllegalStateException if the build script fails (its output is in the message)
     */
    public static synchronized Path[] ensureBuilt() {
        if (built == null) {
            Path root = repoRoot();
            Path out = root.resolve("build/guest");
            run(root, root.resolve(SCRIPT), out);
            // vmlinux (uncompressed, PVH entry) boots ~5 s faster under TCG than vmlinuz;
            // the script writes it only when the extraction worked, in the same run as the initrd.
            Path kernel = Files.isRegularFile(out.resolve("vmlinux")) ? out.resolve("vmlinux") : out.resolve("vmlinuz");
            Path initrd = out.resolve("initramfs.cpio.gz");
            if (!Files.isRegularFile(kernel) || !Files.isRegularFile(initrd)) {
                throw new IllegalStateException(SCRIPT + " succeeded but " + out + " lacks vmlinuz/initramfs.cpio.gz");
            }
            built = new Path[] {kernel, initrd};
        }
        return built.clone();
    }

    public static Path kernel() {
        return ensureBuilt()[0];
    }

    public static Path initrd() {
        return ensureBuilt()[1];
    }

    /** The repository root: the working directory or its nearest ancestor containing {@value #SCRIPT}. */
    public static Path repoRoot() {
        Path start = Path.of("").toAbsolutePath();
        for (Path p = start; p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve(SCRIPT))) {
                return p;
            }
        }
        throw new IllegalStateException("no " + SCRIPT + " in " + start + " or any parent directory");
    }

    private static void run(Path root, Path script, Path out) {
        try {
            Files.createDirectories(out);
            Path log = out.resolveSibling("guest-build.log");
            Process p = new ProcessBuilder("bash", script.toString(), out.toString())
                    .directory(root.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            boolean finished = p.waitFor(BUILD_TIMEOUT_MINUTES, TimeUnit.MINUTES);
            if (!finished) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            System.out.print(output);
            if (!finished) {
                throw new IllegalStateException(SCRIPT + " timed out after " + BUILD_TIMEOUT_MINUTES + " min:\n" + output);
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(SCRIPT + " failed with exit code " + p.exitValue() + ":\n" + output);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + script, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while building the guest image", e);
        }
    }
}
