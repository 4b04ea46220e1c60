package dev.editr1.train;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import com.google.gson.JsonObject;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.data.EditItem;
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.Nvtx;
import dev.editr1.kernels.Scopes;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.EditingModel;
import dev.editr1.model.LoraSets;
import dev.editr1.reward.Judgement;

/**
 * The one Edit-R1 trainer (SPEC §7). One epoch reads as its phases, each a method returning a
 * record that can be tested alone:
 * <ol>
 *   <li>{@link #plan}: this rank's prompts and the global ids of their samples;</li>
 *   <li>{@link #rollOut}: rollouts with the old policy, in chunks whose judging overlaps the next chunk;</li>
 *   <li>{@link #collectRewards}: the judge's verdicts (unscored samples are NaN, never 0);</li>
 *   <li>{@link #selectSamples}: group advantages over the gathered epoch, r, the low-variance filter;</li>
 *   <li>{@link #update}: the objective's gradient ({@link Objective}: DiffusionNFT), then
 *       {@link #optimizerStep} (gradient all-reduce, clipping, AdamW) and the old-policy and EMA
 *       updates.</li>
 * </ol>
 * Ends with a held-out comparison of base and trained. The run folder's outputs and checkpoints
 * live in {@link RunFolder}; everything the run uses comes from its {@link RunContext}.
 *
 * <p>Built as one rank of many: a {@link Collective} gathers rewards before advantages and averages
 * gradients; in this process it is the single-rank identity. All randomness is keyed by (seed,
 * epoch, sample), so a run replays bit for bit and a resumed run ends where an uninterrupted one
 * does.
 */
public final class Trainer {
    static final long TRAIN_ID_STRIDE = 1L << 24;

    private final RunContext ctx;
    private final TrainConfig cfg;
    private final EditingModel model;
    private final RunFolder folder;
    private final PrintStream log;
    private final Collective collective = Collective.single();

    private LoraSets lora;
    private AdamW optimizer;
    private Objective objective;
    private Rollouts rollouts;
    private RunWatch watch;
    private final Set<String> banned = new HashSet<>();
    private int startEpoch;
    private double elapsedBefore;
    private final List<Double> rewardCurve = new ArrayList<>(), qualityCurve = new ArrayList<>();

    public Trainer(RunContext ctx, RunFolder folder, PrintStream log) {
        this.ctx = ctx;
        this.cfg = ctx.config;
        this.model = ctx.model;
        this.folder = folder;
        this.log = log;
    }

    /** What a run produced. */
    public record Summary(Evaluator.Interval baseScore, Evaluator.Interval trainedScore, Evaluator.Interval scoreGain,
                          Evaluator.Interval baseQuality, Evaluator.Interval trainedQuality,
                          Evaluator.Interval qualityGain, int epochs, double wallSeconds) {}

    // -------------------------------------------------------------------------------------------
    // set-up

    /** Builds the adapters (on the run's device) and the optimizer; on resume, restores the last checkpoint. */
    public void setUp(boolean resume) throws IOException {
        lora = LoraSets.fresh(model.loraTargets(), cfg.loraRank, cfg.loraAlpha, model.loraInit(), cfg.seed);
        model.attachLora(lora);
        optimizer = new AdamW(lora.theta.params, cfg.beta1, cfg.beta2, cfg.eps, cfg.weightDecay);
        rollouts = ctx.rollouts();
        watch = new RunWatch(ctx, folder, log);
        NftLossConfig lc = new NftLossConfig(cfg.beta, cfg.advClipMax, cfg.klWeight, cfg.weightFloor, cfg.lossForm);
        objective = switch (cfg.objective) {
            case NFT -> new NftObjective(model, ctx.ops, lc, ctx.sigmas, cfg.timestepsPerSample(), cfg.seed, cfg.microBatch,
                    cfg.gradientCheckpointing);
        };
        if (resume) {
            RunFolder.TrainerState st = folder.restore(lora, optimizer);
            startEpoch = st.epochsDone();
            elapsedBefore = st.elapsedSeconds();
            banned.addAll(st.banned());
            rewardCurve.addAll(st.rewardCurve());
            qualityCurve.addAll(st.qualityCurve());
            log.println("resuming after epoch " + startEpoch + " (optimizer step " + optimizer.step() + ") from " + folder.dir());
        }
    }

    // -------------------------------------------------------------------------------------------
    // the phases of one epoch

