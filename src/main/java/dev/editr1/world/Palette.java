package dev.editr1.world;

import java.util.List;

import dev.editr1.data.ImageLoader;

/**
 * The named colours and shape kinds of the embedded world (RGB in [−1, 1]). Every colour is an
 * 8-bit level ({@link ImageLoader#fromByte}), so a canvas written as a PNG and read back is the same
 * floats bit for bit (an exported world trains exactly like the embedded one).
 */
public final class Palette {
    private Palette() {}

    /** A named RGB colour. */
    public record Colour(String name, float r, float g, float b) {
        /** A colour from 8-bit levels. */
        static Colour rgb8(String name, int r, int g, int b) {
            return new Colour(name, ImageLoader.fromByte(r), ImageLoader.fromByte(g), ImageLoader.fromByte(b));
        }
    }

    // the levels nearest to the first world's colours (0.9 → 242, −0.8 → 26, ...)
    public static final List<Colour> SHAPE_COLOURS = List.of(
            Colour.rgb8("red", 242, 26, 26),
            Colour.rgb8("green", 26, 230, 26),
            Colour.rgb8("blue", 26, 38, 242),
            Colour.rgb8("yellow", 242, 236, 13),
            Colour.rgb8("purple", 179, 26, 217),
            Colour.rgb8("cyan", 26, 230, 236));

    public static final List<Colour> BACKGROUNDS = List.of(
            Colour.rgb8("black", 13, 13, 13),
            Colour.rgb8("white", 242, 242, 242),
            Colour.rgb8("gray", 128, 128, 128),
            Colour.rgb8("navy", 38, 38, 115));

    /** The shape kinds, drawn by {@link Renderer}. */
    public enum Kind {
        SQUARE("square"), CIRCLE("circle"), TRIANGLE("triangle"), CROSS("cross");

        public final String word;

        Kind(String word) {
            this.word = word;
        }
    }

    /** The 3 × 3 grid of positions, named as instructions name them. */
    public static final List<String> POSITIONS = List.of(
            "top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right");

    public static Colour shapeColour(String name) {
        for (Colour c : SHAPE_COLOURS) if (c.name().equals(name)) return c;
        throw new IllegalArgumentException("unknown shape colour " + name);
    }

    public static Colour background(String name) {
        for (Colour c : BACKGROUNDS) if (c.name().equals(name)) return c;
        throw new IllegalArgumentException("unknown background " + name);
    }
}
