package dev.vswitch.core.it.guest;

import java.io.BufferedWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A QEMU (TCG) Linux guest with one virtio-net NIC on a vhost-user socket, booted from
 * {@link GuestImage}. Its /init (scripts/guest-init.sh) configures the NIC from the kernel
 * command line and prints {@code VSW-...} marker lines on the serial console, which this class
 * captures (in memory and, optionally, to a log file).
 *
 * <pre>{@code
 * try (QemuGuest g = QemuGuest.builder().name("a").socket(sock).mac("52:54:00:00:00:01")
 *         .ip("10.0.0.1/24").role(QemuGuest.Role.IDLE).peer("10.0.0.2").log(logFile).start()) {
 *     g.awaitLine("VSW-PING-OK", Duration.ofSeconds(60));
 * }
 * }</pre>
 */
public final class QemuGuest implements AutoCloseable {

    /** What the guest's /init does once the NIC is up. */
    public enum Role {
        /** {@code iperf3 -s -1}: serve one test, then VSW-DONE and power off. */
        SERVER,
        /** ping peer, {@code iperf3 -c peer}, VSW-IPERF-RESULT, VSW-DONE, power off. */
        CLIENT,
        /** stay up answering pings (pings the peer once, if one is given). */
        IDLE
    }

    private static final int TAIL_LINES = 40;
    private static final Pattern KEY_VALUE = Pattern.compile("(?:^|\\s)([\\w/.-]+)=(\\S*)");

    private final String name;
    private final Path socket;
    private final Path logFile;
    private final boolean echo;
    private final List<String> command;
    private final List<String> lines = new ArrayList<>(); // guarded by itself
    private Process process;
    private Thread reader;
    private Thread shutdownHook;
    private long startNanos;
    private volatile boolean eof;