    /**
     * This rank's share of an epoch: its prompts (whole groups), each repeated groupSize times, and
     * the global id of the first sample (sample j of the epoch has id epoch·2²⁴ + j on every world size).
     */
    public record EpochPlan(int epoch, List<EditItem> prompts, List<EditItem> samples, long idBase, int firstSample) {
        /** The global id of local sample i. */
        long id(int i) {
            return idBase + i;
        }
    }

    /** The epoch's P prompts, drawn from the train split by (seed, epoch), skipping banned ones. */
    List<EditItem> prompts(int epoch) {
        List<EditItem> train = ctx.data.train();
        SplittableRandom rng = new SplittableRandom(cfg.seed * 1_000_033L + epoch);
        List<EditItem> out = new ArrayList<>();
        int guard = 0;
        while (out.size() < cfg.prompts) {
            EditItem t = train.get(rng.nextInt(train.size()));
            if (banned.contains(t.groupKey()) && guard++ < 100 * cfg.prompts) continue;
            out.add(t);
        }
        return out;
    }

    EpochPlan plan(int epoch) {
        List<EditItem> all = prompts(epoch);
        int per = (cfg.prompts + collective.worldSize() - 1) / collective.worldSize();
        int from = Math.min(all.size(), collective.rank() * per), to = Math.min(all.size(), (collective.rank() + 1) * per);
        List<EditItem> mine = all.subList(from, to), samples = new ArrayList<>();
        for (EditItem t : mine) for (int j = 0; j < cfg.groupSize; j++) samples.add(t);
        int first = from * cfg.groupSize;
        return new EpochPlan(epoch, List.copyOf(mine), samples, epoch * TRAIN_ID_STRIDE + first, first);
    }

    /**
     * Rollout latents per chunk, the judge's pending verdicts, each sample's true quality (NaN without a
     * target) and its drift from the source ({@link RunMonitor#drift}).
     */
    record Rollout(List<Tensor> latents, List<CompletableFuture<List<Judgement>>> verdicts, double[] quality, double[] drift,
                   double seconds) {
        Tensor all() {
            return latents.size() == 1 ? latents.get(0) : torch.cat(new TensorVector(latents.toArray(new Tensor[0])), 0);
        }
    }

    /** Rollouts with the old policy in chunks of rolloutBatch; each chunk's judging overlaps the next chunk. */
    Rollout rollOut(EpochPlan plan) {
        int n = plan.samples().size(), s = ctx.data.resolution();
        List<Tensor> parts = new ArrayList<>();
        List<CompletableFuture<List<Judgement>>> pending = new ArrayList<>();
        double[] quality = new double[n], drift = new double[n];
        long t0 = System.nanoTime();
        for (int start = 0; start < n; start += cfg.rolloutBatch) {
            final int first = start;
            List<EditItem> chunk = plan.samples().subList(start, Math.min(n, start + cfg.rolloutBatch));
            // a chunk's scope frees its conditioning batch and decoded images; only the latents stay
            Tensor x0 = Scopes.keep(() -> {
                Tensor x;
                try (Nvtx.Range r = Nvtx.range("train.rollout")) {
                    x = rollouts.sample(ctx.conditions(chunk), Adapter.OLD, NoiseStreams.ROLLOUT.key(cfg.seed, plan.id(first)));
                }
                float[] images = Tensors.toFloats(model.codec().decode(x));
                assert images.length == chunk.size() * 3 * s * s;
                pending.add(ctx.judge().judge(Evaluator.requests(ctx.data, chunk, images, plan.id(first), quality, drift, first)));
                return x;
            });
            parts.add(x0);
        }
        return new Rollout(parts, pending, quality, drift, (System.nanoTime() - t0) / 1e9);
    }

    /** The epoch's rewards and score-token masses (NaN = unscored), judgements with little mass on the score tokens, and failures. */
    record Rewards(double[] rewards, double[] mass, int lowMass, List<String> failures, double seconds) {}

