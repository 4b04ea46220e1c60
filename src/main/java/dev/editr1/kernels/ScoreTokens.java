package dev.editr1.kernels;

import java.util.Arrays;

/**
 * The K score tokens of a judge prompt and their values (SPEC §4).
 *
 * @param ids    token ids in the judge's vocabulary (distinct)
 * @param values the value of each token; scores are value / max value
 */
public record ScoreTokens(int[] ids, float[] values) {
    /** Qwen2/2.5 tokenizers: "0".."5" are ids 15..20. */
    public static final ScoreTokens QWEN_DIGITS = new ScoreTokens(new int[] {15, 16, 17, 18, 19, 20},
            new float[] {0, 1, 2, 3, 4, 5});

    public ScoreTokens {
        if (ids == null || values == null || ids.length != values.length)
            throw new IllegalArgumentException("ScoreTokens: ids and values must have the same length");
        if (ids.length < 1 || ids.length > Editr1Native.EDITR1_MAX_SCORE_TOKENS)
            throw new IllegalArgumentException("ScoreTokens: 1.." + Editr1Native.EDITR1_MAX_SCORE_TOKENS
                    + " tokens, got " + ids.length);
        ids = ids.clone();
        values = values.clone();
    }

    /** Yes/no judging: K = 2 with values {1, 0}. */
    public static ScoreTokens yesNo(int yesId, int noId) {
        return new ScoreTokens(new int[] {yesId, noId}, new float[] {1, 0});
    }

    /** Tokens 0..k-1 with values 0..k-1: a B × K row of an HTTP judge's top log-probs. */
    public static ScoreTokens dense(int k) {
        int[] ids = new int[k];
        float[] v = new float[k];
        for (int i = 0; i < k; i++) {
            ids[i] = i;
            v[i] = i;
        }
        return new ScoreTokens(ids, v);
    }

    public int size() {
        return ids.length;
    }

    public float maxValue() {
        float m = Float.NEGATIVE_INFINITY;
        for (float v : values) m = Math.max(m, v);
        return m;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ScoreTokens s && Arrays.equals(ids, s.ids) && Arrays.equals(values, s.values);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return "ScoreTokens" + Arrays.toString(ids) + "=" + Arrays.toString(values);
    }
}
