package dev.editr1.train;

import java.util.ArrayList;
import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import dev.editr1.data.EditDataset;
import dev.editr1.data.EditItem;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.EditingModel;
import dev.editr1.reward.Judge;
import dev.editr1.reward.JudgeRequest;
import dev.editr1.reward.Judgement;
import dev.editr1.world.Quality;

/**
 * Held-out evaluation: one sample per task from fixed noise (the same for every adapter, so two
 * models are compared pair by pair), its judge score (the judge's noise keyed by the task, also
 * shared) and its true quality where the task has a target, with means and 95% confidence intervals.
 */
public final class Evaluator {
    static final long EVAL_ID_BASE = 1L << 50;

    /** Per-task results of one model; images are the edited images, [n, 3, S, S] flattened. */
    public record Result(double[] score, double[] quality, float[] images) {
        public Interval scoreCi() {
            return Interval.of(score);
        }

        public Interval qualityCi() {
            return Interval.of(quality);
        }
    }

    /** mean ± 1.96·sd/√n over the values that are not NaN */
    public record Interval(double mean, double lo, double hi, int n) {
        public static Interval of(double[] x) {
            Moments m = Moments.of(x);
            if (m.n() == 0) return new Interval(Double.NaN, Double.NaN, Double.NaN, 0);
            double h = 1.96 * Math.sqrt(m.sampleVariance() / m.n());
            return new Interval(m.mean(), m.mean() - h, m.mean() + h, m.n());
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

    private final RunContext ctx;
    private final Judge judge;
    private final long seed;

    /** @param seed keys the evaluation noise (with the judge's own seed, the comparison's randomness) */
    public Evaluator(RunContext ctx, Judge judge, long seed) {
        this.ctx = ctx;
        this.judge = judge;
        this.seed = seed;
    }

    /** Samples, judges and measures every held-out task with an adapter set of the model. */
    public Result evaluate(Adapter adapter, int batch) {
        return evaluate(adapter, batch, 0, ctx.data.heldOut().size());
    }

    /**
     * Held-out tasks [from, to) only (one rank's share): task i's noise rows and judge request id
     * are keyed by i, so a task gets the same sample and judgement in any share. The result's
     * arrays hold the share's tasks, in order.
     */
    public Result evaluate(Adapter adapter, int batch, int from, int to) {
        return evaluate(adapter, batch, from, to, 0);
    }

    /**
     * Sample k of every held-out task in [from, to): sample 0 is the one {@link #evaluate(Adapter, int,
     * int, int)} draws; sample k draws its initial noise with evaluation seed {@code seed + k} (the
     * noise {@code eval --seed seed+k} samples from) and its judge request ids are offset by k·2^32,
     * so each sample of a task gets its own noise and its own judge noise.
     */
    public Result evaluate(Adapter adapter, int batch, int from, int to, int sample) {
        if (sample < 0 || sample >= 1 << 16) throw new IllegalArgumentException("sample must be in 0..65535, got " + sample);
        EditDataset data = ctx.data;
        EditingModel model = ctx.model;
        List<EditItem> tasks = data.heldOut();
        Rollouts rollouts = ctx.rollouts();
        int n = to - from, s = data.resolution(), per = 3 * s * s;
        double[] score = new double[n], quality = new double[n];
        float[] images = new float[n * per];
        for (int start = from; start < to; start += batch) {
            List<EditItem> chunk = tasks.subList(start, Math.min(to, start + batch));
            float[] all;
            try (PointerScope scope = new PointerScope()) {   // a chunk's tensors die with it
                Tensor x0 = rollouts.sample(ctx.conditions(chunk), adapter, NoiseStreams.EVAL.key(seed + sample, start));
                all = Tensors.toFloats(model.codec().decode(x0));
            }
            System.arraycopy(all, 0, images, (start - from) * per, all.length);
            long idBase = EVAL_ID_BASE + ((long) sample << 32) + start;
            List<Judgement> js = judge.judge(requests(data, chunk, all, idBase, quality, start - from)).join();
            for (int i = 0; i < js.size(); i++) score[start - from + i] = js.get(i).score();
        }
        return new Result(score, quality, images);
    }

    /**
     * The judge's requests for edited images of items (request ids idBase + i), and the true quality
     * of each image (NaN without a target), written to quality[offset + i].
     *
     * @param images the edited images, [items.size(), 3, S, S] flattened
     */
    static List<JudgeRequest> requests(EditDataset data, List<EditItem> items, float[] images, long idBase, double[] quality,
                                       int offset) {
        return requests(data, items, images, idBase, quality, null, offset);
    }

    /** As above, and each image's {@link RunMonitor#drift} from its source, written to drift[offset + i] (drift may be null). */
    static List<JudgeRequest> requests(EditDataset data, List<EditItem> items, float[] images, long idBase, double[] quality,
                                       double[] drift, int offset) {
        int per = images.length / Math.max(1, items.size());
        List<JudgeRequest> req = new ArrayList<>(items.size());
        for (int i = 0; i < items.size(); i++) {
            EditItem it = items.get(i);
            float[] img = new float[per];
            System.arraycopy(images, i * per, img, 0, per);
            float[] src = data.source(it), tgt = data.target(it);
            quality[offset + i] = tgt == null ? Double.NaN : Quality.of(img, src, tgt);
            if (drift != null) drift[offset + i] = RunMonitor.drift(img, src);
            req.add(new JudgeRequest(idBase + i, src, img, it.prompt(), it.requirement(), tgt));
        }
        return req;
    }
}