    Rewards collectRewards(EpochPlan plan, Rollout ro) {
        long t0 = System.nanoTime();
        double[] rewards = new double[plan.samples().size()], mass = new double[rewards.length];
        int k = 0, lowMass = 0;
        List<String> failures = new ArrayList<>();
        try (Nvtx.Range r = Nvtx.range("train.judge_wait")) {
            for (CompletableFuture<List<Judgement>> f : ro.verdicts())
                for (Judgement jd : f.join()) {
                    mass[k] = jd.scored() ? jd.mass() : Double.NaN;
                    rewards[k++] = jd.scored() ? jd.score() : Double.NaN;
                    if (!jd.scored()) failures.add(jd.failure());
                    else if (jd.mass() < cfg.judgeMassWarning) lowMass++;
                }
        }
        if (lowMass > 0)
            log.printf(Locale.ROOT, "warning: epoch %d: %d of %d judgements put less than %.2f probability on the score tokens%n",
                    plan.epoch() + 1, lowMass, rewards.length, cfg.judgeMassWarning);
        if (!failures.isEmpty())
            log.printf(Locale.ROOT, "warning: epoch %d: %d samples unscored (excluded from their groups), e.g. %s%n",
                    plan.epoch() + 1, failures.size(), failures.get(0));
        return new Rewards(rewards, mass, lowMass, failures, (System.nanoTime() - t0) / 1e9);
    }

    /** The group statistics of the gathered epoch and this rank's kept samples (local indices) with their r. */
    record Selection(GroupStats stats, int[] kept, float[] r, double seconds) {}

    Selection selectSamples(EpochPlan plan, Rewards rw) {
        long t0 = System.nanoTime();
        double[] gathered = collective.allGather(rw.rewards());
        List<double[]> groups = new ArrayList<>();
        for (int g = 0; g < gathered.length / cfg.groupSize; g++)
            groups.add(java.util.Arrays.copyOfRange(gathered, g * cfg.groupSize, (g + 1) * cfg.groupSize));
        GroupStats st = GroupStats.compute(groups, cfg.advClipMax, cfg.filterStd, cfg.filterMean, cfg.filterMode, cfg.banStd,
                cfg.banMean);
        int firstGroup = plan.firstSample() / cfg.groupSize;
        if (cfg.ban)
            for (int g = 0; g < plan.prompts().size(); g++)
                if (st.banned[firstGroup + g]) banned.add(plan.prompts().get(g).groupKey());
        List<Integer> kept = new ArrayList<>();
        for (int i = 0; i < plan.samples().size(); i++) if (st.valid[plan.firstSample() + i]) kept.add(i);
        int[] idx = kept.stream().mapToInt(Integer::intValue).toArray();
        float[] r = new float[idx.length];
        for (int i = 0; i < idx.length; i++) r[i] = (float) st.r[plan.firstSample() + idx[i]];
        return new Selection(st, idx, r, (System.nanoTime() - t0) / 1e9);
    }

    /** What one optimizer update did. */
    record Update(Objective.Stats objective, double gradNorm, long step, double oldDecay, double optimizerSeconds) {
        static final Update NONE = new Update(new Objective.Stats(0, 0, 0, 0), 0, -1, Double.NaN, 0);
    }

    /** The objective on the kept samples, then {@link #optimizerStep} and the policy updates. */
    Update update(EpochPlan plan, Rollout ro, Selection sel) {
        int v = sel.kept().length;
        long[] ids = new long[v];
        List<EditItem> items = new ArrayList<>(v);
        long[] rows = new long[v];
        for (int i = 0; i < v; i++) {
            ids[i] = plan.id(sel.kept()[i]);
            rows[i] = sel.kept()[i];
            items.add(plan.samples().get(sel.kept()[i]));
        }
        Tensor x0 = ro.all().index_select(0, Tensors.fromLongs(rows, model.device())).contiguous();
        Objective.Stats os;
        try (Nvtx.Range range = Nvtx.range("train.objective")) {
            os = objective.accumulate(x0, ctx.conditions(items), Tensors.fromFloats(sel.r(), model.device(), v), plan.epoch(), ids);
        }
        long o0 = System.nanoTime();
        double gradNorm;
        long step;
        double decay;
        try (Nvtx.Range range = Nvtx.range("train.optimizer")) {
            gradNorm = optimizerStep();
            step = optimizer.step();
            decay = cfg.oldPolicyDecay.decay(step);
            lora.updateOld(decay);
            lora.updateEma(OldPolicySchedule.evalEmaDecay(step, cfg.evalEmaMax));
        }
        return new Update(os, gradNorm, step, decay, (System.nanoTime() - o0) / 1e9);
    }

    /** Averages θ's gradients over the ranks, clips their norm, steps AdamW and zeroes them; returns the norm before clipping. */
    double optimizerStep() {
        List<Tensor> grads = new ArrayList<>();
        for (Tensor p : lora.theta.params.tensors()) grads.add(p.grad());
        collective.allReduceMean(grads);
        double norm = optimizer.clipGradNorm(cfg.gradClip);
        optimizer.step(cfg.lr);
        optimizer.zeroGrad();
        return norm;
    }

