package dev.vswitch.bench.latency;

import dev.vswitch.core.VSwitch;
import dev.vswitch.core.config.ConfigLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The latency probe against an in-process switch: frames go round, come back, and get timed. */
class LatencyProbeSmokeTest
{
    @Test
    @Timeout(value = 20, unit = TimeUnit.SECONDS)
    void measuresRoundTripsThroughTheSwitch(@TempDir final Path dir) throws Exception
    {
        final String yaml = """
            ports:
              - {name: a, type: vhost-user, socket: %s}
              - {name: b, type: vhost-user, socket: %s}
            datapath: {cpus: [1], idle: busy-spin}
            stats: {interval-seconds: 0}
            """.formatted(dir.resolve("a.sock"), dir.resolve("b.sock"));
        final ByteArrayOutputStream log = new ByteArrayOutputStream();
        final LatencyProbe.Result r;
        try (VSwitch sw = VSwitch.start(ConfigLoader.parse(yaml, "smoke.yaml")))
        {
            final LatencyProbe.Options o = new LatencyProbe.Options();
            o.socketA = dir.resolve("a.sock");
            o.socketB = dir.resolve("b.sock");
            o.label = "smoke";
            o.loads = List.of(LatencyProbe.Load.parse("10k"));
            o.seconds = 3;
            o.warmupSeconds = 0.5;
            o.initialWarmupSeconds = 1;
            o.outDir = dir.resolve("out");
            o.log = new PrintStream(log, true, StandardCharsets.UTF_8);
            final List<LatencyProbe.Result> results = LatencyProbe.run(o);
            assertEquals(1, results.size());
            r = results.get(0);
            // The switch learned both MACs and forwarded the measured frames as unicast.
            assertEquals(2, sw.fdb().size(), "fdb entries");
        }
        final String out = log.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertTrue(r.received() > 1000, "frames back: " + r.line());
        assertTrue(r.lost() <= r.sent() / 100, "lost more than 1 %: " + r.line());
        assertTrue(r.p50() > 0 && r.p99() >= r.p50() && r.p999() >= r.p99() && r.max() >= r.p999(),
            "percentiles: " + r.line());
        assertTrue(out.contains("RESULT dut=smoke load=10k"), out);
        final Path hgrm = dir.resolve("out").resolve("smoke-10k.hgrm");
        assertTrue(Files.size(hgrm) > 0);
        final PercentilePlot.Distribution d = PercentilePlot.parse(hgrm);
        assertEquals(r.received(), d.count(), "hgrm sample count");
    }

    @Test
    void loadsParse()
    {
        assertEquals(new LatencyProbe.Load("10k", 10_000), LatencyProbe.Load.parse("10000"));
        assertEquals(new LatencyProbe.Load("500k", 500_000), LatencyProbe.Load.parse("500k"));
        assertEquals(new LatencyProbe.Load("1500k", 1_500_000), LatencyProbe.Load.parse("1.5m"));
        assertTrue(LatencyProbe.Load.parse("pingpong").pingPong());
    }

    @Test
    void frameTemplateIsAValidIpv4UdpFrame()
    {
        final byte[] f = LatencyProbe.frameTemplate();
        assertEquals(LatencyProbe.FRAME_LEN, f.length);
        int sum = 0;
        for (int i = 14; i < 34; i += 2)
        {
            sum += (f[i] & 0xff) << 8 | (f[i + 1] & 0xff);
        }
        while ((sum >>> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        assertEquals(0xffff, sum, "IPv4 header checksum");
        assertEquals(0x02, f[0]);
        assertEquals(0x0b, f[5]);
        assertEquals(0x0a, f[11]);
    }
}
