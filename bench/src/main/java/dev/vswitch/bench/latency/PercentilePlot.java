package dev.vswitch.bench.latency;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Draws latency-by-percentile curves from HdrHistogram {@code .hgrm} files (what {@link LatencyProbe} writes): one
 * panel per load, one curve per device under test, latency on a log scale (µs) against percentile on the usual
 * "nines" scale (x = -log10(1 - p): 0, 90, 99, 99.9, ...). Headless java.awt only.
 *
 * <pre>
 * PercentilePlot --out latency.png [--title TEXT] [--loads 10k,100k,500k,pingpong]
 *                --series 'vswitch=DIR1,DIR2' --series 'DPDK testpmd io-fwd=DIR3,DIR4'
 * </pre>
 *
 * Each series names one or more run directories; in each, the file {@code *-LOAD.hgrm} is that run's distribution.
 * With several runs, the curve is the median over runs of the latency at each percentile (the same statistic as the
 * table latency-compare.sh prints). A curve ends at the highest percentile every run has a sample for
 * (1 - 1/count), at most 99.999.
 */
public final class PercentilePlot
{
    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
        new Color(0x9467bd), new Color(0xff7f0e)};
    private static final double MAX_NINES = 5;

    /** One .hgrm file: (value µs, percentile 0..1) rows in order, and the sample count. */
    record Distribution(double[] values, double[] percentiles, long count)
    {
        /**
         * Latency at percentile {@code p} (0..1): interpolated between the two rows around it (linear in the log of
         * the value against nines), the first row at or below the lowest percentile, the last one above the highest.
         */
        double valueAt(final double p)
        {
            int i = 0;
            while (i < percentiles.length && percentiles[i] < p - 1e-12)
            {
                i++;
            }
            if (i == 0)
            {
                return values[0];
            }
            if (i == percentiles.length)
            {
                return values[values.length - 1];
            }
            final double x0 = nines(percentiles[i - 1]);
            final double x1 = nines(percentiles[i]);
            final double v0 = Math.max(values[i - 1], 1e-3);
            final double v1 = Math.max(values[i], 1e-3);
            if (!(x1 > x0) || Double.isInfinite(x1))
            {
                return values[i];
            }
            final double t = (nines(p) - x0) / (x1 - x0);
            return Math.pow(10, Math.log10(v0) + t * (Math.log10(v1) - Math.log10(v0)));
        }

        private static double nines(final double p)
        {
            return p >= 1 ? Double.POSITIVE_INFINITY : -Math.log10(1 - p);
        }

        double maxNines()
        {
            return count <= 1 ? 0 : Math.min(MAX_NINES, Math.log10(count));
        }
    }

    record Curve(String series, double[] x, double[] y)
    {
    }

    private PercentilePlot()
    {
    }

    /** Parses the text {@code Histogram.outputPercentileDistribution} writes. */
    static Distribution parse(final Path file) throws IOException
    {
        final List<double[]> rows = new ArrayList<>();
        long count = 0;
        for (final String raw : Files.readAllLines(file))
        {
            final String line = raw.trim();
            if (line.isEmpty() || line.startsWith("#") || !Character.isDigit(line.charAt(0)))
            {
                continue;
            }
            final String[] f = line.split("\\s+");
            if (f.length < 3)
            {
                continue;
            }
            try
            {
                rows.add(new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1])});
                count = Math.max(count, Long.parseLong(f[2]));
            }
            catch (final NumberFormatException ignored)
            {
                // header line
            }
        }
        if (rows.isEmpty())
        {
            throw new IOException(file + ": no percentile rows (empty histogram?)");
        }
        final double[] v = new double[rows.size()];
        final double[] p = new double[rows.size()];
        for (int i = 0; i < v.length; i++)
        {
            v[i] = rows.get(i)[0];
            p[i] = rows.get(i)[1];
        }
        return new Distribution(v, p, count);
    }

    static Path find(final Path dir, final String load) throws IOException
    {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*-" + load + ".hgrm"))
        {
            for (final Path p : ds)
            {
                return p;
            }
        }
        return null;
    }

    /** Median over runs of the latency at each percentile of a fine nines grid. */
    static Curve combine(final String series, final List<Distribution> runs)
    {
        double end = MAX_NINES;
        for (final Distribution d : runs)
        {
            end = Math.min(end, d.maxNines());
        }
        final int n = Math.max(2, (int)Math.round(end / 0.01) + 1);
        final double[] x = new double[n];
        final double[] y = new double[n];
        final double[] at = new double[runs.size()];
        for (int i = 0; i < n; i++)
        {
            x[i] = end * i / (n - 1);
            final double p = 1 - Math.pow(10, -x[i]);
            for (int r = 0; r < at.length; r++)
            {
                at[r] = runs.get(r).valueAt(p);
            }
            Arrays.sort(at);
            y[i] = at.length % 2 == 1 ? at[at.length / 2] : (at[at.length / 2 - 1] + at[at.length / 2]) / 2;
        }
        return new Curve(series, x, y);
    }

    public static void main(final String[] args) throws IOException
    {
        Path out = Path.of("latency.png");
        String title = "Round-trip latency through the device under test";
        List<String> loads = List.of("10k", "100k", "500k", "pingpong");
        final Map<String, List<Path>> series = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--out" -> out = Path.of(args[++i]);
                case "--title" -> title = args[++i];
                case "--loads" -> loads = List.of(args[++i].split(","));
                case "--series" ->
                {
                    final String spec = args[++i];
                    final int eq = spec.indexOf('=');
                    if (eq <= 0)
                    {
                        throw new IllegalArgumentException("--series NAME=DIR[,DIR...], got '" + spec + "'");
                    }
                    final List<Path> dirs = new ArrayList<>();
                    for (final String d : spec.substring(eq + 1).split(","))
                    {
                        dirs.add(Path.of(d));
                    }
                    series.put(spec.substring(0, eq), dirs);
                }
                default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'");
            }
        }
        if (series.isEmpty())
        {
            throw new IllegalArgumentException("no --series given");
        }
        final Map<String, List<Curve>> panels = new LinkedHashMap<>();
        final Map<String, Integer> runsPerSeries = new LinkedHashMap<>();
        for (final String load : loads)
        {
            final List<Curve> curves = new ArrayList<>();
            for (final Map.Entry<String, List<Path>> s : series.entrySet())
            {
                final List<Distribution> runs = new ArrayList<>();
                for (final Path dir : s.getValue())
                {
                    final Path f = find(dir, load);
                    if (f != null)
                    {
                        runs.add(parse(f));
                    }
                }
                if (!runs.isEmpty())
                {
                    curves.add(combine(s.getKey(), runs));
                    runsPerSeries.merge(s.getKey(), runs.size(), Math::max);
                }
            }
            panels.put(load, curves);
        }
        ImageIO.write(render(title, panels, new ArrayList<>(series.keySet()), runsPerSeries), "png", out.toFile());
        System.out.println("wrote " + out);
    }

    // ------------------------------------------------------------------ drawing

    static BufferedImage render(final String title, final Map<String, List<Curve>> panels, final List<String> names,
        final Map<String, Integer> runs)
    {
        final int cols = panels.size() <= 1 ? 1 : 2;
        final int rows = (panels.size() + cols - 1) / cols;
        final int panelW = 700;
        final int panelH = 430;
        final int top = 70;
        final int w = cols * panelW;
        final int h = top + rows * panelH + 10;
        final BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        final Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);

        // One y range for every panel, so loads compare at a glance.
        double lo = Double.MAX_VALUE;
        double hi = 0;
        for (final List<Curve> cs : panels.values())
        {
            for (final Curve c : cs)
            {
                for (final double v : c.y())
                {
                    if (v > 0)
                    {
                        lo = Math.min(lo, v);
                        hi = Math.max(hi, v);
                    }
                }
            }
        }
        if (hi == 0)
        {
            lo = 1;
            hi = 10;
        }
        final double yMin = Math.pow(10, Math.floor(Math.log10(lo)));
        final double yMax = Math.pow(10, Math.ceil(Math.log10(hi * 1.0001)));
        double xMax = 1;
        for (final List<Curve> cs : panels.values())
        {
            for (final Curve c : cs)
            {
                xMax = Math.max(xMax, c.x()[c.x().length - 1]);
            }
        }
        xMax = Math.min(MAX_NINES, Math.ceil(xMax));

        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 20));
        centered(g, title, w / 2, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
        centered(g, "64-byte UDP frames, A -> DUT -> B (reflected) -> DUT -> A; curve = median over runs of the " +
            "latency at each percentile", w / 2, 54);

        int i = 0;
        for (final Map.Entry<String, List<Curve>> e : panels.entrySet())
        {
            final int px = (i % cols) * panelW;
            final int py = top + (i / cols) * panelH;
            panel(g, px, py, panelW, panelH, e.getKey(), e.getValue(), names, runs, yMin, yMax, xMax);
            i++;
        }
        g.dispose();
        return img;
    }

    private static void panel(final Graphics2D g, final int px, final int py, final int pw, final int ph,
        final String load, final List<Curve> curves, final List<String> names, final Map<String, Integer> runs,
        final double yMin, final double yMax, final double xMax)
    {
        final int left = px + 80;
        final int right = px + pw - 25;
        final int top = py + 35;
        final int bottom = py + ph - 60;
        final double ly0 = Math.log10(yMin);
        final double ly1 = Math.log10(yMax);

        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        centered(g, load.equals("pingpong") ? "ping-pong (1 frame in flight)" : "offered load " + load + " frames/s",
            (left + right) / 2, py + 22);

        // Grid and y ticks: 1, 2, 5 x 10^k.
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (double dec = yMin; dec < yMax * 1.0001; dec *= 10)
        {
            for (final int m : new int[] {1, 2, 5})
            {
                final double v = dec * m;
                if (v > yMax * 1.0001)
                {
                    break;
                }
                final int y = yPix(v, ly0, ly1, top, bottom);
                g.setColor(m == 1 ? new Color(0xcccccc) : new Color(0xeeeeee));
                g.drawLine(left, y, right, y);
                g.setColor(Color.DARK_GRAY);
                final String label = formatUs(v);
                g.drawString(label, left - 8 - g.getFontMetrics().stringWidth(label), y + 4);
            }
        }
        // x ticks: 0, 90, 99, 99.9, ...
        final String[] xLabels = {"0", "90", "99", "99.9", "99.99", "99.999"};
        for (int k = 0; k <= (int)xMax; k++)
        {
            final int x = xPix(k, xMax, left, right);
            g.setColor(new Color(0xcccccc));
            g.drawLine(x, top, x, bottom);
            g.setColor(Color.DARK_GRAY);
            centered(g, xLabels[k], x, bottom + 18);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, right - left, bottom - top);
        centered(g, "percentile (log scale of nines)", (left + right) / 2, bottom + 40);
        final AffineTransform saved = g.getTransform();
        g.rotate(-Math.PI / 2, px + 18, (top + bottom) / 2.0);
        centered(g, "round-trip latency (µs, log scale)", px + 18, (top + bottom) / 2 + 5);
        g.setTransform(saved);

        // Curves.
        final java.awt.Shape clip = g.getClip();
        g.setClip(left, top, right - left + 1, bottom - top + 1);
        for (final Curve c : curves)
        {
            final Color color = COLORS[Math.max(0, names.indexOf(c.series())) % COLORS.length];
            g.setColor(color);
            g.setStroke(new BasicStroke(2.2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            final Path2D.Double path = new Path2D.Double();
            for (int k = 0; k < c.x().length; k++)
            {
                final double xx = xPixD(c.x()[k], xMax, left, right);
                final double yy = yPixD(Math.max(c.y()[k], yMin), ly0, ly1, top, bottom);
                if (k == 0)
                {
                    path.moveTo(xx, yy);
                }
                else
                {
                    path.lineTo(xx, yy);
                }
            }
            g.draw(path);
        }
        g.setClip(clip);
        g.setStroke(new BasicStroke(1f));

        // Legend (top left, inside the plot) with p50 / p99 of each curve.
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        final FontMetrics fm = g.getFontMetrics();
        int ly = top + 10;
        int maxW = 0;
        final List<String> texts = new ArrayList<>();
        for (final Curve c : curves)
        {
            final int n = runs.getOrDefault(c.series(), 1);
            final String t = c.series() + (n > 1 ? " (" + n + " runs)" : "") + ": p50 " +
                formatUs(at(c, 50)) + ", p99 " + formatUs(at(c, 99)) + " µs";
            texts.add(t);
            maxW = Math.max(maxW, fm.stringWidth(t));
        }
        if (!curves.isEmpty())
        {
            g.setColor(new Color(255, 255, 255, 230));
            g.fillRect(left + 8, ly - 4, maxW + 42, curves.size() * 18 + 8);
            g.setColor(Color.GRAY);
            g.drawRect(left + 8, ly - 4, maxW + 42, curves.size() * 18 + 8);
        }
        for (int k = 0; k < curves.size(); k++)
        {
            final Curve c = curves.get(k);
            g.setColor(COLORS[Math.max(0, names.indexOf(c.series())) % COLORS.length]);
            g.setStroke(new BasicStroke(3f));
            g.drawLine(left + 14, ly + 9, left + 38, ly + 9);
            g.setStroke(new BasicStroke(1f));
            g.setColor(Color.BLACK);
            g.drawString(texts.get(k), left + 44, ly + 14);
            ly += 18;
        }
        if (curves.isEmpty())
        {
            g.setColor(Color.GRAY);
            centered(g, "no data", (left + right) / 2, (top + bottom) / 2);
        }
    }

    /** The curve's value at {@code percentile} (0..100), read off its grid. */
    private static double at(final Curve c, final double percentile)
    {
        final double x = -Math.log10(1 - percentile / 100);
        double best = c.y()[0];
        for (int k = 0; k < c.x().length && c.x()[k] <= x + 1e-9; k++)
        {
            best = c.y()[k];
        }
        return best;
    }

    private static String formatUs(final double v)
    {
        if (v >= 100)
        {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (v >= 10)
        {
            return String.format(Locale.ROOT, "%.1f", v).replaceAll("\\.0$", "");
        }
        if (v >= 1)
        {
            return String.format(Locale.ROOT, "%.2f", v).replaceAll("\\.?0+$", "");
        }
        return String.format(Locale.ROOT, "%.3f", v).replaceAll("\\.?0+$", "");
    }

    private static int xPix(final double nines, final double xMax, final int left, final int right)
    {
        return (int)Math.round(xPixD(nines, xMax, left, right));
    }

    private static double xPixD(final double nines, final double xMax, final int left, final int right)
    {
        return left + (right - left) * nines / xMax;
    }

    private static int yPix(final double v, final double ly0, final double ly1, final int top, final int bottom)
    {
        return (int)Math.round(yPixD(v, ly0, ly1, top, bottom));
    }

    private static double yPixD(final double v, final double ly0, final double ly1, final int top, final int bottom)
    {
        return bottom - (bottom - top) * (Math.log10(v) - ly0) / (ly1 - ly0);
    }

    private static void centered(final Graphics2D g, final String s, final int x, final int y)
    {
        g.drawString(s, x - g.getFontMetrics().stringWidth(s) / 2, y);
    }
}
