package dev.editr1.world;

import java.util.List;

/** The named colours and shape kinds of the embedded world (RGB in [−1, 1]). */
public final class Palette {
    private Palette() {}

    /** A named RGB colour. */
    public record Colour(String name, float r, float g, float b) {}

    public static final List<Colour> SHAPE_COLOURS = List.of(
            new Colour("red", 0.9f, -0.8f, -0.8f),
            new Colour("green", -0.8f, 0.8f, -0.8f),
            new Colour("blue", -0.8f, -0.7f, 0.9f),
            new Colour("yellow", 0.9f, 0.85f, -0.9f),
            new Colour("purple", 0.4f, -0.8f, 0.7f),
            new Colour("cyan", -0.8f, 0.8f, 0.85f));

    public static final List<Colour> BACKGROUNDS = List.of(
            new Colour("black", -0.9f, -0.9f, -0.9f),
            new Colour("white", 0.9f, 0.9f, 0.9f),
            new Colour("gray", 0.0f, 0.0f, 0.0f),
            new Colour("navy", -0.7f, -0.7f, -0.1f));

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
