package dev.editr1.world;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The word-level vocabulary of the world's instructions: every word the templates can write,
 * plus padding (id 0) and unknown (id 1). Instructions become fixed-length id sequences.
 */
public final class Vocabulary {
    public static final int PAD = 0, UNKNOWN = 1;
    private final Map<String, Integer> ids = new LinkedHashMap<>();
    private final int length;

    public Vocabulary(int length) {
        this.length = length;
        add("<pad>");
        add("<unk>");
        for (String w : "add a an at the remove replace with make move to change background".split(" ")) add(w);
        for (Palette.Colour c : Palette.SHAPE_COLOURS) add(c.name());
        for (Palette.Colour c : Palette.BACKGROUNDS) add(c.name());
        for (Palette.Kind k : Palette.Kind.values()) add(k.word);
        for (String p : Palette.POSITIONS) for (String w : p.split(" ")) add(w);
    }

    public static Vocabulary standard() {
        return new Vocabulary(10);
    }

    private void add(String w) {
        ids.putIfAbsent(w, ids.size());
    }

    public int size() {
        return ids.size();
    }

    /** Tokens per instruction (longer instructions are cut, shorter ones padded). */
    public int length() {
        return length;
    }

    public int[] encode(String instruction) {
        int[] out = new int[length];
        String[] words = instruction.toLowerCase(Locale.ROOT).trim().split("\\s+");
        for (int i = 0; i < Math.min(words.length, length); i++) out[i] = ids.getOrDefault(words[i], UNKNOWN);
        return out;
    }

    public List<String> words() {
        return new ArrayList<>(ids.keySet());
    }
}
