package dev.vswitch.bench.jmh;

import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Defaults every per-packet benchmark inherits (JMH's run annotations are {@code @Inherited}): average time in
 * nanoseconds, short runs sized for a 2-core machine, one fork that gets the JVM flags Chronicle Map and direct
 * guest-memory access need.
 * <p>
 * Rules for subclasses: everything (guest memory, rings, frames, tables) is built in {@code @Setup}; a
 * {@code @Benchmark} method does the per-packet work and nothing that allocates (no capturing lambdas, iterators,
 * boxing or varargs), and returns a primitive so JMH's Blackhole consumes it without boxing.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// Keep identical to the root pom's <jvm.opens> property (the same list surefire's argLine and bin/vswitch use).
// An annotation cannot refer to a String[] constant, so this literal array is the one copy in bench/; every
// benchmark's trial setup calls checkForkFlags(), which fails the run if the pom gained a flag missing here.
@Fork(value = 1, jvmArgsAppend = {
    "-Dchronicle.analytics.disable=true",
    "-Dchronicle.announcer.disable=true",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"})
public abstract class DataPathBenchmark
{
    /** Frames per PMD burst (datapath.burst default); also how often the ring benchmarks flush. */
    static final int BURST = 32;
    /** Virtqueue size of the fake guests (QEMU's default for virtio-net). */
    static final int QUEUE_SIZE = 256;

    private static final String JVM_OPENS_RESOURCE = "jvm.opens";

    /**
     * Fails unless this JVM was started with every flag of the root pom's {@code <jvm.opens>} (copied into the jar
     * by resource filtering at build time). Call from a {@code Level.Trial} setup, i.e. inside the fork.
     */
    static void checkForkFlags()
    {
        final List<String> expected = pomFlags();
        final List<String> actual = ManagementFactory.getRuntimeMXBean().getInputArguments();
        final List<String> missing = new ArrayList<>();
        for (final String flag : expected)
        {
            if (!actual.contains(flag))
            {
                missing.add(flag);
            }
        }
        if (!missing.isEmpty())
        {
            throw new IllegalStateException("fork JVM lacks " + missing + ": DataPathBenchmark's @Fork " +
                "jvmArgsAppend is out of sync with <jvm.opens> in the root pom.xml");
        }
    }

    static List<String> pomFlags()
    {
        try (InputStream in = DataPathBenchmark.class.getResourceAsStream(JVM_OPENS_RESOURCE))
        {
            if (in == null)
            {
                throw new IllegalStateException("resource " + JVM_OPENS_RESOURCE + " missing from the jar");
            }
            final String text = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            if (text.isEmpty() || text.contains("${"))
            {
                throw new IllegalStateException("resource " + JVM_OPENS_RESOURCE + " was not filtered: '" +
                    text + "'");
            }
            return List.of(text.split("\\s+"));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * Throws when a setup-time sanity check fails. Setup only: the message is built before the call. Teardown checks
     * use plain {@code if}s so that their success path allocates nothing (JMH runs iteration and trial teardowns
     * inside the window that {@code -prof gc} charges to the last iteration).
     */
    static void check(final boolean condition, final String what)
    {
        if (!condition)
        {
            throw new IllegalStateException(what);
        }
    }

    /**
     * Releases {@code resources} when the fork exits rather than in a trial teardown: closing a Chronicle Map or
     * unmapping guest memory allocates (~130 KB), and JMH runs the trial teardown before {@code -prof gc} reads the
     * allocation counters of the last measured iteration, where it would show up as B/op of the data path.
     */
    static void closeAtExit(final AutoCloseable... resources)
    {
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            for (final AutoCloseable resource : resources)
            {
                try
                {
                    resource.close();
                }
                catch (final Exception ex)
                {
                    ex.printStackTrace();
                }
            }
        }, "bench-close"));
    }
}
