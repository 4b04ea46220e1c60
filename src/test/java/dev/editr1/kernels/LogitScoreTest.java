package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

/** The batched logits-to-score kernel (SPEC §4). */
class LogitScoreTest {
    static final NativeOps NATIVE = new NativeOps(true);
    static final TorchOps TORCH = new TorchOps(true);
    static final int QWEN_VOCAB = 151_936;
    static final float NEG_INF = Float.NEGATIVE_INFINITY;

    @Test
    void goldenRows() {
        JsonObject g = Golden.load("logit_score.json");
        int[] ids = g.getAsJsonArray("token_ids").asList().stream().mapToInt(JsonElement::getAsInt).toArray();
        float[] vals = Golden.floats(g.get("values"));
        ScoreTokens tok = new ScoreTokens(ids, vals);
        for (JsonElement re : g.getAsJsonArray("rows")) {
            JsonObject row = re.getAsJsonObject();
            float[] logits = Golden.floats(row.get("logits"));
            JsonObject ex = row.getAsJsonObject("expect");
            for (KernelOps ops : new KernelOps[] {NATIVE, TORCH}) {
                Tensor t = Tensors.fromFloats(logits, 1, logits.length);
                LogitScoreResult r = ops.logitScore(t, tok, ScoreMode.EXPECTED);
                String what = "golden " + ops.name();
                Tolerance.close(what + " score", new double[] {ex.get("score").getAsDouble()}, TestData.floats(r.score()), 1e-6, 1e-5);
                Tolerance.close(what + " probs", Golden.doubles(ex.get("probs")), TestData.floats(r.probs()), 1e-7, 1e-5);
                Tolerance.close(what + " mass", new double[] {ex.get("mass").getAsDouble()}, TestData.floats(r.mass()), 1e-12, 1e-5);
                LogitScoreResult a = ops.logitScore(t, tok, ScoreMode.ARGMAX);
                assertEquals(ex.get("argmax_score").getAsDouble(), TestData.floats(a.score())[0], 1e-7, what + " argmax");
            }
        }
    }

