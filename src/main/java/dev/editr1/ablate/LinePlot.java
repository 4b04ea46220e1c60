package dev.editr1.ablate;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;

import javax.imageio.ImageIO;

/**
 * A small PNG line chart: y against x for several series, axes fitted to the data, a legend.
 * Written atomically. On a machine without fonts the lines are drawn without text.
 */
public final class LinePlot {
    private LinePlot() {}

    /** One line: points (x, y) in order (NaN y values are gaps); thick lines are means, thin ones single runs. */
    public record Series(String name, Color color, double[] x, double[] y, boolean thick) {}

    /** A palette of distinguishable colours, by variant index. */
    public static Color color(int i) {
        Color[] c = {new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44), new Color(255, 127, 14),
                new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194), new Color(127, 127, 127),
                new Color(188, 189, 34), new Color(23, 190, 207)};
        return c[Math.floorMod(i, c.length)];
    }

    public static void write(Path file, String title, String xLabel, String yLabel, List<Series> series) throws IOException {
        int w = 800, h = 480, l = 64, r = 170, t = 36, b = 48;
        double xmin = Double.POSITIVE_INFINITY, xmax = Double.NEGATIVE_INFINITY, ymin = Double.POSITIVE_INFINITY,
                ymax = Double.NEGATIVE_INFINITY;
        for (Series s : series)
            for (int i = 0; i < s.x().length; i++)
                if (!Double.isNaN(s.y()[i]) && !Double.isNaN(s.x()[i])) {
                    xmin = Math.min(xmin, s.x()[i]);
                    xmax = Math.max(xmax, s.x()[i]);
                    ymin = Math.min(ymin, s.y()[i]);
                    ymax = Math.max(ymax, s.y()[i]);
                }
        if (!(xmax >= xmin)) {   // no data: an empty frame
            xmin = 0;
            xmax = 1;
            ymin = 0;
            ymax = 1;
        }
        xmin = Math.min(0, xmin);
        if (xmax == xmin) xmax = xmin + 1;
        double pad = Math.max(0.02, 0.05 * (ymax - ymin));
        ymin -= pad;
        ymax += pad;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        int pw = w - l - r, ph = h - t - b;
        g.setColor(new Color(225, 225, 225));
        for (int i = 0; i <= 4; i++) {
            int y = t + ph * i / 4, x = l + pw * i / 4;
            g.drawLine(l, y, l + pw, y);
            g.drawLine(x, t, x, t + ph);
        }
        g.setColor(Color.GRAY);
        g.drawRect(l, t, pw, ph);
        for (Series s : series) {
            g.setColor(s.thick() ? s.color() : blend(s.color(), 0.35));
            g.setStroke(new BasicStroke(s.thick() ? 2.5f : 1f));
            for (int i = 1; i < s.x().length; i++) {
                if (Double.isNaN(s.y()[i - 1]) || Double.isNaN(s.y()[i])) continue;
                g.drawLine(px(s.x()[i - 1], xmin, xmax, l, pw), py(s.y()[i - 1], ymin, ymax, t, ph), px(s.x()[i], xmin, xmax, l, pw),
                        py(s.y()[i], ymin, ymax, t, ph));
            }
        }
        g.setStroke(new BasicStroke(1f));
        try {
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            g.setColor(Color.DARK_GRAY);
            for (int i = 0; i <= 4; i++) {
                double yv = ymax - (ymax - ymin) * i / 4, xv = xmin + (xmax - xmin) * i / 4;
                g.drawString(String.format(Locale.ROOT, "%.3f", yv), 8, t + ph * i / 4 + 4);
                g.drawString(String.format(Locale.ROOT, "%.0f", xv), l + pw * i / 4 - 10, t + ph + 16);
            }
            g.drawString(xLabel, l + pw / 2 - 20, h - 10);
            g.drawString(yLabel, 8, t - 20);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
            g.drawString(title, l + 10, t - 12);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            int y = t + 10;
            for (Series s : series) {
                if (!s.thick()) continue;
                g.setColor(s.color());
                g.setStroke(new BasicStroke(2.5f));
                g.drawLine(l + pw + 12, y - 4, l + pw + 36, y - 4);
                g.setColor(Color.DARK_GRAY);
                g.drawString(s.name(), l + pw + 42, y);
                y += 18;
            }
        } catch (Throwable e) {
            // no fonts on this machine: the lines alone
        }
        g.dispose();
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.createDirectories(file.toAbsolutePath().getParent());
        if (!ImageIO.write(img, "png", tmp.toFile())) throw new IOException("no PNG writer");
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static Color blend(Color c, double a) {
        return new Color((int) (255 - a * (255 - c.getRed())), (int) (255 - a * (255 - c.getGreen())), (int) (255 - a * (255 - c.getBlue())));
    }

    private static int px(double x, double min, double max, int l, int w) {
        return l + (int) Math.round((x - min) / (max - min) * w);
    }

    private static int py(double y, double min, double max, int t, int h) {
        return t + (int) Math.round((max - y) / (max - min) * h);
    }
}
