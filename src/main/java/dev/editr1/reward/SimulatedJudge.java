package dev.editr1.reward;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.LogitScoreResult;
import dev.editr1.kernels.ScoreMode;
import dev.editr1.kernels.ScoreTokens;
import dev.editr1.kernels.Tensors;
import dev.editr1.world.Quality;

/**
 * The stand-in for the MLLM judge in the embedded world (SPEC §8): from the edited image and the
 * exact target it computes the true quality q₀ ({@link Quality}), forms the judge's view
 * q = clamp(q₀^p + N(0, noise²), 0, 1) (p = 1 by default; SPEC §8's probe used p = 4 on a plain pixel
 * fraction), emits logits −(k − 5q)²/(2·0.6²) over the six score tokens
 * "0".."5", and turns them into the reward with the logit-score kernel — exactly as a real MLLM's
 * logits would be. The noise is seeded by (seed, request id), so a run replays bit for bit.
 *
 * <p>A biased judge (bias b &gt; 0, for experiments on reward hacking) has a {@link JudgeFlaw}: its
 * view is q = clamp((1 − b)·q₀^p + b·appeal + N(0, noise²), 0, 1), where the appeal is something the
 * policy can raise without improving the edit. With b = 0 the view is computed exactly as without a
 * flaw, so the default judge's rewards do not change by a bit.
 */
public final class SimulatedJudge implements Judge {
    public static final double LOGIT_WIDTH = 0.6;
    private final KernelOps ops;
    private final long seed;
    private final double noise, exponent, bias;
    private final JudgeFlaw flaw;
    private final ExecutorService pool;

    public SimulatedJudge(KernelOps ops, long seed, double noise) {
        this(ops, seed, noise, 1.0);
    }

    public SimulatedJudge(KernelOps ops, long seed, double noise, double exponent) {
        this(ops, seed, noise, exponent, JudgeFlaw.NONE, 0);
    }

    /**
     * @param flaw what a biased judge over-rewards
     * @param bias b ∈ [0, 1): the flaw's weight in the judge's view (0: an unbiased judge; must be 0 with {@link JudgeFlaw#NONE})
     */
    public SimulatedJudge(KernelOps ops, long seed, double noise, double exponent, JudgeFlaw flaw, double bias) {
        if (!(noise >= 0) || !(exponent > 0)) throw new IllegalArgumentException("judge noise must be >= 0 and exponent > 0");
        if (!(bias >= 0 && bias < 1)) throw new IllegalArgumentException("judge bias must be in [0, 1) (got " + bias + ")");
        if (flaw == JudgeFlaw.NONE && bias != 0) throw new IllegalArgumentException("a judge bias needs a flaw (judgeFlaw)");
        this.ops = ops;
        this.seed = seed;
        this.noise = noise;
        this.exponent = exponent;
        this.flaw = flaw;
        this.bias = bias;
        this.pool = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "editr1-simulated-judge");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public String describe() {
        if (bias > 0)
            return "simulated, biased (" + (1 - bias) + "·true quality^" + exponent + " + " + bias + "·" + flaw.name().toLowerCase(java.util.Locale.ROOT)
                    + " appeal + N(0, " + noise + "²), logits over \"0\"..\"5\")";
        return "simulated (true quality^" + exponent + " + N(0, " + noise + "²), logits over \"0\"..\"5\")";
    }

    /** The six score-token logits for a judge view q ∈ [0, 1]. */
    public static float[] logits(double q) {
        float[] l = new float[6];
        for (int k = 0; k < 6; k++) l[k] = (float) (-(k - 5 * q) * (k - 5 * q) / (2 * LOGIT_WIDTH * LOGIT_WIDTH));
        return l;
    }

    @Override
    public CompletableFuture<List<Judgement>> judge(List<JudgeRequest> batch, Method method) {
        return CompletableFuture.supplyAsync(() -> rate(batch, method), pool);
    }

    /** Synchronous rating by the score-logit method (also used by tests). */
    public List<Judgement> rate(List<JudgeRequest> batch) {
        return rate(batch, Method.SCORE_LOGIT);
    }