    /**
     * Metrics of one epoch: one line of metrics.jsonl (every field a function of the seed, so two runs
     * with one seed write identical files) and one line of timings.jsonl (seconds per phase, samples/s,
     * and the epoch's peak tensor memory: the C heap on the CPU, the caching allocator on CUDA, see
     * {@link NativeMemory}).
     */
    public record EpochMetrics(int epoch, long step, double rewardMean, double rewardStd, double trueQuality,
                               double filteredFraction, int validSamples, int unscored, int lowMass, double loss, double kl,
                               double gradNorm, double oldDecay, Map<String, Double> seconds, double samplesPerSecond,
                               long startTensorBytes, long peakTensorBytes, RunMonitor.Signals signals) {
        /** The deterministic part, for metrics.jsonl. */
        public Map<String, Object> metrics() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("epoch", epoch);
            m.put("step", step);
            m.put("reward_mean", rewardMean);
            m.put("reward_std", rewardStd);
            m.put("true_quality", trueQuality);
            m.put("filtered_fraction", filteredFraction);
            m.put("valid_samples", validSamples);
            m.put("unscored", unscored);
            m.put("low_mass", lowMass);
            m.put("loss", loss);
            m.put("kl", kl);
            m.put("grad_norm", gradNorm);
            m.put("old_decay", oldDecay);
            signals.into(m);
            return m;
        }

