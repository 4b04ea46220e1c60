package dev.editr1.world;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

class EditWorldTest {
    @Test
    void splitsAreDisjointInSourceAndInstruction() {
        EditWorld.Split s = EditWorld.standard().split(2026, 2000, 128);
        assertEquals(2000, s.train().size());
        assertEquals(128, s.heldOut().size());
        Set<String> train = new HashSet<>();
        for (EditTask t : s.train()) train.add(t.key());
        for (EditTask t : s.heldOut()) assertFalse(train.contains(t.key()), t.key());
    }

    @Test
    void everyFamilyAppearsAndEveryEditChangesTheImage() {
        EditWorld.Split s = EditWorld.standard().split(1, 600, 10);
        Renderer r = new Renderer(18);
        Set<Family> seen = EnumSet.noneOf(Family.class);
        for (EditTask t : s.train()) {
            seen.add(t.family());
            float[] a = r.render(t.source()), b = r.render(t.target());
            assertTrue(Quality.of(a, a, b) < 1.0, "the edit changes pixels: " + t.instruction());
            assertEquals(1.0, Quality.of(b, a, b), "the exact target is perfect");
        }
        assertEquals(EnumSet.allOf(Family.class), seen);
    }

    @Test
    void generatorIsSeeded() {
        EditTask a = EditWorld.standard().split(5, 10, 2).train().get(7);
        EditTask b = EditWorld.standard().split(5, 10, 2).train().get(7);
        assertEquals(a, b);
        assertNotEquals(a, EditWorld.standard().split(6, 10, 2).train().get(7));
    }

    @Test
    void instructionsUseOnlyKnownWords() {
        Vocabulary v = Vocabulary.standard();
        for (EditTask t : EditWorld.standard().split(3, 500, 10).train()) {
            int[] ids = v.encode(t.instruction());
            for (int id : ids) assertNotEquals(Vocabulary.UNKNOWN, id, t.instruction());
            assertTrue(t.instruction().split(" ").length <= v.length(), t.instruction());
        }
    }

    @Test
    void paintingOnlyTheBackgroundScoresLow() {
        Renderer r = new Renderer(18);
        Scene src = new Scene("black", java.util.List.of(new Scene.Shape(Palette.Kind.SQUARE, "red", 0),
                new Scene.Shape(Palette.Kind.CIRCLE, "blue", 8)));
        Scene target = src.replaced(0, new Scene.Shape(Palette.Kind.SQUARE, "green", 0));   // recolor
        float[] blank = r.render(new Scene("black", java.util.List.of()));
        double q = Quality.of(blank, r.render(src), r.render(target));
        assertEquals(1.0 / 3.0, q, 1e-9, "right background, no edit, lost shape: one region of three");
    }

    @Test
    void renderingIsDeterministicAndShapesDiffer() {
        Renderer r = new Renderer(18);
        Scene sq = new Scene("black", java.util.List.of(new Scene.Shape(Palette.Kind.SQUARE, "red", 4)));
        Scene ci = new Scene("black", java.util.List.of(new Scene.Shape(Palette.Kind.CIRCLE, "red", 4)));
        assertArrayEquals(r.render(sq), r.render(sq));
        assertTrue(Quality.of(r.render(sq), r.render(sq), r.render(ci)) < 1.0);
        assertEquals(1.0, Quality.of(r.render(sq), r.render(sq), r.render(sq)));
    }
}