    private QemuGuest(Builder cfg) {
        this.name = cfg.name;
        this.socket = cfg.socket;
        this.logFile = cfg.log;
        this.echo = cfg.echo;
        this.command = buildCommand(cfg);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The QEMU command line (argv) this guest runs. */
    public List<String> command() {
        return List.copyOf(command);
    }

    /** Launches QEMU. Console output is captured from now on. */
    public synchronized QemuGuest start() {
        if (process != null) {
            throw new IllegalStateException(name + " already started");
        }
        BufferedWriter log = null;
        try {
            if (logFile != null) {
                if (logFile.getParent() != null) {
                    Files.createDirectories(logFile.getParent());
                }
                log = Files.newBufferedWriter(logFile, StandardCharsets.UTF_8);
                log.write("# " + String.join(" ", command) + "\n");
                log.flush();
            }
            startNanos = System.nanoTime();
            // stdin stays an open pipe: the serial console is on stdio; typeLine writes into it.
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
            shutdownHook = new Thread(this::kill, "qemu-" + name + "-shutdown");
            Runtime.getRuntime().addShutdownHook(shutdownHook);
            BufferedWriter logWriter = log;
            reader = new Thread(() -> pump(process.getInputStream(), logWriter), "qemu-" + name + "-console");
            reader.setDaemon(true);
            reader.start();
            return this;
        } catch (IOException e) {
            if (log != null) {
                try {
                    log.close();
                } catch (IOException ignored) {
                    // reporting the first failure
                }
            }
            throw new UncheckedIOException("cannot start " + String.join(" ", command), e);
        }
    }

    /**
     * Waits for the first console line containing {@code marker} and returns it from the marker on
     * (console lines may carry terminal escape codes in front).
     *
     * @throws IllegalStateException on timeout or if QEMU exits first; the message has the last
     *     40 console lines
     */
    public String awaitLine(String marker, Duration timeout) {
        return awaitLine(marker, 0, timeout);
    }

    /** As {@link #awaitLine(String, Duration)}, looking only at console lines from index {@code from} on. */
    public String awaitLine(String marker, int from, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int checked = from;
        synchronized (lines) {
            while (true) {
                boolean exited = eof; // read before scanning: then every line is already there
                for (; checked < lines.size(); checked++) {
                    String l = lines.get(checked);
                    int at = l.indexOf(marker);
                    if (at >= 0) {
                        return l.substring(at);
                    }
                }
                if (exited) {
                    throw failure("QEMU exited (" + exitDescription() + ") without printing '" + marker + "'");
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw failure("no '" + marker + "' within " + timeout.toSeconds() + " s");
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(lines, Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw failure("interrupted while waiting for '" + marker + "'");
                }
            }
        }
    }

    /** Console lines so far (an index for {@link #awaitLine(String, int, Duration)}). */
    public int lineCount() {
        synchronized (lines) {
            return lines.size();
        }
    }

    /** Types {@code line} and a newline on the guest's serial console (QEMU's stdin). */
    public void typeLine(String line) throws IOException {
        requireStarted();
        process.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        process.getOutputStream().flush();
    }

    /** Whether some console line so far contains {@code marker}. */
    public boolean hasLine(String marker) {
        synchronized (lines) {
            return lines.stream().anyMatch(l -> l.contains(marker));
        }
    }

    /**
     * Waits for QEMU to exit (the guest powers off after VSW-DONE) and returns its exit code.
     *
     * @throws IllegalStateException if it still runs after {@code timeout}
     */
    public int waitForExit(Duration timeout) {
        requireStarted();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw failure("QEMU still running after " + timeout.toSeconds() + " s");
            }
            reader.join(2000); // let the console reader drain the last lines
            return process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failure("interrupted while waiting for QEMU to exit");
        }
    }

    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** Time since {@link #start()}. */
    public Duration uptime() {
        requireStarted();
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }

    /** A copy of all console lines so far. */
    public List<String> consoleLines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    /** The last {@code n} console lines, newline-separated. */
    public String tail(int n) {
        synchronized (lines) {
            return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
        }
    }

    public String name() {
        return name;
    }

    public Path log() {
        return logFile;
    }

    /** Kills QEMU (SIGTERM, then SIGKILL after a short grace) and waits until it is gone. */
    @Override
    public synchronized void close() {
        if (process == null) {
            return;
        }
        kill();
        try {
            reader.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook runs or ran anyway
        }
    }

    /**
     * The value of {@code key=value} in a marker line, e.g. {@code value(line, "sender_bps")}.
     *
     * @throws IllegalArgumentException if the line has no such key
     */
    public static String value(String line, String key) {
        Matcher m = KEY_VALUE.matcher(line);
        while (m.find()) {
            if (m.group(1).equals(key)) {
                return m.group(2);
            }
        }
        throw new IllegalArgumentException("no " + key + "= in: " + line);
    }

    @Override
    public String toString() {
        return "QemuGuest[" + name + ", " + socket + "]";
    }

    private void kill() {
        Process p = process;
        if (p == null || !p.isAlive()) {
            return;
        }
        p.destroy(); // SIGTERM: QEMU exits cleanly
        try {
            if (!p.waitFor(2, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    System.err.println("QEMU " + name + " (pid " + p.pid() + ") survived SIGKILL for 10 s");
                }
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private void pump(InputStream in, BufferedWriter log) {
        ByteArrayOutputStream line = new ByteArrayOutputStream(256);
        try (in) {
            byte[] buf = new byte[4096];
            int n;
            while ((n = in.read(buf)) > 0) {
                for (int i = 0; i < n; i++) {
                    byte b = buf[i];
                    if (b == '\n') {
                        addLine(line.toString(StandardCharsets.UTF_8), log);
                        line.reset();
                    } else if (b != '\r') {
                        line.write(b);
                    }
                }
            }
        } catch (IOException streamClosed) {
            // QEMU was killed
        } finally {
            if (line.size() > 0) {
                addLine(line.toString(StandardCharsets.UTF_8), log);
            }
            if (log != null) {
                try {
                    log.close();
                } catch (IOException ignored) {
                    // best effort
                }
            }
            eof = true;
            synchronized (lines) {
                lines.notifyAll();
            }
        }
    }

    private void addLine(String l, BufferedWriter log) {
        synchronized (lines) {
            lines.add(l);
            lines.notifyAll();
        }
        if (echo) {
            System.out.println("[" + name + "] " + l);
        }
        if (log != null) {
            try {
                log.write(l);
                log.write('\n');
                log.flush();
            } catch (IOException ignored) {
                // the in-memory copy still has it
            }
        }
    }

    private String exitDescription() {
        try {
            return process.waitFor(1, TimeUnit.SECONDS) ? "exit code " + process.exitValue() : "still running";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    private IllegalStateException failure(String what) {
        String tail = tail(TAIL_LINES);
        return new IllegalStateException("guest " + name + ": " + what
                + (logFile != null ? " (log: " + logFile + ")" : "")
                + "\n--- last " + TAIL_LINES + " console lines ---\n"
                + (tail.isEmpty() ? "(no console output: is QEMU waiting for the vhost-user socket "
                        + socket + "?)" : tail));
    }

    private void requireStarted() {
        if (process == null) {
            throw new IllegalStateException(name + " not started");
        }
    }

    private static List<String> buildCommand(Builder b) {
        Objects.requireNonNull(b.socket, "socket");
        Path[] image = b.kernel != null ? new Path[] {b.kernel, b.initrd} : GuestImage.ensureBuilt();
        String mem = b.memoryMb + "M";
        String chardev = "socket,id=c0,path=" + b.socket
                + (b.qemuIsServer ? ",server=on,wait=off" : (b.reconnect ? ",reconnect=1" : ""));
        StringBuilder append = new StringBuilder("console=ttyS0 panic=-1 loglevel=4");
        append.append(" ip=").append(b.ip).append(" role=").append(b.role.name().toLowerCase());
        if (b.peer != null) {
            append.append(" peer=").append(b.peer);
        }
        append.append(" time=").append(b.iperfSeconds);
        if (b.mtu > 0) {
            append.append(" mtu=").append(b.mtu);
        }
        if (!b.kernelArgs.isBlank()) {
            append.append(' ').append(b.kernelArgs.trim());
        }
        return List.of(
                b.qemu, "-accel", "tcg", "-m", mem, "-smp", "1",
                "-object", "memory-backend-memfd,id=mem,size=" + mem + ",share=on",
                "-numa", "node,memdev=mem",
                "-chardev", chardev,
                "-netdev", "vhost-user,id=n0,chardev=c0",
                // vectors=0: QEMU 7.2 + TCG + vhost-user crashes setting up MSI-X; romfile=: no iPXE
                "-device", "virtio-net-pci,netdev=n0,mac=" + b.mac + ",vectors=0,romfile=" + b.deviceOptions,
                "-kernel", image[0].toString(),
                "-initrd", image[1].toString(),
                "-append", append.toString(),
                "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio");
    }

    /** Configuration; {@link #socket(Path)} is the only required setting. */
    public static final class Builder {
        private String name = "guest";
        private Path socket;
        private boolean qemuIsServer;
        private boolean reconnect = true;
        private String mac = "52:54:00:12:34:56";
        private String ip = "10.0.0.1/24";
        private Role role = Role.IDLE;
        private String peer;
        private int iperfSeconds = 5;
        private int mtu;
        private String kernelArgs = "";
        private int memoryMb = 256;
        private String deviceOptions = "";
        private Path log;
        private boolean echo;
        private String qemu = "qemu-system-x86_64";
        private Path kernel;
        private Path initrd;

        private Builder() {
        }

        /** Name used in thread names, messages and echoed lines. */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** The vhost-user socket path. */
        public Builder socket(Path socket) {
            this.socket = socket;
            return this;
        }

        /**
         * {@code false} (default): QEMU is the vhost-user client and connects to a server socket
         * (the switch listens). {@code true}: QEMU listens ({@code server=on,wait=off}) and the
         * switch connects.
         */
        public Builder qemuIsServer(boolean qemuIsServer) {
            this.qemuIsServer = qemuIsServer;
            return this;
        }

        /**
         * Client mode only: {@code reconnect=1} (default true), so QEMU waits for the server socket
         * to appear and reconnects when the backend restarts.
         */
        public Builder reconnect(boolean reconnect) {
            this.reconnect = reconnect;
            return this;
        }

        public Builder mac(String mac) {
            this.mac = mac;
            return this;
        }

        /** Guest NIC address, e.g. {@code 10.0.0.1/24} ({@code /24} if no prefix). */
        public Builder ip(String ip) {
            this.ip = ip;
            return this;
        }

        public Builder role(Role role) {
            this.role = role;
            return this;
        }

        /** Address to ping and, for {@link Role#CLIENT}, the iperf3 server. */
        public Builder peer(String peer) {
            this.peer = peer;
            return this;
        }

        /** iperf3 test length ({@code time=}), default 5 s. */
        public Builder iperfSeconds(int seconds) {
            this.iperfSeconds = seconds;
            return this;
        }

        /** NIC MTU ({@code mtu=}); 0 (default) keeps the driver's. */
        public Builder mtu(int mtu) {
            this.mtu = mtu;
            return this;
        }

        /** Extra kernel command line arguments, appended last. */
        public Builder kernelArgs(String args) {
            this.kernelArgs = args;
            return this;
        }

        public Builder memoryMb(int memoryMb) {
            this.memoryMb = memoryMb;
            return this;
        }

        /** Appended verbatim to the {@code -device virtio-net-pci,...} option, e.g. {@code ",csum=off"}. */
        public Builder deviceOptions(String options) {
            this.deviceOptions = options;
            return this;
        }

        /** File receiving the QEMU command line and the whole console output. */
        public Builder log(Path log) {
            this.log = log;
            return this;
        }

        /** Also print console lines to System.out, prefixed with {@code [name]}. */
        public Builder echo(boolean echo) {
            this.echo = echo;
            return this;
        }

        /** The QEMU binary, default {@code qemu-system-x86_64} from PATH. */
        public Builder qemu(String qemu) {
            this.qemu = qemu;
            return this;
        }

        /** Boot another kernel/initrd instead of {@link GuestImage#ensureBuilt()}. */
        public Builder image(Path kernel, Path initrd) {
            this.kernel = kernel;
            this.initrd = initrd;
            return this;
        }

        public QemuGuest build() {
            return new QemuGuest(this);
        }

        /** {@code build().start()}. */
        public QemuGuest start() {
            return build().start();
        }
    }
}
