package dev.vswitch.bench.latency;

import org.HdrHistogram.Histogram;
import org.agrona.UnsafeAccess;
import sun.misc.Unsafe;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Round-trip latency through a vhost-user device under test (the switch, or DPDK testpmd's vhost PMD in io-fwd mode):
 * two measuring front ends, A and B, attach to the device's two sockets (the device is the server). One busy-polling
 * thread sends 64-byte UDP frames on A's TX ring at an offered rate, each carrying its send time and a sequence
 * number; B reflects every frame it receives straight back (MACs swapped); A records now - send time for every frame
 * that comes back into an HdrHistogram.
 *
 * <pre>
 * LatencyProbe --a A.sock --b B.sock [--label NAME] [--loads 10k,100k,500k,pingpong] [--seconds 5] [--warmup 1]
 *              [--initial-warmup 3] [--out DIR] [--cpu N] [--ring 256] [--kicks] [--connect-timeout-ms 10000]
 * </pre>
 *
 * A load is a rate in frames/s ({@code 10000}, {@code 10k}, {@code 1.5m}) or {@code pingpong}: one frame in flight,
 * the next one sent as soon as the previous one is back (or after 10 ms, counted lost). After a few learning round
 * trips, the highest load runs unrecorded for {@code --initial-warmup} seconds (so the JIT compilers of the probe and
 * of a Java device under test are done before anything is measured); then each load is warmed up for
 * {@code --warmup} seconds (not recorded) and measured for {@code --seconds}; frames still in flight get 200 ms to
 * come back. Per load: one {@code RESULT key=value ...} line on stdout and {@code DIR/LABEL-LOAD.hgrm} (HdrHistogram
 * percentile distribution, microseconds).
 * <p>
 * The send timestamp is taken when the frame is written, just before the avail index that exposes it is published;
 * the receive time when A's used index shows it. Both ends of the loop are the same thread, so there is no clock
 * skew, and the probe's own cost (two ring operations and a 64-byte copy at B) is part of every sample. If the
 * sender falls more than 1 ms behind its schedule (descheduled, or the device holds all TX descriptors) it does not
 * burst to catch up: the schedule restarts and the slip is counted ({@code slips}).
 * <p>
 * Other counters on the RESULT line: {@code tx_full}, send attempts that found every TX descriptor of A still held by
 * the device (it was not taking frames); {@code reflect_drops}, frames B could not send back for the same reason;
 * {@code reordered}, frames that came back after a later one; {@code gcs}, garbage collections in the probe's JVM
 * during the load (0 expected: the measuring loop does not allocate).
 */
public final class LatencyProbe
{
    static final int FRAME_LEN = 64;
    static final long MAC_A = 0x02_00_00_00_00_0aL;
    static final long MAC_B = 0x02_00_00_00_00_0bL;
    // Payload (UDP data at offset 42): magic, run id, sequence number, send time.
    static final int OFF_MAGIC = 42;
    static final int OFF_RUN = 46;
    static final int OFF_SEQ = 48;
    static final int OFF_TIME = 56;
    static final int MAGIC = 0x5054414c;   // "LATP" in little-endian memory

    private static final Unsafe U = UnsafeAccess.UNSAFE;
    private static final long HIGHEST_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long DRAIN_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final long PINGPONG_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long SLIP_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final int MAX_BURST = 32;

    /** An offered load: frames per second, or 0 for ping-pong (one frame in flight). */
    public record Load(String name, long rate)
    {
        public boolean pingPong()
        {
            return rate == 0;
        }

        /** {@code 10000}, {@code 10k}, {@code 2.5m}, {@code pingpong}. */
        public static Load parse(final String text)
        {
            final String t = text.trim().toLowerCase(Locale.ROOT);
            if (t.equals("pingpong") || t.equals("ping-pong") || t.equals("pp"))
            {
                return new Load("pingpong", 0);
            }
            double mult = 1;
            String num = t;
            if (t.endsWith("k"))
            {
                mult = 1e3;
                num = t.substring(0, t.length() - 1);
            }
            else if (t.endsWith("m"))
            {
                mult = 1e6;
                num = t.substring(0, t.length() - 1);
            }
            final long rate = Math.round(Double.parseDouble(num) * mult);
            if (rate <= 0 || rate > 100_000_000L)
            {
                throw new IllegalArgumentException("load '" + text + "': rate must be 1..100m frames/s");
            }
            return new Load(name(rate), rate);
        }

        static String name(final long rate)
        {
            if (rate % 1_000_000 == 0)
            {
                return rate / 1_000_000 + "m";
            }
            if (rate % 1_000 == 0)
            {
                return rate / 1_000 + "k";
            }
            return Long.toString(rate);
        }
    }

    /** What one measured load produced. Latencies in microseconds. */
    public record Result(String dut, Load load, double seconds, long sent, long received, long lost, long slips,
        long txFull, long reflectDrops, long reordered, long gcs, double p50, double p90, double p99, double p999,
        double p9999, double max, double mean, Histogram histogram)
    {
        public double achievedPps()
        {
            return received / seconds;
        }

        /** The machine-readable line: {@code RESULT key=value ...}. */
        public String line()
        {
            return String.format(Locale.ROOT, "RESULT dut=%s load=%s offered_pps=%d seconds=%.1f sent=%d received=%d " +
                    "lost=%d achieved_pps=%.0f p50_us=%.2f p90_us=%.2f p99_us=%.2f p999_us=%.2f p9999_us=%.2f " +
                    "max_us=%.2f mean_us=%.2f slips=%d tx_full=%d reflect_drops=%d reordered=%d gcs=%d",
                dut, load.name(), load.rate(), seconds, sent, received, lost, achievedPps(), p50, p90, p99, p999, p9999,
                max, mean, slips, txFull, reflectDrops, reordered, gcs);
        }
    }

    /** Everything a run needs; see the class comment for the command-line names. */
    public static final class Options
    {
        public Path socketA;
        public Path socketB;
        public String label = "dut";
        public List<Load> loads = List.of(Load.parse("10k"), Load.parse("100k"), Load.parse("500k"),
            Load.parse("pingpong"));
        public double seconds = 5;
        public double warmupSeconds = 1;
        public double initialWarmupSeconds = 3;
        public Path outDir;
        public int cpu = -1;
        public int ringSize = 256;
        public boolean kicks;
        public int connectTimeoutMillis = 10_000;
        public PrintStream log = System.out;
    }

    private final Options options;
    private final ProbePort a;
    private final ProbePort b;
    private final long[] frameTemplate = new long[FRAME_LEN / 8];

    // State of the phase in progress (fields so the poll helpers can share it without allocating).
    private short runId;
    private boolean pingPong;
    private Histogram histogram;
    private long sent;
    private long received;
    private long stale;
    private long reordered;
    private long lastSeq;
    private long reflectDrops;
    private long txFull;
    private long outstandingSeq = -1;

    private LatencyProbe(final Options options, final ProbePort a, final ProbePort b)
    {
        this.options = options;
        this.a = a;
        this.b = b;
        final byte[] frame = frameTemplate();
        for (int i = 0; i < frameTemplate.length; i++)
        {
            long v = 0;
            for (int j = 7; j >= 0; j--)
            {
                v = v << 8 | (frame[8 * i + j] & 0xff);
            }
            frameTemplate[i] = v;
        }
    }

    /** Connects, learns, measures every load, disconnects. */
    public static List<Result> run(final Options o) throws IOException
    {
        if (o.socketA == null || o.socketB == null)
        {
            throw new IllegalArgumentException("both sockets (--a, --b) are required");
        }
        if (o.outDir != null)
        {
            Files.createDirectories(o.outDir);
        }
        pin(o);
        try (ProbePort a = ProbePort.open("A", o.socketA, o.ringSize, o.kicks, o.connectTimeoutMillis);
             ProbePort b = ProbePort.open("B", o.socketB, o.ringSize, o.kicks, o.connectTimeoutMillis))
        {
            o.log.printf(Locale.ROOT, "probe: %s: A on %s, B on %s, features 0x%x / 0x%x, header %d B, ring %d, kicks %s%n",
                o.label, o.socketA, o.socketB, a.features(), b.features(), a.headerLength(), o.ringSize,
                o.kicks ? "on" : "off");
            return new LatencyProbe(o, a, b).measureAll();
        }
    }

    private static void pin(final Options o)
    {
        if (o.cpu < 0)
        {
            return;
        }
        try
        {
            net.openhft.affinity.Affinity.setAffinity(o.cpu);
            o.log.println("probe: thread pinned to CPU " + o.cpu);
        }
        catch (final RuntimeException | LinkageError ex)
        {
            o.log.println("probe: could not pin to CPU " + o.cpu + " (" + ex + "); running unpinned");
        }
    }

    private List<Result> measureAll() throws IOException
    {
        learn();
        final List<Result> results = new ArrayList<>();
        final Histogram scratch = new Histogram(HIGHEST_NANOS, 3);
        if (options.initialWarmupSeconds > 0)
        {
            // Both ends' JIT compilers (probe and device under test, if it is a JVM) finish before the first load.
            long rate = 0;
            for (final Load l : options.loads)
            {
                rate = Math.max(rate, l.rate());
            }
            final Load warm = new Load("warm-up", rate == 0 ? 100_000 : rate);
            options.log.printf(Locale.ROOT, "probe: %s: warming up for %.1f s at %d frames/s%n", options.label,
                options.initialWarmupSeconds, warm.rate());
            phase(warm, options.initialWarmupSeconds, scratch);
        }
        for (final Load load : options.loads)
        {
            if (options.warmupSeconds > 0)
            {
                scratch.reset();
                phase(load, options.warmupSeconds, scratch);
            }
            final Histogram h = new Histogram(HIGHEST_NANOS, 3);
            options.log.println("probe: " + options.label + ": measuring " + load.name() + " from " +
                java.time.Instant.now());
            final long gcBefore = gcCount();
            final long slips = phase(load, options.seconds, h);
            final long gcs = gcCount() - gcBefore;
            final Result r = new Result(options.label, load, options.seconds, sent, received,
                Math.max(0, sent - received), slips, txFull, reflectDrops, reordered, gcs,
                us(h.getValueAtPercentile(50)), us(h.getValueAtPercentile(90)), us(h.getValueAtPercentile(99)),
                us(h.getValueAtPercentile(99.9)), us(h.getValueAtPercentile(99.99)), us(h.getMaxValue()),
                h.getTotalCount() == 0 ? 0 : h.getMean() / 1000.0, h);
            results.add(r);
            options.log.println(r.line());
            if (options.outDir != null)
            {
                final Path file = options.outDir.resolve(options.label + "-" + load.name() + ".hgrm");
                try (PrintStream ps = new PrintStream(Files.newOutputStream(file), false, "UTF-8"))
                {
                    h.outputPercentileDistribution(ps, 10, 1000.0);
                }
                Files.writeString(options.outDir.resolve(options.label + "-results.txt"), r.line() + "\n",
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            }
        }
        return results;
    }

    private static double us(final double nanos)
    {
        return nanos / 1000.0;
    }

    private static long gcCount()
    {
        long n = 0;
        for (final GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans())
        {
            n += Math.max(0, gc.getCollectionCount());
        }
        return n;
    }

    // ------------------------------------------------------------------ learning

    /**
     * Round trips at a walk until 8 have come back, so a learning switch knows A's MAC (from A's frames) and B's
     * (from B's reflections) before anything is measured, and so we know the device forwards at all.
     */
    private void learn() throws IOException
    {
        startPhase(true, new Histogram(HIGHEST_NANOS, 3));
        final long timeoutMillis = Math.max(5_000, options.connectTimeoutMillis);
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        long lastSend = 0;
        int attempts = 0;
        while (received < 8)
        {
            final long now = System.nanoTime();
            if (now - deadline > 0)
            {
                throw new IOException("device under test returned " + received + " of " + attempts +
                    " learning frames within " + timeoutMillis + " ms; is it forwarding between the two sockets?");
            }
            if (outstandingSeq < 0 || now - lastSend > TimeUnit.MILLISECONDS.toNanos(100))
            {
                if (send(now))
                {
                    a.txPublish();
                    outstandingSeq = sent - 1;
                    lastSend = now;
                    attempts++;
                }
            }
            pollB();
            pollA();
        }
        options.log.println("probe: " + options.label + ": learning done (" + received + " of " + attempts +
            " frames back)");
    }

    // ------------------------------------------------------------------ one phase

    private void startPhase(final boolean pingPong, final Histogram h)
    {
        runId++;
        this.pingPong = pingPong;
        histogram = h;
        sent = 0;
        received = 0;
        stale = 0;
        reordered = 0;
        lastSeq = -1;
        reflectDrops = 0;
        txFull = 0;
        outstandingSeq = -1;
    }

    /** Offers {@code load} for {@code seconds}, then drains; returns the number of schedule slips. */
    private long phase(final Load load, final double seconds, final Histogram h)
    {
        startPhase(load.pingPong(), h);
        final long rate = load.rate();
        final long start = System.nanoTime();
        final long end = start + (long)(seconds * 1e9);
        long base = start;        // schedule origin
        long sinceBase = 0;       // frames sent since the origin
        long slips = 0;
        long outstandingSince = 0;
        long drainUntil = Long.MAX_VALUE;
        while (true)
        {
            final long now = System.nanoTime();
            if (drainUntil == Long.MAX_VALUE)
            {
                if (now - end >= 0)
                {
                    drainUntil = now + DRAIN_NANOS;
                }
                else if (pingPong)
                {
                    if (outstandingSeq < 0 || now - outstandingSince > PINGPONG_TIMEOUT_NANOS)
                    {
                        if (send(now))
                        {
                            a.txPublish();
                            outstandingSeq = sent - 1;
                            outstandingSince = now;
                        }
                    }
                }
                else
                {
                    long due = base + sinceBase * 1_000_000_000L / rate;
                    if (now - due > SLIP_NANOS)
                    {
                        slips++;
                        base = now;
                        sinceBase = 0;
                        due = now;
                    }
                    int burst = 0;
                    while (due - now <= 0 && burst < MAX_BURST && send(now))
                    {
                        burst++;
                        sinceBase++;
                        due = base + sinceBase * 1_000_000_000L / rate;
                    }
                    if (burst > 0)
                    {
                        a.txPublish();
                    }
                }
            }
            else if (now - drainUntil > 0 || received >= sent || (pingPong && outstandingSeq < 0))
            {
                return slips;
            }
            pollB();
            pollA();
        }
    }

    /** Writes the next frame into a free TX buffer of A and queues it (the caller publishes). */
    private boolean send(final long now)
    {
        final int id = a.txAcquire();
        if (id < 0)
        {
            txFull++;
            return false;
        }
        final long f = a.txFrame(id);
        for (int i = 0; i < frameTemplate.length; i++)
        {
            U.putLong(f + 8L * i, frameTemplate[i]);
        }
        U.putShort(f + OFF_RUN, runId);
        U.putLong(f + OFF_SEQ, sent);
        U.putLong(f + OFF_TIME, now);
        a.txPost(id, FRAME_LEN);
        sent++;
        return true;
    }

    /** B: every frame received goes straight back out on B's TX, src B, dst A. */
    private void pollB()
    {
        final ProbePort b = this.b;
        final int n = b.rxPending();
        if (n == 0)
        {
            return;
        }
        final int hdr = b.headerLength();
        int posted = 0;
        for (int k = 0; k < n; k++)
        {
            final int id = b.rxId(k);
            final int len = Math.min(b.rxLen(k) - hdr, ProbePort.BUFFER_BYTES - hdr);
            final long frame = b.rxFrame(id);
            if (len >= FRAME_LEN && U.getInt(frame + OFF_MAGIC) == MAGIC)
            {
                final int tid = b.txAcquire();
                if (tid < 0)
                {
                    reflectDrops++;
                }
                else
                {
                    final long out = b.txFrame(tid);
                    U.copyMemory(frame, out, len);
                    putMac(out, MAC_A);
                    putMac(out + 6, MAC_B);
                    b.txPost(tid, len);
                    posted++;
                }
            }
            b.rxRepost(id);
        }
        b.rxConsume(n);
        b.rxPublish();
        if (posted > 0)
        {
            b.txPublish();
        }
    }

    /** A: frames of this phase that came back are timed and counted. */
    private void pollA()
    {
        final ProbePort a = this.a;
        final int n = a.rxPending();
        if (n == 0)
        {
            return;
        }
        final long now = System.nanoTime();
        final int hdr = a.headerLength();
        for (int k = 0; k < n; k++)
        {
            final int id = a.rxId(k);
            final int len = a.rxLen(k) - hdr;
            final long frame = a.rxFrame(id);
            if (len >= FRAME_LEN && U.getInt(frame + OFF_MAGIC) == MAGIC && U.getShort(frame + OFF_RUN) == runId)
            {
                final long seq = U.getLong(frame + OFF_SEQ);
                if (pingPong && seq != outstandingSeq)
                {
                    stale++;          // came back after its timeout; already counted lost
                }
                else
                {
                    histogram.recordValue(Math.min(Math.max(now - U.getLong(frame + OFF_TIME), 0), HIGHEST_NANOS));
                    received++;
                    if (seq < lastSeq)
                    {
                        reordered++;
                    }
                    lastSeq = seq;
                    if (pingPong)
                    {
                        outstandingSeq = -1;
                    }
                }
            }
            else
            {
                stale++;
            }
            a.rxRepost(id);
        }
        a.rxConsume(n);
        a.rxPublish();
    }

    private static void putMac(final long address, final long mac)
    {
        for (int i = 0; i < 6; i++)
        {
            U.putByte(address + i, (byte)(mac >>> (40 - 8 * i)));
        }
    }

    /** Ethernet (dst B, src A) + IPv4 10.0.0.1 -> 10.0.0.2 + UDP 1024 -> 1025, 64 bytes, payload filled per frame. */
    static byte[] frameTemplate()
    {
        final byte[] f = new byte[FRAME_LEN];
        for (int i = 0; i < 6; i++)
        {
            f[i] = (byte)(MAC_B >>> (40 - 8 * i));
            f[6 + i] = (byte)(MAC_A >>> (40 - 8 * i));
        }
        f[12] = 0x08;
        f[13] = 0x00;
        final int ip = 14;
        final int ipLen = FRAME_LEN - ip;
        f[ip] = 0x45;
        f[ip + 2] = (byte)(ipLen >>> 8);
        f[ip + 3] = (byte)ipLen;
        f[ip + 8] = 64;                      // TTL
        f[ip + 9] = 17;                      // UDP
        f[ip + 12] = 10;
        f[ip + 15] = 1;                      // 10.0.0.1
        f[ip + 16] = 10;
        f[ip + 19] = 2;                      // 10.0.0.2
        int sum = 0;
        for (int i = 0; i < 20; i += 2)
        {
            sum += (f[ip + i] & 0xff) << 8 | (f[ip + i + 1] & 0xff);
        }
        sum = (sum & 0xffff) + (sum >>> 16);
        sum = (sum & 0xffff) + (sum >>> 16);
        f[ip + 10] = (byte)(~sum >>> 8);
        f[ip + 11] = (byte)~sum;
        final int udp = ip + 20;
        final int udpLen = FRAME_LEN - udp;
        f[udp] = 0x04;                       // 1024
        f[udp + 2] = 0x04;
        f[udp + 3] = 0x01;                   // 1025
        f[udp + 4] = (byte)(udpLen >>> 8);
        f[udp + 5] = (byte)udpLen;           // checksum 0: none (IPv4)
        f[OFF_MAGIC] = 'L';
        f[OFF_MAGIC + 1] = 'A';
        f[OFF_MAGIC + 2] = 'T';
        f[OFF_MAGIC + 3] = 'P';
        return f;
    }

    // ------------------------------------------------------------------ command line

    public static void main(final String[] args)
    {
        final Options o = new Options();
        try
        {
            for (int i = 0; i < args.length; i++)
            {
                final String arg = args[i];
                switch (arg)
                {
                    case "--a" -> o.socketA = Path.of(value(args, ++i, arg));
                    case "--b" -> o.socketB = Path.of(value(args, ++i, arg));
                    case "--label" -> o.label = value(args, ++i, arg);
                    case "--loads" ->
                    {
                        final List<Load> loads = new ArrayList<>();
                        for (final String s : value(args, ++i, arg).split(","))
                        {
                            loads.add(Load.parse(s));
                        }
                        o.loads = loads;
                    }
                    case "--seconds" -> o.seconds = Double.parseDouble(value(args, ++i, arg));
                    case "--warmup" -> o.warmupSeconds = Double.parseDouble(value(args, ++i, arg));
                    case "--initial-warmup" -> o.initialWarmupSeconds = Double.parseDouble(value(args, ++i, arg));
                    case "--out" -> o.outDir = Path.of(value(args, ++i, arg));
                    case "--cpu" -> o.cpu = Integer.parseInt(value(args, ++i, arg));
                    case "--ring" -> o.ringSize = Integer.parseInt(value(args, ++i, arg));
                    case "--kicks" -> o.kicks = true;
                    case "--connect-timeout-ms" -> o.connectTimeoutMillis = Integer.parseInt(value(args, ++i, arg));
                    case "-h", "--help" ->
                    {
                        System.out.println("usage: LatencyProbe --a A.sock --b B.sock [--label NAME] " +
                            "[--loads 10k,100k,500k,pingpong] [--seconds 5] [--warmup 1] [--initial-warmup 3] [--out DIR] " +
                            "[--cpu N] " +
                            "[--ring 256] [--kicks] [--connect-timeout-ms 10000]");
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown argument '" + arg + "'");
                }
            }
            if (o.seconds <= 0 || o.warmupSeconds < 0)
            {
                throw new IllegalArgumentException("--seconds must be > 0 and --warmup >= 0");
            }
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("LatencyProbe: " + ex.getMessage());
            System.exit(2);
            return;
        }
        try
        {
            run(o);
        }
        catch (final IOException | RuntimeException ex)
        {
            System.err.println("LatencyProbe: " + ex);
            System.exit(1);
        }
        System.exit(0);
    }

    private static String value(final String[] args, final int i, final String name)
    {
        if (i >= args.length)
        {
            throw new IllegalArgumentException(name + " needs a value");
        }
        return args[i];
    }
}
