package dev.editr1.train;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import javax.imageio.ImageIO;

import dev.editr1.data.ImageLoader;

/** PNG outputs of a run: the held-out grid and the reward/quality curve. Written atomically. */
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
        write(img, file);
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

    /** Reward (judge) and true quality per epoch. */
    public static void curve(Path file, double[] reward, double[] quality) throws IOException {
        int w = 640, h = 360, l = 50, r = 20, t = 30, b = 40;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.GRAY);
        g.drawRect(l, t, w - l - r, h - t - b);
        int n = reward.length;
        try {
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            for (int i = 0; i <= 4; i++) {
                int y = t + (h - t - b) * (4 - i) / 4;
                g.drawString(String.format("%.2f", i / 4.0), 10, y + 4);
            }
            g.drawString("epoch", w / 2 - 15, h - 10);
            g.drawString("0", l, h - b + 15);
            g.drawString(String.valueOf(Math.max(0, n - 1)), w - r - 20, h - b + 15);
            g.setColor(new Color(200, 60, 40));
            g.drawString("reward (judge)", l + 10, t - 10);
            g.setColor(new Color(40, 90, 200));
            g.drawString("true quality", l + 130, t - 10);
        } catch (Throwable e) {
            // no fonts: the lines alone
        }
        line(g, reward, new Color(200, 60, 40), l, t, w - l - r, h - t - b);
        line(g, quality, new Color(40, 90, 200), l, t, w - l - r, h - t - b);
        g.dispose();
        write(img, file);
    }

    private static void line(Graphics2D g, double[] v, Color c, int x0, int y0, int w, int h) {
        g.setColor(c);
        int n = v.length;
        for (int i = 1; i < n; i++) {
            if (Double.isNaN(v[i - 1]) || Double.isNaN(v[i])) continue;
            int xa = x0 + (int) ((double) (i - 1) / Math.max(1, n - 1) * w), xb = x0 + (int) ((double) i / Math.max(1, n - 1) * w);
            int ya = y0 + (int) ((1 - v[i - 1]) * h), yb = y0 + (int) ((1 - v[i]) * h);
            g.drawLine(xa, ya, xb, yb);
        }
    }

    private static void write(BufferedImage img, Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.createDirectories(file.toAbsolutePath().getParent());
        if (!ImageIO.write(img, "png", tmp.toFile())) throw new IOException("no PNG writer");
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
