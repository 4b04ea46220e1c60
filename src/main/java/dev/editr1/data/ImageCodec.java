package dev.editr1.data;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

import javax.imageio.ImageIO;


/** Canvases ([3, S, S] channel-major floats in [−1, 1]) to and from PNG/JPEG and data URLs. */
public final class ImageCodec {
    private ImageCodec() {}

    public static BufferedImage toImage(float[] img, int size) {
        int n = size * size;
        if (img.length != 3 * n) throw new IllegalArgumentException("image has " + img.length + " values, not 3·" + size + "²");
        BufferedImage out = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < n; i++) out.setRGB(i % size, i / size, (c(img[i]) << 16) | (c(img[n + i]) << 8) | c(img[2 * n + i]));
        return out;
    }

    private static int c(float v) {
        return ImageLoader.toByte(v);
    }

    /** Encoded bytes. */
    public static byte[] encode(float[] img, int size, ImageFormat format) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        if (!ImageIO.write(toImage(img, size), format.formatName, b)) throw new IOException("no image writer for " + format);
        return b.toByteArray();
    }

    public static String dataUrl(float[] img, int size, ImageFormat format) throws IOException {
        return "data:" + format.mime + ";base64," + Base64.getEncoder().encodeToString(encode(img, size, format));
    }

    /** A square image file as a canvas. */
    public static float[] read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException("image " + file + " does not exist");
        BufferedImage im = ImageIO.read(file.toFile());
        if (im == null) throw new IOException("image " + file + " is not a PNG/JPEG/GIF/BMP file");
        if (im.getWidth() != im.getHeight())
            throw new IOException("image " + file + " is " + im.getWidth() + "×" + im.getHeight() + "; square canvases only");
        int s = im.getWidth(), n = s * s;
        float[] out = new float[3 * n];
        for (int i = 0; i < n; i++) {
            int rgb = im.getRGB(i % s, i / s);
            out[i] = ImageLoader.fromByte((rgb >> 16) & 255);
            out[n + i] = ImageLoader.fromByte((rgb >> 8) & 255);
            out[2 * n + i] = ImageLoader.fromByte(rgb & 255);
        }
        return out;
    }

    /** The side of a square canvas of 3·s² values. */
    public static int side(float[] img) {
        int s = (int) Math.round(Math.sqrt(img.length / 3.0));
        if (3 * s * s != img.length) throw new IllegalArgumentException("not a square RGB canvas: " + img.length + " values");
        return s;
    }
}