        /** The wall-clock part, for timings.jsonl. */
        public Map<String, Object> timings() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("epoch", epoch);
            m.put("seconds", seconds);
            m.put("samples_per_second", samplesPerSecond);
            m.put("tensor_mb_at_start", startTensorBytes / 1048576.0);
            m.put("tensor_mb_peak", peakTensorBytes / 1048576.0);
            return m;
        }
    }

    /** One epoch: plan → rollouts → rewards → selection → update. */
    public EpochMetrics epoch(int epoch) {
        long t0 = System.nanoTime();
        NativeMemory.resetPeak();
        long startBytes = NativeMemory.inUse();
        EpochPlan plan = plan(epoch);
        Rollout ro = rollOut(plan);
        Rewards rw = collectRewards(plan, ro);
        Selection sel = selectSamples(plan, rw);
        Update up = sel.kept().length == 0 ? Update.NONE : update(plan, ro, sel);
        Map<String, Double> sec = new LinkedHashMap<>();
        sec.put("rollout", ro.seconds());
        sec.put("judge_wait", rw.seconds());
        sec.put("advantages", sel.seconds());
        sec.put("loss", up.objective().forwardSeconds());
        sec.put("backward", up.objective().backwardSeconds());
        sec.put("optimizer", up.optimizerSeconds());
        double total = (System.nanoTime() - t0) / 1e9;
        sec.put("total", total);
        long peak = NativeMemory.peak();
        Moments rm = Moments.of(rw.rewards()), q = Moments.of(ro.quality());
        int n = rw.rewards().length;
        return new EpochMetrics(epoch, optimizer.step(), rm.mean(), rm.n() > 0 ? rm.std() : Double.NaN, q.mean(),
                sel.stats().filteredFraction(), sel.kept().length, sel.stats().unscored, rw.lowMass(), up.objective().loss(),
                up.objective().kl(), up.gradNorm(), up.oldDecay(), sec, n / total, startBytes, peak,
                RunMonitor.Signals.of(ro.drift(), sel.stats(), rw.mass()));
    }

    // -------------------------------------------------------------------------------------------
    // the whole run

    public Summary run() throws IOException {
        folder.writeConfig(cfg);
        try (RunWatch w = watch) {
            w.start(startEpoch);
            return train();
        }
    }

    private Summary train() throws IOException {
        long t0 = System.nanoTime();
        for (int e = startEpoch; e < cfg.epochs; e++) {
            EpochMetrics m;
            try (PointerScope scope = new PointerScope()) {
                m = epoch(e);
            }
            folder.append(m, watch.epoch(m));
            rewardCurve.add(m.rewardMean());
            qualityCurve.add(m.trueQuality());
            double elapsed = elapsedBefore + (System.nanoTime() - t0) / 1e9;
            double eta = elapsed / (e + 1) * (cfg.epochs - e - 1);
            log.printf(Locale.ROOT, "epoch %4d/%d  reward %.3f ± %.3f  quality %.3f  filtered %3.0f%%  loss %.4f  "
                            + "kl %.2e  |g| %.3f  %.1f samples/s  ETA %s%n", e + 1, cfg.epochs, m.rewardMean(), m.rewardStd(),
                    m.trueQuality(), 100 * m.filteredFraction(), m.loss(), m.kl(), m.gradNorm(), m.samplesPerSecond(),
                    hms(eta));
            watch.afterEpoch(e + 1);
            if ((e + 1) % cfg.checkpointEvery == 0 || e + 1 == cfg.epochs)
                folder.checkpoint(lora, optimizer, new RunFolder.TrainerState(e + 1, optimizer.step(), elapsed, banned,
                        rewardCurve, qualityCurve));
        }
        double wall = elapsedBefore + (System.nanoTime() - t0) / 1e9;
        return finish(wall);
    }

    private Summary finish(double wall) throws IOException {
        log.println("evaluating base and trained on " + ctx.data.heldOut().size() + " held-out tasks ...");
        Evaluator ev = new Evaluator(ctx, ctx.judge(), cfg.seed);
        Evaluator.Result base, trained;
        try (PointerScope scope = new PointerScope()) {
            base = watch.base() != null ? watch.base() : ev.evaluate(Adapter.OFF, 64);   // the base's epoch-0 evaluation
            trained = ev.evaluate(Adapter.EMA, 64);
        }
        Summary s = new Summary(base.scoreCi(), trained.scoreCi(), Evaluator.Interval.diff(base.score(), trained.score()),
                base.qualityCi(), trained.qualityCi(), Evaluator.Interval.diff(base.quality(), trained.quality()), cfg.epochs,
                wall);
        writeSummary(s);
        pictures(base, trained);
        folder.writeFinal(lora);
        printTable(s);
        return s;
    }

    private void writeSummary(Summary s) throws IOException {
        JsonObject o = new JsonObject();
        o.add("base", pair(s.baseScore(), s.baseQuality()));
        o.add("trained", pair(s.trainedScore(), s.trainedQuality()));
        o.add("gain", pair(s.scoreGain(), s.qualityGain()));
        o.addProperty("epochs", s.epochs());
        o.addProperty("wall_seconds", s.wallSeconds());
        o.addProperty("held_out_tasks", ctx.data.heldOut().size());
        o.addProperty("trained_adapter", "checkpoints/final/adapter_ema.safetensors (evaluation EMA of θ)");
        o.addProperty("model", model.describe());
        o.addProperty("data", ctx.data.describe());
        o.addProperty("device", ctx.backend.describe());
        o.addProperty("judge", ctx.judge().describe());
        watch.describeInto(o, s.wallSeconds());
        folder.writeJson("summary.json", o);
    }

    private static JsonObject pair(Evaluator.Interval score, Evaluator.Interval quality) {
        JsonObject o = new JsonObject();
        o.add("judge_score", ci(score));
        o.add("true_quality", ci(quality));
        return o;
    }

    private static JsonObject ci(Evaluator.Interval i) {
        JsonObject o = new JsonObject();
        o.addProperty("mean", i.mean());
        o.addProperty("ci95_low", i.lo());
        o.addProperty("ci95_high", i.hi());
        o.addProperty("n", i.n());
        return o;
    }

    private void pictures(Evaluator.Result base, Evaluator.Result trained) throws IOException {
        Pictures.grid(folder.file("heldout_grid.png"), RunWatch.gridRows(ctx.data, base, trained), ctx.data.resolution());
        watch.finish(base, trained, folder.file("heldout_grid.png"));
    }

    private void printTable(Summary s) {
        log.println();
        log.println("held-out (" + ctx.data.heldOut().size() + " tasks)   mean [95% CI]");
        log.printf(Locale.ROOT, "  %-14s %-28s %-28s%n", "", "judge score", "true quality");
        log.printf(Locale.ROOT, "  %-14s %-28s %-28s%n", "base", s.baseScore(), s.baseQuality());
        log.printf(Locale.ROOT, "  %-14s %-28s %-28s%n", "trained", s.trainedScore(), s.trainedQuality());
        log.printf(Locale.ROOT, "  %-14s %-28s %-28s%n", "gain (paired)", s.scoreGain(), s.qualityGain());
        log.printf(Locale.ROOT, "training wall time %s over %d epochs; run folder %s%n", hms(s.wallSeconds()), s.epochs(),
                folder.dir());
    }

    static String hms(double seconds) {
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }

    /** The adapter sets being trained. */
    public LoraSets lora() {
        return lora;
    }

    public AdamW optimizer() {
        return optimizer;
    }
}
