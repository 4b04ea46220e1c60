package dev.editr1.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Image files as model inputs: read with a size guard, center-cropped to a square, resized to the
 * model's resolution with a Lanczos-3 filter, and returned as channel-major floats [3, S, S] in
 * [−1, 1].
 *
 * <p>Why Lanczos: it is what diffusers' image processors (and so Edit-R1's pipelines) use by
 * default ({@code PIL.Image.LANCZOS}); downscaling widens the kernel by the scale factor (as PIL
 * does), so it also averages like an area filter and does not alias. The result is rounded to 8-bit
 * levels, as a resized image file would be, so a file already at the resolution is read exactly.
 *
 * <p>Decompression bombs: the header is read first and an image whose width × height exceeds the
 * pixel limit is refused before any pixel is decoded. Alpha is dropped (as PIL's
 * {@code convert("RGB")} does).
 */
public final class ImageLoader {
    /** Refuse files and images beyond these. */
    public record Limits(long maxFileBytes, long maxPixels) {
        /** 256 MB per file, 64 megapixels (e.g. 8192 × 8192). */
        public static final Limits DEFAULT = new Limits(256L << 20, 64L << 20);
    }

    private ImageLoader() {}

    /** One level of an 8-bit channel on the [−1, 1] scale (the one conversion used everywhere). */
    public static float fromByte(int v) {
        return v / 127.5f - 1;
    }

    /** The nearest 8-bit level of a [−1, 1] value, clamped. */
    public static int toByte(float x) {
        return Math.max(0, Math.min(255, Math.round((x + 1) * 127.5f)));
    }

    /**
     * Width and height from the file's header, after checking its size; nothing else is decoded.
     *
     * @throws IOException naming the problem (missing, not an image, too large)
     */
    public static int[] probe(Path file, Limits limits) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException("does not exist or is not a file");
        long bytes = Files.size(file);
        if (bytes > limits.maxFileBytes())
            throw new IOException("is " + bytes + " bytes, over the limit of " + limits.maxFileBytes());
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            ImageReader r = reader(in);
            try {
                int w = r.getWidth(0), h = r.getHeight(0);
                checkPixels(w, h, limits);
                return new int[] {w, h};
            } finally {
                r.dispose();
            }
        }
    }

    /** Reads, center-crops and resizes an image file to [3, size, size] in [−1, 1]. */
    public static float[] load(Path file, int size, Limits limits) throws IOException {
        BufferedImage im = decode(file, limits);
        return toCanvas(im, size);
    }

    static BufferedImage decode(Path file, Limits limits) throws IOException {
        probe(file, limits);
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            ImageReader r = reader(in);
            try {
                checkPixels(r.getWidth(0), r.getHeight(0), limits);
                return r.read(0);
            } catch (RuntimeException e) { // broken bodies surface as runtime exceptions from some readers
                throw new IOException("cannot be decoded (" + e + ")");
            } finally {
                r.dispose();
            }
        }
    }

    private static ImageReader reader(ImageInputStream in) throws IOException {
        if (in == null) throw new IOException("cannot be opened");
        Iterator<ImageReader> it = ImageIO.getImageReaders(in);
        if (!it.hasNext()) throw new IOException("is not a PNG, JPEG, GIF or BMP image");
        ImageReader r = it.next();
        r.setInput(in, true, true);
        return r;
    }

    private static void checkPixels(int w, int h, Limits limits) throws IOException {
        if (w < 1 || h < 1) throw new IOException("has no pixels (" + w + "×" + h + ")");
        if ((long) w * h > limits.maxPixels())
            throw new IOException("is " + w + "×" + h + " pixels, over the limit of " + limits.maxPixels() + " pixels");
    }

    /** Center crop to a square, Lanczos resize to size × size, 8-bit rounding, [3, size, size] in [−1, 1]. */
    static float[] toCanvas(BufferedImage im, int size) {
        int w = im.getWidth(), h = im.getHeight(), side = Math.min(w, h);
        int x0 = (w - side) / 2, y0 = (h - side) / 2;
        double[][] ch = new double[3][side * side];
        int[] row = new int[side];
        for (int y = 0; y < side; y++) {
            im.getRGB(x0, y0 + y, side, 1, row, 0, side);
            for (int x = 0; x < side; x++) {
                int p = row[x];
                ch[0][y * side + x] = (p >> 16) & 255;
                ch[1][y * side + x] = (p >> 8) & 255;
                ch[2][y * side + x] = p & 255;
            }
        }
        int n = size * size;
        float[] out = new float[3 * n];
        for (int c = 0; c < 3; c++) {
            double[] plane = side == size ? ch[c] : resize(ch[c], side, size);
            for (int i = 0; i < n; i++) out[c * n + i] = fromByte((int) Math.max(0, Math.min(255, Math.round(plane[i]))));
        }
        return out;
    }

    /** Separable Lanczos-3 resize of a square plane (PIL's weights: support 3·max(scale, 1)). */
    static double[] resize(double[] in, int from, int to) {
        double[][] w = new double[to][];
        int[] start = new int[to];
        double scale = (double) from / to, fs = Math.max(scale, 1.0), support = 3 * fs;
        for (int i = 0; i < to; i++) {
            double centre = (i + 0.5) * scale;
            int lo = Math.max(0, (int) Math.floor(centre - support + 0.5));
            int hi = Math.min(from, (int) Math.floor(centre + support + 0.5));
            double[] k = new double[hi - lo];
            double sum = 0;
            for (int j = lo; j < hi; j++) sum += k[j - lo] = lanczos3((j - centre + 0.5) / fs);
            for (int j = 0; j < k.length; j++) k[j] /= sum;
            w[i] = k;
            start[i] = lo;
        }
        double[] tmp = new double[from * to];   // rows of the input, resized along x
        for (int y = 0; y < from; y++)
            for (int i = 0; i < to; i++) {
                double s = 0;
                for (int j = 0; j < w[i].length; j++) s += w[i][j] * in[y * from + start[i] + j];
                tmp[y * to + i] = s;
            }
        double[] out = new double[to * to];
        for (int i = 0; i < to; i++)
            for (int x = 0; x < to; x++) {
                double s = 0;
                for (int j = 0; j < w[i].length; j++) s += w[i][j] * tmp[(start[i] + j) * to + x];
                out[i * to + x] = s;
            }
        return out;
    }

    private static double lanczos3(double x) {
        if (x == 0) return 1;
        if (x <= -3 || x >= 3) return 0;
        double px = Math.PI * x;
        return 3 * Math.sin(px) * Math.sin(px / 3) / (px * px);
    }
}
