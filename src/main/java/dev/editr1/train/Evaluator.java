package dev.editr1.train;

import java.util.List;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.flow.Sampler;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.EditDiT;
import dev.editr1.model.LoraAdapter;
import dev.editr1.reward.Judgement;
import dev.editr1.reward.Judge;
import dev.editr1.world.EditTask;

/**
 * Held-out evaluation: one sample per task from fixed noise (the same for every model, so two
 * models are compared pair by pair), its judge score (the judge's noise keyed by the task, also
 * shared) and its true quality, with means and 95% confidence intervals.
 */
public final class Evaluator {
    static final int STREAM_EVAL = 3;
    static final long EVAL_ID_BASE = 1L << 50;

    /** Per-task results of one model; images are the edited canvases, [n, 3, S, S] flattened. */
    public record Result(double[] score, double[] quality, float[] images) {
        public Interval scoreCi() {
            return Interval.of(score);
        }

        public Interval qualityCi() {
            return Interval.of(quality);
        }
    }

    /** mean ± 1.96·sd/√n */
    public record Interval(double mean, double lo, double hi, int n) {
        public static Interval of(double[] x) {
            int n = 0;
            double s = 0, s2 = 0;
            for (double v : x)
                if (!Double.isNaN(v)) {
                    s += v;
                    s2 += v * v;
                    n++;
                }
            if (n == 0) return new Interval(Double.NaN, Double.NaN, Double.NaN, 0);
            double m = s / n, var = n > 1 ? Math.max(0, (s2 - n * m * m) / (n - 1)) : 0, h = 1.96 * Math.sqrt(var / n);
            return new Interval(m, m - h, m + h, n);
        }

        /** The paired difference b − a. */
        public static Interval diff(double[] a, double[] b) {
            double[] d = new double[a.length];
            for (int i = 0; i < a.length; i++) d[i] = b[i] - a[i];
            return of(d);
        }

        public boolean excludesZero() {
            return lo > 0 || hi < 0;
        }

        @Override
        public String toString() {
            return String.format("%.4f [%.4f, %.4f]", mean, lo, hi);
        }
    }

    private final WorldData data;
    private final KernelOps ops;
    private final Judge judge;
    private final long seed;
    private final double cfgScale;

    public Evaluator(WorldData data, KernelOps ops, Judge judge, long seed) {
        this(data, ops, judge, seed, 1.0);
    }

    /** @param cfgScale classifier-free guidance of the evaluation samples (1: none) */
    public Evaluator(WorldData data, KernelOps ops, Judge judge, long seed, double cfgScale) {
        this.data = data;
        this.ops = ops;
        this.judge = judge;
        this.seed = seed;
        this.cfgScale = cfgScale;
    }

    public Result evaluate(EditDiT model, LoraAdapter adapter, double[] sigmas, Sampler.Solver solver, int batch) {
        List<EditTask> tasks = data.heldOut;
        int n = tasks.size(), s = data.size();
        double[] score = new double[n], quality = new double[n];
        float[] images = new float[n * 3 * s * s];
        for (int start = 0; start < n; start += batch) {
            List<EditTask> chunk = tasks.subList(start, Math.min(n, start + batch));
            Tensor x0 = Policy.sample(model, data, chunk, adapter, new NoiseKey(seed, start, STREAM_EVAL), sigmas, solver, cfgScale,
                    ops);
            float[] all = Tensors.toFloats(x0);
            System.arraycopy(all, 0, images, start * 3 * s * s, all.length);
            List<Judgement> js = judge.judge(data.judgeRequests(chunk, all, EVAL_ID_BASE + start, quality, start)).join();
            for (int i = 0; i < js.size(); i++) score[start + i] = js.get(i).score();
        }
        return new Result(score, quality, images);
    }
}
