package dev.editr1.world;

import java.util.ArrayList;
import java.util.List;

/**
 * A canvas description: a background and a few shapes, each in its own cell of the 3 × 3 grid.
 * Immutable; edits return new scenes.
 */
public record Scene(String background, List<Shape> shapes) {
    /** One shape: kind, colour name and grid cell (0..8, row-major). */
    public record Shape(Palette.Kind kind, String colour, int cell) {
        public String describe() {
            return colour + " " + kind.word;
        }
    }

    public Scene {
        shapes = List.copyOf(shapes);
    }

    public Scene withBackground(String bg) {
        return new Scene(bg, shapes);
    }

    public Scene without(int index) {
        List<Shape> s = new ArrayList<>(shapes);
        s.remove(index);
        return new Scene(background, s);
    }

    public Scene with(Shape shape) {
        List<Shape> s = new ArrayList<>(shapes);
        s.add(shape);
        return new Scene(background, s);
    }

    public Scene replaced(int index, Shape shape) {
        List<Shape> s = new ArrayList<>(shapes);
        s.set(index, shape);
        return new Scene(background, s);
    }

    public boolean cellFree(int cell) {
        for (Shape s : shapes) if (s.cell == cell) return false;
        return true;
    }

    /** A stable text key (for splits and bans). */
    public String key() {
        StringBuilder sb = new StringBuilder(background);
        for (Shape s : shapes) sb.append('|').append(s.kind.word).append(',').append(s.colour).append(',').append(s.cell);
        return sb.toString();
    }
}