    /** The judge's view q of a request (its noise keyed by the request id), or NaN without a target. */
    double view(JudgeRequest r) {
        if (r.target() == null) return Double.NaN;
        double q0 = Quality.of(r.edited(), r.source(), r.target());
        SplittableRandom rng = new SplittableRandom(seed ^ (r.id() * 0x9E3779B97F4A7C15L));
        double u = 1 - rng.nextDouble(), v = rng.nextDouble();
        double z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
        if (bias == 0) return Math.min(1, Math.max(0, Math.pow(q0, exponent) + noise * z));
        double seen = (1 - bias) * Math.pow(q0, exponent) + bias * flaw.appeal(r.edited(), r.source());
        return Math.min(1, Math.max(0, seen + noise * z));
    }

    /** Yes/no logits of a view q: the judge says yes above q = ½, more surely the farther (slope 8). */
    public static float[] yesNoLogits(double q) {
        return new float[] {(float) (8 * (q - 0.5)), (float) (-8 * (q - 0.5))};
    }

    /** Synchronous rating by any method. */
    public List<Judgement> rate(List<JudgeRequest> batch, Method method) {
        if (method == Method.YES_NO_LOGIT) return rateYesNo(batch);
        int n = batch.size();
        List<Judgement> out = new ArrayList<>(n);
        if (n == 0) return out;
        float[] rows = new float[n * 6];
        String[] failures = new String[n];
        for (int i = 0; i < n; i++) {
            JudgeRequest r = batch.get(i);
            double q = view(r);
            if (Double.isNaN(q)) {
                failures[i] = "the simulated judge needs the exact target";
                continue;
            }
            System.arraycopy(logits(q), 0, rows, i * 6, 6);
        }
        Tensor t = Tensors.fromFloats(rows, n, 6);
        ScoreMode mode = method == Method.GREEDY_DIGIT ? ScoreMode.ARGMAX : ScoreMode.EXPECTED;
        LogitScoreResult s = ops.logitScore(t, ScoreTokens.dense(6), mode);
        float[] score = Tensors.toFloats(s.score()), probs = Tensors.toFloats(s.probs()), mass = Tensors.toFloats(s.mass());
        for (int i = 0; i < n; i++) {
            if (failures[i] != null) {
                out.add(Judgement.unscored(failures[i]));
                continue;
            }
            double[] p = new double[6];
            for (int k = 0; k < 6; k++) p[k] = probs[i * 6 + k];
            double sc = score[i];
            if (method == Method.SAMPLED_DIGIT) {
                // one draw from the score tokens' distribution, seeded by the request
                double u = new SplittableRandom(seed * 7 + batch.get(i).id()).nextDouble(), acc = 0;
                int k = 5;
                for (int j = 0; j < 6; j++) {
                    acc += p[j];
                    if (u < acc) {
                        k = j;
                        break;
                    }
                }
                sc = k / 5.0;
            }
            out.add(new Judgement(sc, p, mass[i], null));
        }
        return out;
    }

    private List<Judgement> rateYesNo(List<JudgeRequest> batch) {
        int n = batch.size();
        List<Judgement> out = new ArrayList<>(n);
        if (n == 0) return out;
        float[] rows = new float[2 * n];
        for (int i = 0; i < n; i++) {
            double q = view(batch.get(i));
            float[] l = Double.isNaN(q) ? new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY} : yesNoLogits(q);
            rows[2 * i] = l[0];
            rows[2 * i + 1] = l[1];
        }
        LogitScoreResult s = ops.logitScore(Tensors.fromFloats(rows, n, 2), ScoreTokens.yesNo(0, 1), ScoreMode.EXPECTED);
        float[] score = Tensors.toFloats(s.score()), probs = Tensors.toFloats(s.probs()), mass = Tensors.toFloats(s.mass());
        for (int i = 0; i < n; i++) {
            if (Float.isNaN(score[i])) out.add(Judgement.unscored("the simulated judge needs the exact target"));
            else out.add(new Judgement(score[i], new double[] {probs[2 * i], probs[2 * i + 1]}, mass[i], null));
        }
        return out;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
