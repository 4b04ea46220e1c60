package dev.editr1.world;

/**
 * Draws a {@link Scene} on an RGB canvas of size × size pixels, channel-major [3, size, size],
 * values in [−1, 1]. The canvas is a 3 × 3 grid of cells of size/3 pixels; a shape fills a box of
 * (size/3 − 1) pixels at its cell's top-left, leaving a one-pixel gutter, and is sampled at pixel
 * centres — whole pixels, so every kind keeps the same footprint in every cell (with 5-pixel boxes:
 * square 25, circle 21, triangle 13, cross 9 pixels).
 */
public final class Renderer {
    private final int size;

    public Renderer(int size) {
        if (size < 15 || size % 3 != 0)
            throw new IllegalArgumentException("canvas size must be a multiple of 3, at least 15 (got " + size + ")");
        this.size = size;
    }

    public int size() {
        return size;
    }

    /** The pixels, [3 · size · size], channel-major. */
    public float[] render(Scene scene) {
        int n = size * size;
        float[] img = new float[3 * n];
        Palette.Colour bg = Palette.background(scene.background());
        for (int i = 0; i < n; i++) {
            img[i] = bg.r();
            img[n + i] = bg.g();
            img[2 * n + i] = bg.b();
        }
        for (Scene.Shape s : scene.shapes()) draw(img, s);
        return img;
    }

    private void draw(float[] img, Scene.Shape s) {
        int n = size * size, cell = size / 3, box = cell - 1;
        int x0 = (s.cell() % 3) * cell, y0 = (s.cell() / 3) * cell;
        Palette.Colour c = Palette.shapeColour(s.colour());
        for (int y = 0; y < box; y++) {
            for (int x = 0; x < box; x++) {
                double u = (x + 0.5) / box, v = (y + 0.5) / box;
                if (!inside(s.kind(), u, v)) continue;
                int i = (y0 + y) * size + x0 + x;
                img[i] = c.r();
                img[n + i] = c.g();
                img[2 * n + i] = c.b();
            }
        }
    }

    static boolean inside(Palette.Kind kind, double u, double v) {
        return switch (kind) {
            case SQUARE -> true;
            case CIRCLE -> (u - 0.5) * (u - 0.5) + (v - 0.5) * (v - 0.5) <= 0.25;
            case TRIANGLE -> v >= 2 * Math.abs(u - 0.5);   // apex at the top centre, base at the bottom
            case CROSS -> Math.abs(u - 0.5) <= 0.17 || Math.abs(v - 0.5) <= 0.17;
        };
    }
}