    /** Rows built to break a softmax: peaked, −∞ in the vocabulary and on score tokens, all equal, huge. */
    static float[] awkwardRows(int v, SplittableRandom rng) {
        int rows = 6;
        float[] l = new float[rows * v];
        for (int i = 0; i < l.length; i++) l[i] = (float) (TestData.gaussian(rng) * 2);
        // row 0: a judge that answers "4" with some doubt
        l[19] = 14f;
        l[18] = 12.5f;
        l[20] = 11f;
        // row 1: −∞ spread over the vocabulary and on two score tokens
        for (int i = 0; i < v; i += 3) l[v + i] = NEG_INF;
        l[v + 15] = NEG_INF;
        l[v + 17] = NEG_INF;
        l[v + 16] = 3f;
        l[v + 19] = 2f;
        // row 2: all equal
        for (int i = 0; i < v; i++) l[2 * v + i] = 1.25f;
        // row 3: all score tokens −∞: unscorable
        for (int k = 15; k <= 20; k++) l[3 * v + k] = NEG_INF;
        // row 4: large logits (stability), the answer elsewhere in the vocabulary
        for (int i = 0; i < v; i++) l[4 * v + i] += 1000f;
        l[4 * v + v - 1] = 1100f;
        // row 5: plain noise
        return l;
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void fullVocabularyRowsMatchReference(DType dt) {
        SplittableRandom rng = new SplittableRandom(dt.ordinal());
        for (int v : new int[] {QWEN_VOCAB, 8193, 97}) {
            float[] l = TestData.rounded(awkwardRows(v, rng), dt);
            int rows = l.length / v;
            Tensor t = TestData.tensor(l, dt, rows, v);
            for (ScoreMode mode : ScoreMode.values()) {
                LogitScoreResult nat = NATIVE.logitScore(t, ScoreTokens.QWEN_DIGITS, mode);
                LogitScoreResult tor = TORCH.logitScore(t, ScoreTokens.QWEN_DIGITS, mode);
                double[] score = new double[rows], mass = new double[rows], probs = new double[rows * 6];
                for (int b = 0; b < rows; b++) {
                    double[] row = new double[v];
                    for (int i = 0; i < v; i++) row[i] = l[b * v + i];
                    Reference.Score s = Reference.logitScore(row, ScoreTokens.QWEN_DIGITS, mode);
                    score[b] = s.score();
                    mass[b] = s.mass();
                    System.arraycopy(s.probs(), 0, probs, b * 6, 6);
                }
                String what = "V=" + v + " " + mode + " [" + dt.label() + "]";
                // outputs are f32 from the (rounded) inputs: f32 tolerances whatever the input dtype
                Tolerance.close(what + " score", score, TestData.floats(nat.score()), 1e-6, 1e-5);
                Tolerance.close(what + " probs", probs, TestData.floats(nat.probs()), 1e-7, 1e-5);
                Tolerance.close(what + " mass", mass, TestData.floats(nat.mass()), 1e-9, 1e-4);
                Tolerance.close(what + " score (torch)", score, TestData.floats(tor.score()), 1e-6, 1e-5);
                Tolerance.close(what + " mass (torch)", mass, TestData.floats(tor.mass()), 1e-9, 1e-4);
                assertEquals(1, nat.unscored(), "row 3 is unscorable, and only row 3");
                assertTrue(Float.isNaN(TestData.floats(nat.score())[3]));
                assertEquals(0f, TestData.floats(nat.mass())[3]);
            }
        }
    }

    @Test
    void argmaxTiesGoToTheLowerToken() {
        float[] l = {0, 1, 2, 5, 5, 1}; // tokens 3 and 4 tie
        Tensor t = Tensors.fromFloats(l, 1, 6);
        for (KernelOps ops : new KernelOps[] {NATIVE, TORCH})
            assertEquals(3f / 5f, TestData.floats(ops.logitScore(t, ScoreTokens.dense(6), ScoreMode.ARGMAX).score())[0], 0f,
                    ops.name());
    }

    @Test
    void httpTopLogprobRowsWithMissingTokens() {
        // B × K rows of an OpenAI-compatible judge's top log-probs; missing digits are −∞
        float[] l = {-0.1f, NEG_INF, -3f, NEG_INF, -9f, -2.5f,
                NEG_INF, NEG_INF, NEG_INF, NEG_INF, NEG_INF, -0.01f};
        Tensor t = Tensors.fromFloats(l, 2, 6);
        LogitScoreResult r = NATIVE.logitScore(t, ScoreTokens.dense(6), ScoreMode.EXPECTED);
        for (int b = 0; b < 2; b++) {
            double[] row = new double[6];
            for (int i = 0; i < 6; i++) row[i] = l[b * 6 + i];
            Reference.Score s = Reference.logitScore(row, ScoreTokens.dense(6), ScoreMode.EXPECTED);
            assertEquals(s.score(), TestData.floats(r.score())[b], 1e-6);
            assertEquals(s.mass(), TestData.floats(r.mass())[b], 1e-6);
        }
        assertEquals(1.0f, TestData.floats(r.score())[1], 1e-7f, "only '5' present: score 1");
    }

    @Test
    void yesNoJudge() {
        float[] l = new float[2 * 100];
        l[40] = 3f; // "yes"
        l[41] = 1f; // "no"
        l[100 + 40] = -2f;
        l[100 + 41] = 2f;
        LogitScoreResult r = NATIVE.logitScore(Tensors.fromFloats(l, 2, 100), ScoreTokens.yesNo(40, 41), ScoreMode.EXPECTED);
        float[] s = TestData.floats(r.score());
        assertEquals(1 / (1 + Math.exp(-2)), s[0], 1e-6);
        assertEquals(1 / (1 + Math.exp(4)), s[1], 1e-6);
    }

    @Test
    void lastPositionOfASequenceIsReadInPlace() {
        // logits [B, L, V] → the last position [B, V] is a strided view; no copy needed
        int b = 3, len = 4, v = 1031;
        float[] all = TestData.normal(new SplittableRandom(4), b * len * v, 2.0);
        Tensor seq = Tensors.fromFloats(all, b, len, v);
        Tensor last = seq.select(1, len - 1);
        assertTrue(!last.is_contiguous());
        LogitScoreResult strided = NATIVE.logitScore(last, ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED);
        LogitScoreResult copied = NATIVE.logitScore(last.contiguous(), ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED);
        org.junit.jupiter.api.Assertions.assertArrayEquals(TestData.floats(copied.score()), TestData.floats(strided.score()));
        org.junit.jupiter.api.Assertions.assertArrayEquals(TestData.floats(copied.mass()), TestData.floats(strided.mass()));
    }
}
