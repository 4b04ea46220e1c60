package dev.editr1.world;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The embedded default world: a seeded generator of editing tasks on small RGB canvases with one
 * or two shapes, instructions from templates in the published task families, and the exact target
 * of every task. {@link #split} makes train and held-out task lists that never share a
 * (source, instruction) pair.
 */
public final class EditWorld {
    private final List<Family> families;
    private final int maxShapes;

    /** @param families the task families to draw from (all six by default) */
    public EditWorld(List<Family> families, int maxShapes) {
        if (families.isEmpty()) throw new IllegalArgumentException("no task families");
        if (maxShapes < 1 || maxShapes > 4) throw new IllegalArgumentException("maxShapes must be in 1..4");
        this.families = List.copyOf(families);
        this.maxShapes = maxShapes;
    }

    public static EditWorld standard() {
        return new EditWorld(List.of(Family.values()), 2);
    }

    /** A random scene with 1..maxShapes shapes (distinct cells, distinct colour+kind). */
    public Scene scene(SplittableRandom rng) {
        String bg = Palette.BACKGROUNDS.get(rng.nextInt(Palette.BACKGROUNDS.size())).name();
        int n = 1 + rng.nextInt(maxShapes);
        List<Scene.Shape> shapes = new ArrayList<>();
        while (shapes.size() < n) {
            Scene.Shape s = randomShape(rng);
            boolean clash = false;
            for (Scene.Shape o : shapes) clash |= o.cell() == s.cell() || o.kind() == s.kind();
            if (!clash) shapes.add(s);
        }
        return new Scene(bg, shapes);
    }

    private static Scene.Shape randomShape(SplittableRandom rng) {
        Palette.Kind kind = Palette.Kind.values()[rng.nextInt(Palette.Kind.values().length)];
        String colour = Palette.SHAPE_COLOURS.get(rng.nextInt(Palette.SHAPE_COLOURS.size())).name();
        return new Scene.Shape(kind, colour, rng.nextInt(9));
    }

    /** One task; families whose edit is impossible on the drawn scene are redrawn. */
    public EditTask task(SplittableRandom rng) {
        while (true) {
            Scene src = scene(rng);
            Family f = families.get(rng.nextInt(families.size()));
            EditTask t = make(f, src, rng);
            if (t != null) return t;
        }
    }

    private EditTask make(Family f, Scene src, SplittableRandom rng) {
        List<Scene.Shape> sh = src.shapes();
        int idx = rng.nextInt(sh.size());
        Scene.Shape s = sh.get(idx);
        switch (f) {
            case ADD: {
                if (sh.size() >= maxShapes + 1 || sh.size() >= 4) return null;
                Scene.Shape add = randomShape(rng);
                for (Scene.Shape o : sh) if (o.kind() == add.kind() || o.cell() == add.cell()) return null;
                String pos = Palette.POSITIONS.get(add.cell());
                return task(f, src, "add a " + add.colour() + " " + add.kind().word + " at the " + pos,
                        fill(f, add, null, null, pos), src.with(add));
            }
            case REMOVE:
                return task(f, src, "remove the " + s.describe(), fill(f, s, null, null, null), src.without(idx));
            case REPLACE: {
                Palette.Kind k2 = Palette.Kind.values()[rng.nextInt(Palette.Kind.values().length)];
                if (k2 == s.kind()) return null;
                for (Scene.Shape o : sh) if (o.kind() == k2) return null;
                return task(f, src, "replace the " + s.describe() + " with a " + k2.word,
                        fill(f, s, k2, null, null), src.replaced(idx, new Scene.Shape(k2, s.colour(), s.cell())));
            }
            case RECOLOR: {
                String c2 = Palette.SHAPE_COLOURS.get(rng.nextInt(Palette.SHAPE_COLOURS.size())).name();
                if (c2.equals(s.colour())) return null;
                return task(f, src, "make the " + s.kind().word + " " + c2, fill(f, s, null, c2, null),
                        src.replaced(idx, new Scene.Shape(s.kind(), c2, s.cell())));
            }
            case MOVE: {
                int cell = rng.nextInt(9);
                if (!src.cellFree(cell)) return null;
                String pos = Palette.POSITIONS.get(cell);
                return task(f, src, "move the " + s.describe() + " to the " + pos, fill(f, s, null, null, pos),
                        src.replaced(idx, new Scene.Shape(s.kind(), s.colour(), cell)));
            }
            case BACKGROUND: {
                String bg = Palette.BACKGROUNDS.get(rng.nextInt(Palette.BACKGROUNDS.size())).name();
                if (bg.equals(src.background())) return null;
                return task(f, src, "change the background to " + bg, fill(f, s, null, bg, null), src.withBackground(bg));
            }
            default:
                throw new IllegalStateException(f.toString());
        }
    }

    private static EditTask task(Family f, Scene src, String instruction, String requirement, Scene target) {
        return new EditTask(f, src, instruction, requirement, target);
    }

    private static String fill(Family f, Scene.Shape s, Palette.Kind k2, String colour2, String pos) {
        String r = f.requirementTemplate.replace("{colour}", s.colour()).replace("{kind}", s.kind().word);
        if (k2 != null) r = r.replace("{kind2}", k2.word);
        if (colour2 != null) r = r.replace("{colour2}", colour2);
        if (pos != null) r = r.replace("{pos}", pos);
        return r;
    }

    /** Train and held-out task lists from one seed, disjoint in (source, instruction). */
    public record Split(List<EditTask> train, List<EditTask> heldOut) {}

    public Split split(long seed, int trainSize, int heldOutSize) {
        SplittableRandom rng = new SplittableRandom(seed);
        Set<String> seen = new HashSet<>();
        List<EditTask> held = new ArrayList<>();
        SplittableRandom heldRng = rng.split();
        while (held.size() < heldOutSize) {
            EditTask t = task(heldRng);
            if (seen.add(t.key())) held.add(t);
        }
        List<EditTask> train = new ArrayList<>();
        while (train.size() < trainSize) {
            EditTask t = task(rng);
            if (seen.add(t.key())) train.add(t);
        }
        return new Split(train, held);
    }
}
