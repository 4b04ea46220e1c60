package dev.editr1.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import javax.imageio.ImageIO;

import dev.editr1.data.ImageLoader;

/** PNG outputs of a run: the held-out grid and the trend plot (reward, true quality, held-out, monitor). Written atomically. */
public final class Pictures {
    private Pictures() {}

    static int rgb(float[] img, int n, int i) {
        int r = ImageLoader.toByte(img[i]), g = ImageLoader.toByte(img[n + i]), b = ImageLoader.toByte(img[2 * n + i]);
        return (r << 16) | (g << 8) | b;
    }

    /** An image scaled by an integer factor; a null image (no target) is left as the background. */
    private static void drawImage(BufferedImage out, float[] img, int size, int x0, int y0, int scale) {
        if (img == null) return;
        int n = size * size;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                int c = rgb(img, n, y * size + x);
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++) out.setRGB(x0 + x * scale + dx, y0 + y * scale + dy, c);
            }
    }

    /**
     * One row per example: source | instruction | base | trained | target (null when the task has none).
     *
     * @param note a line under the instruction (e.g. the two scores)
     */
    public record Row(float[] source, String instruction, float[] base, float[] trained, float[] target, String note) {}

    public static void grid(Path file, List<Row> rows, int size) throws IOException {
        write(gridImage(rows, size), file);
    }

    /** The grid as an image (for a file or a TensorBoard image summary). */
    public static BufferedImage gridImage(List<Row> rows, int size) {
        int scale = Math.max(1, 96 / size), cell = size * scale, pad = 6, textW = 280;
        int w = pad + (cell + pad) * 4 + textW + pad, h = pad + 18 + rows.size() * (cell + pad);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(new Color(30, 30, 30));
        g.fillRect(0, 0, w, h);
        boolean text = true;
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            g.setColor(Color.WHITE);
            String[] head = {"source", "instruction", "base", "trained", "target"};
            int x = pad;
            for (int i = 0; i < head.length; i++) {
                g.drawString(head[i], x, pad + 12);
                x += (i == 1 ? textW : cell) + pad;
            }
        } catch (Throwable e) { // no fonts on this machine: the images still say most of it
            text = false;
        }
        for (int r = 0; r < rows.size(); r++) {
            Row row = rows.get(r);
            int y = pad + 18 + r * (cell + pad), x = pad;
            drawImage(img, row.source(), size, x, y, scale);
            x += cell + pad;
            if (text) {
                g.setColor(Color.WHITE);
                drawWrapped(g, row.instruction(), x, y + 14, textW - 8);
                g.setColor(new Color(180, 180, 180));
                g.drawString(row.note(), x, y + cell - 4);
            }
            x += textW + pad;
            drawImage(img, row.base(), size, x, y, scale);
            x += cell + pad;
            drawImage(img, row.trained(), size, x, y, scale);
            x += cell + pad;
            drawImage(img, row.target(), size, x, y, scale);
        }
        g.dispose();
        return img;
    }

    /** PNG bytes of an image. */
    public static byte[] png(BufferedImage img) throws IOException {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        if (!ImageIO.write(img, "png", b)) throw new IOException("no PNG writer");
        return b.toByteArray();
    }

    private static void drawWrapped(Graphics2D g, String s, int x, int y, int width) {
        StringBuilder line = new StringBuilder();
        for (String word : s.split(" ")) {
            String next = line.length() == 0 ? word : line + " " + word;
            if (g.getFontMetrics().stringWidth(next) > width && line.length() > 0) {
                g.drawString(line.toString(), x, y);
                y += 15;
                line = new StringBuilder(word);
            } else {
                line = new StringBuilder(next);
            }
        }
        if (line.length() > 0) g.drawString(line.toString(), x, y);
    }

    /**
     * What the trend plot shows.
     *
     * @param reward    the judge's mean reward per epoch
     * @param quality   true quality per epoch (NaN without targets)
     * @param heldOut   held-out evaluations (epoch 0 = the base)
     * @param warned    per epoch: the reward-hacking monitor warned
     * @param diverged  per epoch: the monitor warned that training diverges
     * @param drift     per epoch: the monitor's drift signal
     * @param spread    per epoch: the monitor's within-group reward spread
     * @param window    the monitor's window (its first window is the signals' baseline)
     * @param evalEvery the held-out evaluation period (for the caption; 0: only at the end)
     */
    public record Trend(double[] reward, double[] quality, List<RunWatch.HeldOutPoint> heldOut, boolean[] warned,
                        boolean[] diverged, double[] drift, double[] spread, int window, int evalEvery) {}

    static final Color REWARD = new Color(200, 60, 40), REWARD_RAW = new Color(238, 178, 168),
            QUALITY = new Color(40, 90, 200), QUALITY_RAW = new Color(170, 192, 238), WARN = new Color(255, 226, 186),
            DIVERGE = new Color(214, 214, 224),
            DRIFT = new Color(150, 80, 170), SPREAD = new Color(40, 150, 110), AXIS = new Color(120, 120, 120),
            HELD_OUT_SCORE = new Color(150, 25, 15), HELD_OUT_QUALITY = new Color(15, 45, 140);
    /** The trend plot's size and its upper panel (reward and quality): x from LEFT to WIDTH − RIGHT, y from TOP to BOTTOM. */
    static final int WIDTH = 960, HEIGHT = 640, LEFT = 64, RIGHT = 24, TOP = 58, BOTTOM = 430;

    /**
     * reward_curve.png: the judge's reward and true quality per epoch as faint raw points with a
     * smoothed trend (a centred moving average over about a twentieth of the run) on top, the held-out
     * evaluations as their own series with 95% CIs, epochs where the monitor warned of reward hacking
     * (amber) or of divergence (grey) shaded, and below, the monitor's target-free signals relative to
     * their first window. The y-axis fits the trends and the CIs (and most raw points), so a rise of a
     * few hundredths shows.
     */
    public static void trend(Path file, Trend t) throws IOException {
        int w = WIDTH, h = HEIGHT, l = LEFT, r = RIGHT;
        int top = TOP, bottom = BOTTOM, mTop = 478, mBottom = 590;
        int n = t.reward().length;
        int xMax = Math.max(1, n);
        for (RunWatch.HeldOutPoint p : t.heldOut()) xMax = Math.max(xMax, p.epoch());
        final int span = xMax;
        java.util.function.DoubleUnaryOperator x = e -> l + e / span * (w - l - r);
        int half = Math.max(2, n / 40);
        double[] rs = smooth(t.reward(), half), qs = smooth(t.quality(), half);

        // the y-range: trends, CIs, and the central 96% of the raw points
        List<Double> ys = new ArrayList<>();
        for (double[] a : new double[][] {rs, qs}) for (double v : a) if (Double.isFinite(v)) ys.add(v);
        for (RunWatch.HeldOutPoint p : t.heldOut())
            for (Evaluator.Interval i : new Evaluator.Interval[] {p.score(), p.quality()})
                if (Double.isFinite(i.lo()) && Double.isFinite(i.hi())) {
                    ys.add(i.lo());
                    ys.add(i.hi());
                }
        ys.addAll(quantiles(t.reward(), 0.02, 0.98));
        ys.addAll(quantiles(t.quality(), 0.02, 0.98));
        double lo = ys.stream().mapToDouble(Double::doubleValue).min().orElse(0), hi = ys.stream().mapToDouble(Double::doubleValue).max().orElse(1);
        if (hi - lo < 0.1) {
            double c = (hi + lo) / 2;
            lo = c - 0.05;
            hi = c + 0.05;
        }
        double pad = 0.06 * (hi - lo), tick = niceStep((hi - lo) / 6);
        lo = Math.max(0, Math.floor((lo - pad) / tick) * tick);
        hi = Math.min(1, Math.ceil((hi + pad) / tick) * tick);
        final double ylo = lo, yhi = hi;
        java.util.function.DoubleUnaryOperator y = v -> bottom - (v - ylo) / (yhi - ylo) * (bottom - top);

        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        // warned epochs, behind everything, in both panels
        for (boolean divergence : new boolean[] {false, true}) {
            boolean[] flags = divergence ? t.diverged() : t.warned();
            g.setColor(divergence ? DIVERGE : WARN);
            for (int i = 0; i < flags.length; i++)
                if (flags[i]) {
                    int xa = (int) Math.floor(x.applyAsDouble(i)), xb = (int) Math.ceil(x.applyAsDouble(i + 1));
                    g.fillRect(xa, top, Math.max(1, xb - xa), bottom - top);
                    g.fillRect(xa, mTop, Math.max(1, xb - xa), mBottom - mTop);
                }
        }
        g.setStroke(new BasicStroke(1f));
        g.setColor(new Color(235, 235, 235));
        for (double v = lo; v <= hi + 1e-9; v += tick) g.drawLine(l, (int) y.applyAsDouble(v), w - r, (int) y.applyAsDouble(v));
        g.setColor(AXIS);
        g.drawRect(l, top, w - l - r, bottom - top);
        g.drawRect(l, mTop, w - l - r, mBottom - mTop);

        // raw points (epoch i is plotted at i + 1: the number of epochs done, as the held-out points)
        dots(g, t.reward(), REWARD_RAW, x, y, top, bottom);
        dots(g, t.quality(), QUALITY_RAW, x, y, top, bottom);
        g.setStroke(new BasicStroke(2.4f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
        polyline(g, qs, QUALITY, x, y, top, bottom);
        polyline(g, rs, REWARD, x, y, top, bottom);
        // held-out series: CI bars, markers, a thin line through the means
        List<RunWatch.HeldOutPoint> ho = new ArrayList<>(t.heldOut());
        ho.sort((a, b) -> Integer.compare(a.epoch(), b.epoch()));
        heldOutSeries(g, ho, true, HELD_OUT_SCORE, x, y, top, bottom);
        heldOutSeries(g, ho, false, HELD_OUT_QUALITY, x, y, top, bottom);

        // the monitor panel: signals relative to their first window, smoothed
        double[] dr = relative(t.drift(), t.window()), sp = relative(t.spread(), t.window());
        double mHi = 2;
        for (double[] a : new double[][] {smooth(dr, half), smooth(sp, half)}) for (double v : a) if (Double.isFinite(v)) mHi = Math.max(mHi, v);
        mHi = Math.ceil(mHi * 2) / 2;
        final double mh = mHi;
        java.util.function.DoubleUnaryOperator ym = v -> mBottom - Math.min(v, mh) / mh * (mBottom - mTop);
        g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {4f, 4f}, 0f));
        g.setColor(AXIS);
        g.drawLine(l, (int) ym.applyAsDouble(1), w - r, (int) ym.applyAsDouble(1));
        g.setStroke(new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
        polyline(g, smooth(dr, half), DRIFT, x, ym, mTop, mBottom);
        polyline(g, smooth(sp, half), SPREAD, x, ym, mTop, mBottom);

        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            g.setColor(Color.DARK_GRAY);
            for (double v = lo; v <= hi + 1e-9; v += tick)
                g.drawString(String.format(java.util.Locale.ROOT, tick < 0.01 ? "%.3f" : "%.2f", v), 16, (int) y.applyAsDouble(v) + 4);
            for (int e : xTicks(span)) {
                int xe = (int) x.applyAsDouble(e);
                g.drawLine(xe, bottom, xe, bottom + 4);
                g.drawString(String.valueOf(e), xe - 4 * String.valueOf(e).length(), bottom + 17);
                g.drawLine(xe, mBottom, xe, mBottom + 4);
                g.drawString(String.valueOf(e), xe - 4 * String.valueOf(e).length(), mBottom + 17);
            }
            g.drawString("epochs done", w / 2 - 30, mBottom + 34);
            g.drawString("×" + fmt(mHi), 24, mTop + 10);
            g.drawString("×1", 36, (int) ym.applyAsDouble(1) + 4);
            g.drawString("0", 44, mBottom + 4);
            int lx = l;
            lx = legend(g, lx, 20, REWARD, "reward (judge): trend, raw per epoch");
            lx = legend(g, lx, 20, QUALITY, "true quality: trend, raw");
            lx = legend(g, lx, 20, HELD_OUT_SCORE, "held-out judge score (95% CI)");
            legend(g, lx, 20, HELD_OUT_QUALITY, "held-out true quality");
            g.setColor(Color.DARK_GRAY);
            String every = t.evalEvery() > 0 ? "held-out every " + t.evalEvery() + " epochs with the EMA adapter (0 = base)"
                    : "held-out: base and final EMA adapter";
            g.drawString(every + (hasWarning(t.warned()) ? "; amber: reward-hacking warning" : "")
                    + (hasWarning(t.diverged()) ? "; grey: training diverges" : ""), l, 42);
            lx = l;
            lx = legend(g, lx, mTop - 10, DRIFT, "drift from the source");
            lx = legend(g, lx, mTop - 10, SPREAD, "within-group reward spread");
            g.setColor(Color.DARK_GRAY);
            g.drawString("(monitor signals, relative to epochs 1–" + t.window() + ", smoothed)", lx, mTop - 10);
        } catch (Throwable e) {
            // no fonts on this machine: the lines alone
        }
        g.dispose();
        write(img, file);
    }

    private static boolean hasWarning(boolean[] w) {
        for (boolean b : w) if (b) return true;
        return false;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }

    private static int legend(Graphics2D g, int x, int y, Color c, String text) {
        g.setColor(c);
        g.fillRect(x, y - 8, 14, 4);
        g.setColor(Color.DARK_GRAY);
        g.drawString(text, x + 18, y - 2);
        return x + 18 + g.getFontMetrics().stringWidth(text) + 16;
    }

    private static List<Integer> xTicks(int span) {
        int step = (int) Math.max(1, niceStep(span / 8.0));
        List<Integer> out = new ArrayList<>();
        for (int e = 0; e <= span; e += step) out.add(e);
        return out;
    }

    /** 1, 2 or 5 times a power of ten, at least v. */
    static double niceStep(double v) {
        if (!(v > 0)) return 1;
        double p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
    }

    /** A centred moving average over ±half epochs (fewer at the ends), skipping NaN; NaN where the window has none. */
    static double[] smooth(double[] v, int half) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            double s = 0;
            int c = 0;
            for (int j = Math.max(0, i - half); j <= Math.min(v.length - 1, i + half); j++)
                if (!Double.isNaN(v[j])) {
                    s += v[j];
                    c++;
                }
            out[i] = c == 0 ? Double.NaN : s / c;
        }
        return out;
    }

    /** Values divided by the mean of the first window (NaN when that mean is not positive). */
    static double[] relative(double[] v, int window) {
        double s = 0;
        int c = 0;
        for (int i = 0; i < Math.min(window, v.length); i++)
            if (!Double.isNaN(v[i])) {
                s += v[i];
                c++;
            }
        double base = c == 0 ? Double.NaN : s / c;
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = base > 0 ? v[i] / base : Double.NaN;
        return out;
    }

    private static List<Double> quantiles(double[] v, double a, double b) {
        double[] f = java.util.Arrays.stream(v).filter(Double::isFinite).sorted().toArray();
        if (f.length == 0) return List.of();
        return List.of(f[(int) Math.floor(a * (f.length - 1))], f[(int) Math.ceil(b * (f.length - 1))]);
    }

    private static void dots(Graphics2D g, double[] v, Color c, java.util.function.DoubleUnaryOperator x,
                             java.util.function.DoubleUnaryOperator y, int top, int bottom) {
        g.setColor(c);
        for (int i = 0; i < v.length; i++) {
            if (!Double.isFinite(v[i])) continue;
            double yy = y.applyAsDouble(v[i]);
            if (yy < top || yy > bottom) continue;
            g.fillOval((int) Math.round(x.applyAsDouble(i + 1)) - 2, (int) Math.round(yy) - 2, 4, 4);
        }
    }

    private static void polyline(Graphics2D g, double[] v, Color c, java.util.function.DoubleUnaryOperator x,
                                 java.util.function.DoubleUnaryOperator y, int top, int bottom) {
        g.setColor(c);
        java.awt.Shape clip = g.getClip();
        g.clipRect(0, top, 100000, bottom - top + 1);
        for (int i = 1; i < v.length; i++) {
            if (!Double.isFinite(v[i - 1]) || !Double.isFinite(v[i])) continue;
            g.draw(new java.awt.geom.Line2D.Double(x.applyAsDouble(i), y.applyAsDouble(v[i - 1]), x.applyAsDouble(i + 1),
                    y.applyAsDouble(v[i])));
        }
        g.setClip(clip);
    }

    private static void heldOutSeries(Graphics2D g, List<RunWatch.HeldOutPoint> ho, boolean score, Color c,
                                      java.util.function.DoubleUnaryOperator x, java.util.function.DoubleUnaryOperator y, int top,
                                      int bottom) {
        g.setColor(c);
        double px = Double.NaN, py = Double.NaN;
        for (RunWatch.HeldOutPoint p : ho) {
            Evaluator.Interval i = score ? p.score() : p.quality();
            if (!Double.isFinite(i.mean())) continue;
            double xx = x.applyAsDouble(p.epoch()) + (score ? -3 : 3), yy = y.applyAsDouble(i.mean());
            g.setStroke(new BasicStroke(1.6f));
            if (Double.isFinite(i.lo()) && Double.isFinite(i.hi())) {
                double a = Math.max(top, y.applyAsDouble(i.hi())), b = Math.min(bottom, y.applyAsDouble(i.lo()));
                g.draw(new java.awt.geom.Line2D.Double(xx, a, xx, b));
                g.draw(new java.awt.geom.Line2D.Double(xx - 4, a, xx + 4, a));
                g.draw(new java.awt.geom.Line2D.Double(xx - 4, b, xx + 4, b));
            }
            if (!Double.isNaN(px)) {
                g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {3f, 3f}, 0f));
                g.draw(new java.awt.geom.Line2D.Double(px, py, xx, yy));
            }
            if (score) g.fillOval((int) Math.round(xx) - 5, (int) Math.round(yy) - 5, 10, 10);
            else g.fillRect((int) Math.round(xx) - 5, (int) Math.round(yy) - 5, 10, 10);
            px = xx;
            py = yy;
        }
        g.setStroke(new BasicStroke(1f));
    }

    private static void write(BufferedImage img, Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.createDirectories(file.toAbsolutePath().getParent());
        if (!ImageIO.write(img, "png", tmp.toFile())) throw new IOException("no PNG writer");
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
