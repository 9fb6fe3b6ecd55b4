package dev.vswitch.bench;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A short run of the side-by-side loop harness (one pair, 3 s per run): the harness itself works end to end, both
 * devices under test forward, and it prints its verdict line. The real figures come from longer runs (RESULTS.md).
 */
class PvpCompareSmokeTest
{
    private static final Pattern MEDIAN =
        Pattern.compile("median: vswitch ([0-9.]+) Mpps, dpdk-vhost ([0-9.]+) Mpps, ratio ([0-9.]+)");
    private static final Pattern NOTIFY =
        Pattern.compile("vswitch: ([0-9]+) frames delivered, ([0-9]+) irqs = [0-9.e+-]+/frame, ([0-9]+) kicks");

    @Test
    void harnessRunsBothDevicesAndReportsARatio() throws Exception
    {
        final Path root = Path.of("..").toAbsolutePath().normalize();
        final Path script = root.resolve("bench/scripts/pvp-compare.sh");
        assertTrue(Files.isExecutable(script), script + " is executable");
        // The switch and DPDK's vhost PMD: OVS-DPDK is a benchmark peer (install-deps.sh --bench), not a suite one.
        final ProcessBuilder builder = new ProcessBuilder(script.toString(), "1", "3", "64").directory(root.toFile())
            .redirectErrorStream(true);
        builder.environment().put("DUTS", "vswitch dpdk");
        builder.environment().put("ISOLATE", "0");   // a test does not move the machine's interrupts about
        final Process p = builder.start();
        final boolean done = p.waitFor(180, TimeUnit.SECONDS);
        if (!done)
        {
            p.destroyForcibly();
        }
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        System.out.println(out);
        assertTrue(done, "harness finished within 180 s:\n" + out);
        final Matcher m = MEDIAN.matcher(out);
        assertTrue(m.find(), "harness printed its verdict:\n" + out);
        assertTrue(Double.parseDouble(m.group(1)) > 0.05, "the switch forwarded:\n" + out);
        assertTrue(Double.parseDouble(m.group(2)) > 0.05, "DPDK's vhost PMD forwarded:\n" + out);
        // Under full load the front ends poll, so interrupts must stay a rounding error (issue target: < 0.01/frame).
        final Matcher n = NOTIFY.matcher(out);
        assertTrue(n.find(), "harness read the switch's final counters:\n" + out);
        final long delivered = Long.parseLong(n.group(1));
        final long irqs = Long.parseLong(n.group(2));
        assertTrue(delivered > 100_000, "frames delivered:\n" + out);
        assertTrue(irqs < delivered / 100, "interrupts per frame below 0.01:\n" + out);
    }
}
