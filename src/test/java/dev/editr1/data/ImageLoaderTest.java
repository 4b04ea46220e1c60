package dev.editr1.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Center crop, Lanczos resize and the size guards of the image reader. */
class ImageLoaderTest {
    static Path png(Path dir, String name, BufferedImage im) throws IOException {
        Path p = dir.resolve(name);
        ImageIO.write(im, "png", p.toFile());
        return p;
    }

    static BufferedImage image(int w, int h, java.util.function.IntBinaryOperator rgb) {
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) im.setRGB(x, y, rgb.applyAsInt(x, y));
        return im;
    }

    @Test
    void anImageAtTheResolutionIsReadExactly(@TempDir Path tmp) throws IOException {
        BufferedImage im = image(9, 9, (x, y) -> (x * 28) << 16 | (y * 28) << 8 | ((x * y) % 256));
        float[] f = ImageLoader.load(png(tmp, "a.png", im), 9, ImageLoader.Limits.DEFAULT);
        for (int y = 0; y < 9; y++)
            for (int x = 0; x < 9; x++) {
                int p = im.getRGB(x, y);
                assertEquals(ImageLoader.fromByte((p >> 16) & 255), f[y * 9 + x]);
                assertEquals(ImageLoader.fromByte((p >> 8) & 255), f[81 + y * 9 + x]);
                assertEquals(ImageLoader.fromByte(p & 255), f[162 + y * 9 + x]);
            }
    }

    @Test
    void nonSquareImagesAreCenterCropped(@TempDir Path tmp) throws IOException {
        // 12 × 6: columns 0..2 and 9..11 are red (cropped away), the middle 6 × 6 is blue
        BufferedImage im = image(12, 6, (x, y) -> x < 3 || x >= 9 ? 0xff0000 : 0x0000ff);
        float[] f = ImageLoader.load(png(tmp, "w.png", im), 6, ImageLoader.Limits.DEFAULT);
        for (int i = 0; i < 36; i++) {
            assertEquals(-1f, f[i], "red channel of the kept center");
            assertEquals(1f, f[72 + i], "blue channel of the kept center");
        }
    }

    @Test
    void downscalingAveragesInsteadOfAliasing(@TempDir Path tmp) throws IOException {
        // a one-pixel checkerboard halved: nearest or bilinear sampling would keep black or white,
        // a proper (area-like) filter gives mid-gray everywhere away from the borders
        BufferedImage im = image(64, 64, (x, y) -> ((x + y) & 1) == 0 ? 0xffffff : 0x000000);
        float[] f = ImageLoader.load(png(tmp, "c.png", im), 32, ImageLoader.Limits.DEFAULT);
        for (int y = 4; y < 28; y++)
            for (int x = 4; x < 28; x++) assertEquals(0.0, f[y * 32 + x], 0.01, "pixel " + x + "," + y);
        // a constant image stays constant at any scale, up or down
        BufferedImage c = image(50, 50, (x, y) -> 0x336699);
        for (int size : new int[] {7, 18, 50, 97}) {
            float[] g = ImageLoader.load(png(tmp, "k" + size + ".png", c), size, ImageLoader.Limits.DEFAULT);
            for (int i = 0; i < size * size; i++) {
                assertEquals(ImageLoader.fromByte(0x33), g[i]);
                assertEquals(ImageLoader.fromByte(0x99), g[2 * size * size + i]);
            }
        }
    }

    @Test
    void theResizeIsLanczos3() {
        // a 12 × 12 plane whose column 6 is bright, resized to 5 × 5: each output column is 240 times
        // the normalized Lanczos-3 weight of input column 6, with PIL's support of 3·scale
        double[] in = new double[12 * 12];
        for (int y = 0; y < 12; y++) in[y * 12 + 6] = 240;
        double[] out = ImageLoader.resize(in, 12, 5);
        double scale = 12.0 / 5, fs = scale, support = 3 * fs;
        for (int i = 0; i < 5; i++) {
            double centre = (i + 0.5) * scale;
            int lo = Math.max(0, (int) Math.floor(centre - support + 0.5)), hi = Math.min(12, (int) Math.floor(centre + support + 0.5));
            double sum = 0, w6 = 0;
            for (int j = lo; j < hi; j++) {
                double x = (j - centre + 0.5) / fs, w = x == 0 ? 1 : Math.abs(x) >= 3 ? 0
                        : 3 * Math.sin(Math.PI * x) * Math.sin(Math.PI * x / 3) / (Math.PI * x * Math.PI * x);
                sum += w;
                if (j == 6) w6 = w;
            }
            double expect = 240 * w6 / sum;   // every row is the same, so the vertical pass keeps the value
            for (int y = 0; y < 5; y++) assertEquals(expect, out[y * 5 + i], 1e-9, "column " + i);
        }
    }

    /** A PNG whose header claims 100000 × 100000 pixels and whose body is a few bytes. */
    static byte[] bomb() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(100_000).putInt(100_000).put((byte) 8).put((byte) 2).put((byte) 0)
                .put((byte) 0).put((byte) 0);
        chunk(b, "IHDR", ihdr.array());
        chunk(b, "IDAT", new byte[] {0x78, (byte) 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
        chunk(b, "IEND", new byte[0]);
        return b.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream b, String type, byte[] data) throws IOException {
        b.write(ByteBuffer.allocate(4).putInt(data.length).array());
        byte[] t = type.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        b.write(t);
        b.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        b.write(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    @Test
    void decompressionBombsAndNonImagesAreRefusedByTheirHeader(@TempDir Path tmp) throws IOException {
        Path bomb = Files.write(tmp.resolve("bomb.png"), bomb());
        IOException e = assertThrows(IOException.class, () -> ImageLoader.load(bomb, 18, ImageLoader.Limits.DEFAULT));
        assertTrue(e.getMessage().contains("100000×100000") && e.getMessage().contains("over the limit"), e.getMessage());
        Path text = Files.writeString(tmp.resolve("notes.png"), "not an image at all");
        e = assertThrows(IOException.class, () -> ImageLoader.load(text, 18, ImageLoader.Limits.DEFAULT));
        assertTrue(e.getMessage().contains("not a PNG, JPEG"), e.getMessage());
        Path big = png(tmp, "big.png", image(40, 40, (x, y) -> 0));
        e = assertThrows(IOException.class, () -> ImageLoader.load(big, 18, new ImageLoader.Limits(1L << 20, 1000)));
        assertTrue(e.getMessage().contains("40×40"), e.getMessage());
        e = assertThrows(IOException.class, () -> ImageLoader.load(big, 18, new ImageLoader.Limits(10, 1L << 20)));
        assertTrue(e.getMessage().contains("bytes, over the limit"), e.getMessage());
    }

    @Test
    void eightBitLevelsRoundTrip() {
        for (int v = 0; v < 256; v++) assertEquals(v, ImageLoader.toByte(ImageLoader.fromByte(v)));
        assertArrayEquals(new int[] {0, 255}, new int[] {ImageLoader.toByte(-7f), ImageLoader.toByte(3f)});
    }
}
