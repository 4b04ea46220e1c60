package dev.editr1.train;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import com.google.gson.JsonObject;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import dev.editr1.data.EditItem;
import dev.editr1.flow.Trajectory;
import dev.editr1.kernels.Backend;
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.Nvtx;
import dev.editr1.kernels.Scopes;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditingModel;
import dev.editr1.model.LoraAdapter;
import dev.editr1.model.LoraSets;
import dev.editr1.reward.Judgement;

/**
 * The one Edit-R1 trainer (SPEC §7). One epoch reads as its phases, each a method returning a
 * record that can be tested alone:
 * <ol>
 *   <li>{@link #plan}: this rank's prompts and the global ids of their samples;</li>
 *   <li>{@link #rollOut}: rollouts as the objective draws them (NFT: the old policy's ODE samples; GRPO: θ's
 *       SDE steps), in chunks whose judging overlaps the next chunk;</li>
 *   <li>{@link #collectRewards}: the judge's verdicts (unscored samples are NaN, never 0);</li>
 *   <li>{@link #selectSamples}: group advantages over the gathered epoch, r, the low-variance filter;</li>
 *   <li>{@link #update}: the objective's gradient ({@link Objective}: DiffusionNFT or Flow-GRPO), then
 *       {@link #optimizerStep} (gradient all-reduce, clipping, AdamW) and the old-policy and EMA
 *       updates.</li>
 * </ol>
 * Ends with a held-out comparison of base and trained. The run folder's outputs and checkpoints
 * live in {@link RunFolder}; everything the run uses comes from its {@link RunContext}.
 *
 * <p>One rank of many: each rank rolls out and judges its share of the epoch's groups (whole
 * groups), a {@link Collective} gathers the rewards before advantages (so the epoch's std and the
 * filter see every group), sums the gradients with each rank's weight (see {@link #update}) and
 * checks every {@code distChecksumEvery} steps that all ranks hold the same adapters. Rank 0 alone
 * writes the run folder and reads checkpoints, then hands their state to the others. With
 * {@link Collective#single()} every collective is the identity and nothing differs from a plain
 * run. All randomness is keyed by (seed, epoch, global sample id), so a run replays bit for bit, a
 * resumed run ends where an uninterrupted one does, and a sample's data do not depend on how many
 * ranks there are.
 */
public final class Trainer {
    static final long TRAIN_ID_STRIDE = 1L << 24;

    private final RunContext ctx;
    private final TrainConfig cfg;
    private final EditingModel model;
    private final RunFolder folder;
    private final PrintStream log;
    private final Collective collective;

    private LoraSets lora;
    private AdamW optimizer;
    private Objective objective;
    private Rollouts rollouts;
    private RunWatch watch;
    private final Set<String> banned = new HashSet<>();
    private int startEpoch;
    private double elapsedBefore;
    private final List<Double> rewardCurve = new ArrayList<>(), qualityCurve = new ArrayList<>();
    private int skippedSteps, badStepsInARow, lastCheckpointEpoch;

    public Trainer(RunContext ctx, RunFolder folder, PrintStream log) {
        this(ctx, folder, log, Collective.single());
    }

    /** One rank of a multi-process run ({@code folder} from {@link RunFolder#forRank}). */
    public Trainer(RunContext ctx, RunFolder folder, PrintStream log, Collective collective) {
        this.ctx = ctx;
        this.cfg = ctx.config;
        this.model = ctx.model;
        this.folder = folder;
        this.log = log;
        this.collective = collective;
        if (cfg.prompts < collective.worldSize())
            throw new IllegalArgumentException("prompts (" + cfg.prompts + " per epoch) must be at least the number of ranks ("
                    + collective.worldSize() + "): every rank rolls out whole groups");
    }

    /** What a run produced. */
    public record Summary(Evaluator.Interval baseScore, Evaluator.Interval trainedScore, Evaluator.Interval scoreGain,
                          Evaluator.Interval baseQuality, Evaluator.Interval trainedQuality,
                          Evaluator.Interval qualityGain, int epochs, double wallSeconds) {}

    // -------------------------------------------------------------------------------------------
    // set-up

    /** Builds the adapters (on the run's device) and the optimizer; on resume, restores the last checkpoint. */
    public void setUp(boolean resume) throws IOException {
        folder.lock();                 // before anything is read or written: one run per folder (run() lets go of it)
        try {
            ctx.judge().preflight();   // a judge that cannot answer stops the run before its first rollout
            prepare(resume);
        } catch (IOException | RuntimeException | Error e) {
            folder.unlock();
            throw e;
        }
    }

    /** The layers the run's adapters target: the model's, and its MLPs with {@code loraMlp}. */
    static Map<String, long[]> loraTargets(EditingModel model, TrainConfig cfg) {
        Map<String, long[]> m = new LinkedHashMap<>(model.loraTargets());
        if (cfg.loraMlp) {
            Map<String, long[]> mlp = model.mlpLoraTargets();
            if (mlp.isEmpty()) throw new IllegalArgumentException("loraMlp=true: " + model.describe() + " offers no MLP layers to adapt");
            m.putAll(mlp);
        }
        return m;
    }

    private void prepare(boolean resume) throws IOException {
        lora = LoraSets.fresh(loraTargets(model, cfg), cfg.loraRank, cfg.loraAlpha, model.loraInit(), cfg.seed);
        model.attachLora(lora);
        optimizer = new AdamW(lora.theta.params, cfg.beta1, cfg.beta2, cfg.eps, cfg.weightDecay);
        rollouts = ctx.rollouts();
        watch = new RunWatch(ctx, folder, log, (adapter, epochsDone) -> {
            collective.phase("evaluate", epochsDone - 1);
            return evaluate(new Evaluator(ctx, ctx.judge(), cfg.seed), adapter);
        });
        NftLossConfig lc = new NftLossConfig(cfg.beta, cfg.advClipMax, cfg.klWeight, cfg.weightFloor, cfg.lossForm);
        objective = switch (cfg.objective) {
            case NFT -> new NftObjective(model, ctx.ops, lc, ctx.sigmas, cfg.timestepsPerSample(), cfg.seed, cfg.microBatch,
                    cfg.gradientCheckpointing, cfg.groupNoise ? cfg.groupSize : 1, cfg.highNoiseTimesteps, cfg.rolloutNoise, ctx.side());
            case GRPO -> new GrpoObjective(model, ctx.ops, ctx.sigmas, cfg.sdeNoiseLevel, cfg.grpoClipRange, cfg.grpoKlWeight,
                    cfg.advClipMax, cfg.timestepsPerSample(), cfg.grpoEmaInterval, cfg.microBatch, cfg.gradientCheckpointing, ctx.side());
        };
        // rank 0 alone reads the checkpoint; shareState hands it (and fresh adapters) to the other ranks
        RunFolder.TrainerState st = resume && collective.rank() == 0 ? folder.restore(lora, optimizer) : null;
        if (collective.worldSize() > 1) st = shareState(st, resume);
        if (resume) {
            startEpoch = lastCheckpointEpoch = st.epochsDone();
            elapsedBefore = st.elapsedSeconds();
            banned.addAll(st.banned());
            rewardCurve.addAll(st.rewardCurve());
            qualityCurve.addAll(st.qualityCurve());
            log.println("resuming after epoch " + startEpoch + " (optimizer step " + optimizer.step() + ") from " + folder.dir());
        }
    }

    /**
     * Many ranks: every rank takes rank 0's adapters (θ, old, EMA) and AdamW moments, and on a resume
     * rank 0's trainer state, so the run folder need not be visible to the other ranks. A fresh run
     * would agree anyway (the adapters are seeded); the broadcast makes it a fact, and the checksum
     * of {@link #verifyAdapters} keeps checking it.
     */
    private RunFolder.TrainerState shareState(RunFolder.TrainerState st, boolean resume) {
        collective.phase("set-up", startEpoch - 1);
        List<Tensor> all = new ArrayList<>();
        for (LoraAdapter a : List.of(lora.theta, lora.old, lora.ema)) all.addAll(a.params.tensors());
        all.addAll(optimizer.state().values());
        collective.broadcast(all);
        if (!resume) return null;
        RunFolder.TrainerState shared = RunFolder.parseState(collective.broadcast(st == null ? "" : RunFolder.stateJson(st)));
        if (collective.rank() != 0) optimizer.loadState(optimizer.state(), shared.optimizerStep());   // the step; moments came above
        return shared;
    }

    // -------------------------------------------------------------------------------------------
    // the phases of one epoch

    /**
     * This rank's share of an epoch: its prompts (whole groups), each repeated groupSize times, and
     * the global id of the first sample (sample j of the epoch has id epoch·2²⁴ + j on every world size);
     * and the epoch's prompts of every rank (the ban applies to all of them on every rank).
     */
    public record EpochPlan(int epoch, List<EditItem> prompts, List<EditItem> samples, long idBase, int firstSample,
                            List<EditItem> epochPrompts) {
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
            if (banned.contains(statsKey(t)) && guard++ < 100 * cfg.prompts) continue;
            out.add(t);
        }
        return out;
    }

    EpochPlan plan(int epoch) {
        List<EditItem> all = prompts(epoch);
        // rank r of W takes prompts [⌊r·P/W⌋, ⌊(r+1)·P/W⌋): whole groups, shares differing by at most one,
        // and the ranks' samples concatenated in rank order are the epoch's samples in order
        long w = collective.worldSize(), r = collective.rank();
        int from = (int) (r * all.size() / w), to = (int) ((r + 1) * all.size() / w);
        List<EditItem> mine = all.subList(from, to), samples = new ArrayList<>();
        for (EditItem t : mine) for (int j = 0; j < cfg.groupSize; j++) samples.add(t);
        int first = from * cfg.groupSize;
        return new EpochPlan(epoch, List.copyOf(mine), samples, epoch * TRAIN_ID_STRIDE + first, first, List.copyOf(all));
    }

    /**
     * Rollouts per chunk, the judge's pending verdicts, each sample's true quality (NaN without a
     * target) and its drift from the source ({@link RunMonitor#drift}).
     */
    record Rollout(List<Trajectory> parts, List<CompletableFuture<List<Judgement>>> verdicts, double[] quality, double[] drift,
                   double seconds) {
        Trajectory all() {
            return Trajectory.cat(parts);
        }
    }

    /**
     * Rollouts as the objective draws them (NFT: the old policy's final latents; GRPO: θ's SDE steps) in
     * chunks of rolloutBatch; each chunk's judging overlaps the next chunk. While the
     * {@link SideThread} is {@link SideThread#concurrentNow concurrent} two chunks are sampled at
     * once, one on each thread; their conditionings are built here first (the conditioning cache
     * is this thread's).
     */
    Rollout rollOut(EpochPlan plan) {
        int n = plan.samples().size();
        List<Trajectory> parts = new ArrayList<>();
        List<CompletableFuture<List<Judgement>>> pending = new ArrayList<>();
        double[] quality = new double[n], drift = new double[n];
        long t0 = System.nanoTime();
        for (int start = 0, step; start < n; start += step) {
            step = ctx.side().concurrentNow() ? 2 * cfg.rolloutBatch : cfg.rolloutBatch;
            final int first = start, second = Math.min(n, start + cfg.rolloutBatch), end = Math.min(n, start + step);
            // the chunks' scope frees their conditioning batches and decoded images; only the trajectories stay
            Trajectory[] trs = Scopes.keep(() -> {
                Conditioning c1 = ctx.conditions(plan.samples().subList(first, second));
                Conditioning c2 = second < end ? ctx.conditions(plan.samples().subList(second, end)) : null;
                SideThread.Pending<Trajectory> p1 = ctx.side().submit(() -> rollChunk(plan, first, c1), Trajectory::tensors);
                Trajectory x2;
                try {
                    x2 = c2 == null ? null : rollChunk(plan, second, c2);
                } catch (RuntimeException | Error e) {
                    p1.abandon(e);
                    throw e;
                }
                Trajectory x1 = p1.join();
                judge(plan, first, second, x1, quality, drift, pending);
                if (x2 != null) judge(plan, second, end, x2, quality, drift, pending);
                return x2 == null ? new Trajectory[] {x1} : new Trajectory[] {x1, x2};
            }, a -> Arrays.stream(a).flatMap(x -> Arrays.stream(x.tensors())).toArray(Tensor[]::new));
            parts.addAll(Arrays.asList(trs));
        }
        return new Rollout(parts, pending, quality, drift, (System.nanoTime() - t0) / 1e9);
    }

    /** One chunk's rollout from its conditioning (the samples from plan index {@code first} on). */
    private Trajectory rollChunk(EpochPlan plan, int first, Conditioning c) {
        try (Nvtx.Range r = Nvtx.range("train.rollout")) {
            return objective.rollOut(rollouts, c, NoiseStreams.ROLLOUT.key(cfg.seed, plan.id(first)));
        }
    }

    /** Decodes samples [from, to) of the plan and hands them to the judge; the verdict joins {@code pending}. */
    private void judge(EpochPlan plan, int from, int to, Trajectory x, double[] quality, double[] drift,
                       List<CompletableFuture<List<Judgement>>> pending) {
        List<EditItem> chunk = plan.samples().subList(from, to);
        int s = ctx.data.resolution();
        float[] images = Tensors.toFloats(model.codec().decode(x.x0()));
        assert images.length == chunk.size() * 3 * s * s;
        pending.add(ctx.judge().judge(Evaluator.requests(ctx.data, chunk, images, plan.id(from), quality, drift, from), cfg.rewardMethod));
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

    /**
     * The group statistics of the gathered epoch, this rank's kept samples (local indices) with their
     * r and A, how many samples every rank kept together (V), and the epoch's rewards, true
     * qualities, drifts, score-token masses and low-mass count over every rank (for the metrics and
     * the reward-hacking monitor).
     */
    record Selection(GroupStats stats, int[] kept, float[] r, float[] advantage, int keptEverywhere, double[] rewards,
                     double[] quality, double[] drift, double[] mass, int lowMass, double gatherSeconds, double seconds) {}

    /** Per-sample series gathered with the rewards, in the order of {@link #selectSamples}'s one gather. */
    private static final int GATHERED_SERIES = 4;   // rewards, true quality, drift, score-token mass

    Selection selectSamples(EpochPlan plan, Rollout ro, Rewards rw) {
        long t0 = System.nanoTime();
        // one gather: each rank's [rewards | true qualities | drifts | masses | low-mass count], concatenated in rank order
        int n = rw.rewards().length, k4 = GATHERED_SERIES;
        double[] local = java.util.Arrays.copyOf(rw.rewards(), k4 * n + 1);
        System.arraycopy(ro.quality(), 0, local, n, n);
        System.arraycopy(ro.drift(), 0, local, 2 * n, n);
        System.arraycopy(rw.mass(), 0, local, 3 * n, n);
        local[k4 * n] = rw.lowMass();
        double[][] parts = collective.gather(local);
        double gatherSeconds = (System.nanoTime() - t0) / 1e9;
        int total = 0, lowMass = 0;
        for (double[] p : parts) total += (p.length - 1) / k4;
        double[] gathered = new double[total], quality = new double[total], drift = new double[total], mass = new double[total];
        int k = 0;
        for (double[] p : parts) {
            int m = (p.length - 1) / k4;
            System.arraycopy(p, 0, gathered, k, m);
            System.arraycopy(p, m, quality, k, m);
            System.arraycopy(p, 2 * m, drift, k, m);
            System.arraycopy(p, 3 * m, mass, k, m);
            lowMass += (int) p[k4 * m];
            k += m;
        }
        List<double[]> groups = new ArrayList<>();
        for (int g = 0; g < gathered.length / cfg.groupSize; g++)
            groups.add(java.util.Arrays.copyOfRange(gathered, g * cfg.groupSize, (g + 1) * cfg.groupSize));
        String[] pool = null;
        if (cfg.groupBy == GroupStats.GroupBy.INSTRUCTION) {
            pool = new String[groups.size()];
            for (int g = 0; g < pool.length; g++) pool[g] = statsKey(plan.epochPrompts().get(g));
        }
        GroupStats st = GroupStats.compute(groups, pool, cfg.advantageStd, cfg.advClipMax, cfg.filterStd, cfg.filterMean,
                cfg.filterMode, cfg.banStd, cfg.banMean);
        if (cfg.weighting == GroupStats.Weighting.BEST) st = st.keepBest(groups);
        else if (cfg.extremes > 0) st = st.keepExtremes(groups, cfg.extremes);
        // a judge that fails most calls must not leave the run training on nothing (every rank sees
        // the gathered count, so every rank stops)
        if (st.unscored > cfg.maxUnscoredFraction * gathered.length)
            throw new IllegalStateException(String.format(Locale.ROOT, "epoch %d: %d of %d samples unscored (more than "
                            + "maxUnscoredFraction %.2f)%s; stopping — %s", plan.epoch() + 1, st.unscored, gathered.length,
                    cfg.maxUnscoredFraction, rw.failures().isEmpty() ? "" : ", e.g. " + rw.failures().get(0) + " (" + ctx.judge().describe()
                            + ")", lastCheckpointNote()));
        // every rank bans every banned group of the epoch, its own or not: the next epochs' prompts
        // are drawn past the banned set, and the ranks must draw the same ones
        if (cfg.ban)
            for (int g = 0; g < plan.epochPrompts().size(); g++)
                if (st.banned[g]) banned.add(statsKey(plan.epochPrompts().get(g)));
        List<Integer> kept = new ArrayList<>();
        for (int i = 0; i < plan.samples().size(); i++) {
            int g = plan.firstSample() + i;
            if (st.valid[g] && objective.trains(st.advantage[g])) kept.add(i);
        }
        int[] idx = kept.stream().mapToInt(Integer::intValue).toArray();
        float[] r = new float[idx.length], a = new float[idx.length];
        for (int i = 0; i < idx.length; i++) {
            r[i] = (float) st.r[plan.firstSample() + idx[i]];
            a[i] = (float) st.advantage[plan.firstSample() + idx[i]];
        }
        int everywhere = 0;   // V: the samples every rank's objective trains on, for the v_r/V weights
        for (int g = 0; g < st.valid.length; g++) if (st.valid[g] && objective.trains(st.advantage[g])) everywhere++;
        return new Selection(st, idx, r, a, everywhere, gathered, quality, drift, mass, lowMass, gatherSeconds, (System.nanoTime() - t0) / 1e9);
    }

    /** What one optimizer update did. */
    record Update(Objective.Stats objective, double gradNorm, long step, double oldDecay, double optimizerSeconds,
                  Collective.ReduceStats comm, boolean skipped) {
        static final Update NONE = new Update(new Objective.Stats(0, 0, 0, 0), 0, -1, Double.NaN, 0, Collective.ReduceStats.NONE, false);
    }

    /**
     * The objective on the kept samples, then {@link #optimizerStep} and the policy updates. Called on
     * every rank when the epoch kept any sample (V &gt; 0), also on a rank that kept none (v = 0).
     *
     * <p>The gradient weighting that makes W ranks equal one process: the objective leaves the
     * gradient of the mean over its v samples, g_r = (1/v_r)·Σ_{b∈r} ∇ℓ_b (the NFT loss divides by
     * Σ valid of its batch, and the objective averages its timestep slots; the {@link Objective}
     * contract). One process over all V = Σ_r v_r kept samples computes (1/V)·Σ_b ∇ℓ_b
     * = Σ_r (v_r/V)·g_r. So rank r scales its gradient by v_r/V and the ranks sum: not a plain mean
     * over ranks, which would weight a sample on a rank that kept few more than one on a rank that
     * kept many. The loss and kl are combined with the same weights.
     */
    Update update(EpochPlan plan, Rollout ro, Selection sel) {
        int v = sel.kept().length, total = sel.keptEverywhere();
        Objective.Stats os = new Objective.Stats(0, 0, 0, 0);
        if (v > 0) {
            long[] ids = new long[v];
            List<EditItem> items = new ArrayList<>(v);
            long[] rows = new long[v];
            for (int i = 0; i < v; i++) {
                ids[i] = plan.id(sel.kept()[i]);
                rows[i] = sel.kept()[i];
                items.add(plan.samples().get(sel.kept()[i]));
            }
            Trajectory kept = ro.all().select(Tensors.fromLongs(rows, model.device()));
            try (Nvtx.Range range = Nvtx.range("train.objective")) {
                os = objective.accumulate(new Objective.Batch(kept, ctx.conditions(items),
                        Tensors.fromFloats(sel.r(), model.device(), v), Tensors.fromFloats(sel.advantage(), model.device(), v),
                        plan.epoch(), ids));
            }
        }
        collective.phase("optimizer", plan.epoch());
        long o0 = System.nanoTime();
        Step st;
        long step;
        double decay;
        try (Nvtx.Range range = Nvtx.range("train.optimizer")) {
            st = optimizerStep((double) v / total, Double.isFinite(os.loss()), plan.epoch());   // v_r / V (exactly 1 in one process)
            step = optimizer.step();
            if (st.skipped()) {
                decay = Double.NaN;   // no step: the old and EMA adapters stay too
                skippedSteps++;
                badStepsInARow++;
                if (folder.writes())
                    log.printf(Locale.ROOT, "warning: epoch %d: non-finite loss or gradient (|g| = %s): step skipped (%d in a row, "
                            + "maxBadSteps %d)%n", plan.epoch() + 1, st.gradNorm(), badStepsInARow, cfg.maxBadSteps);
                if (badStepsInARow >= cfg.maxBadSteps)
                    throw new IllegalStateException(String.format(Locale.ROOT, "epoch %d: %d optimizer steps in a row had a non-finite "
                            + "loss or gradient (maxBadSteps %d); stopping — %s", plan.epoch() + 1, badStepsInARow, cfg.maxBadSteps,
                            lastCheckpointNote()));
            } else {
                badStepsInARow = 0;
                decay = cfg.oldPolicyDecay.decay(step);
                lora.updateOld(decay);
                lora.updateEma(objective.evalEmaDecay(step, cfg.evalEmaMax));
            }
        }
        double optimizerSeconds = (System.nanoTime() - o0) / 1e9;
        if (collective.worldSize() > 1) {   // after the all-reduce, whose first step measures the wait for the slowest rank
            double[] s = collective.allGather(new double[] {v * os.loss(), v * os.kl()});
            double loss = 0, kl = 0;
            for (int q = 0; q < s.length; q += 2) {
                loss += s[q];
                kl += s[q + 1];
            }
            os = new Objective.Stats(loss / total, kl / total, os.forwardSeconds(), os.backwardSeconds());
        }
        return new Update(os, st.gradNorm(), step, decay, optimizerSeconds, st.comm(), st.skipped());
    }

    /** What {@link #optimizerStep} did: the gradient norm before clipping, what the all-reduce moved, whether it skipped the step. */
    record Step(double gradNorm, Collective.ReduceStats comm, boolean skipped) {}

    /**
     * Sums θ's gradients over the ranks, each rank's scaled by {@code weight} (its v_r/V, see
     * {@link #update}), clips their norm, steps AdamW and zeroes them. Every rank then holds the same
     * gradient bits (the all-reduce's result is one buffer copied to all), so the same adapters.
     */
    Step optimizerStep(double weight, boolean lossFinite, int epoch) {
        List<Tensor> grads = new ArrayList<>();
        boolean poison = !lossFinite || Inject.at("nan-grad", epoch + 1);
        for (Tensor p : lora.theta.params.tensors()) {
            // a rank that kept no sample before its first backward has no gradient yet: it adds zeros
            if (!p.grad().defined()) p.mutable_grad().put(torch.zeros_like(p));
            // a non-finite loss on this rank poisons its gradient, so the all-reduced norm tells every rank
            if (poison) p.grad().fill_(new org.bytedeco.pytorch.Scalar(Double.NaN));
            grads.add(p.grad());
        }
        Collective.ReduceStats comm = collective.allReduceSum(grads, weight);
        double norm = optimizer.clipGradNorm(cfg.gradClip);
        if (!Double.isFinite(norm)) {
            // skipped, not applied: θ, AdamW's moments and its step count stay as they were
            optimizer.zeroGrad();
            return new Step(norm, comm, true);
        }
        optimizer.step(cfg.lrAt(optimizer.step()));
        optimizer.zeroGrad();
        return new Step(norm, comm, false);
    }

    /** Where a stopping run can be resumed from. */
    private String lastCheckpointNote() {
        return lastCheckpointEpoch > 0 ? "the last checkpoint (after epoch " + lastCheckpointEpoch + ") in " + folder.dir().resolve("checkpoints/latest")
                + " is intact; --resume continues from it" : "no checkpoint was written yet";
    }

    /**
     * Checks that every rank holds the same adapters: Σx and Σx² in f64 of every tensor of θ, old and
     * EMA, compared bit for bit across ranks (a diverged rank throws on every rank, which stops the run).
     */
    void verifyAdapters(long step) {
        List<Tensor> sums = new ArrayList<>();
        try (NoGradGuard g = new NoGradGuard()) {
            for (LoraAdapter a : List.of(lora.theta, lora.old, lora.ema))
                for (Tensor p : a.params.tensors()) {
                    Tensor d = p.detach().to(ScalarType.Double);
                    sums.add(d.sum());
                    sums.add(d.square().sum());
                }
            Tensor all = torch.stack(new TensorVector(sums.toArray(new Tensor[0]))).to(Tensors.cpu(), ScalarType.Double).contiguous();
            double[] values = new double[(int) all.numel()];
            new DoublePointer(all.data_ptr()).get(values);
            collective.verifySame("the adapters' checksum (Σx, Σx² of each tensor of θ, old, EMA) after optimizer step " + step,
                    values);
        }
    }

    /**
     * Metrics of one epoch: one line of metrics.jsonl (every field a function of the seed, so two runs
     * with one seed write identical files) and one line of timings.jsonl (seconds per phase, samples/s,
     * and the epoch's peak tensor memory: the C heap on the CPU, the caching allocator on CUDA, see
     * {@link NativeMemory}).
     */
    public record EpochMetrics(int epoch, long step, double rewardMean, double rewardStd, double trueQuality,
                               double filteredFraction, int validSamples, int unscored, int lowMass, double loss, double kl,
                               double gradNorm, double oldDecay, boolean skippedStep, Map<String, Double> seconds, double samplesPerSecond,
                               Collective.ReduceStats allReduce, long startTensorBytes, long peakTensorBytes,
                               RunMonitor.Signals signals) {
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
            m.put("skipped_step", skippedStep ? 1 : 0);   // non-finite loss or gradient: the step was not applied
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
            m.put("allreduce_bytes", allReduce.bytes());     // per rank, per step: θ's gradients (0 in one process)
            m.put("allreduce_buckets", allReduce.buckets());
            return m;
        }
    }

    /** One epoch: plan → rollouts → rewards → selection → update. Metrics are of the whole epoch (every rank). */
    public EpochMetrics epoch(int epoch) {
        Backend.adaptBlasThreads(cfg.blasThreads);   // blasThreads=0: OpenBLAS spins, never more threads than free CPUs
        long t0 = System.nanoTime();
        NativeMemory.resetPeak();
        long startBytes = NativeMemory.inUse();
        EpochPlan plan = plan(epoch);
        collective.phase("rollout", epoch);
        Rollout ro = rollOut(plan);
        collective.phase("judge", epoch);
        Rewards rw = collectRewards(plan, ro);
        collective.phase("advantages", epoch);
        Selection sel = selectSamples(plan, ro, rw);
        collective.phase("loss", epoch);
        // every rank updates when any rank kept a sample (the all-reduce needs them all)
        Update up = sel.keptEverywhere() == 0 ? Update.NONE : update(plan, ro, sel);
        if (collective.worldSize() > 1 && up.step() > 0 && up.step() % cfg.distChecksumEvery == 0) verifyAdapters(up.step());
        Map<String, Double> sec = new LinkedHashMap<>();
        sec.put("rollout", ro.seconds());
        sec.put("judge_wait", rw.seconds());
        sec.put("advantages", sel.seconds());
        sec.put("loss", up.objective().forwardSeconds());
        sec.put("backward", up.objective().backwardSeconds());
        sec.put("optimizer", up.optimizerSeconds());
        if (collective.worldSize() > 1) {
            sec.put("gather", sel.gatherSeconds());            // in advantages: waits for the slowest rank's rollouts
            sec.put("allreduce_wait", up.comm().waitSeconds()); // in optimizer: waits for the slowest rank's backward
            sec.put("allreduce", up.comm().seconds());         // in optimizer: the gradient all-reduce itself
        }
        double total = (System.nanoTime() - t0) / 1e9;
        sec.put("total", total);
        long peak = NativeMemory.peak();
        Moments rm = Moments.of(sel.rewards()), q = Moments.of(sel.quality());
        int n = sel.rewards().length;
        return new EpochMetrics(epoch, optimizer.step(), rm.mean(), rm.n() > 0 ? rm.std() : Double.NaN, q.mean(),
                sel.stats().filteredFraction(), sel.keptEverywhere(), sel.stats().unscored, sel.lowMass(), up.objective().loss(),
                up.objective().kl(), up.gradNorm(), up.oldDecay(), up.skipped(), sec, n / total, up.comm(), startBytes, peak,
                RunMonitor.Signals.of(sel.drift(), sel.stats(), sel.mass()));
    }

    // -------------------------------------------------------------------------------------------
    // the whole run

    /**
     * Runs the remaining epochs (all of {@code epochs}, or until training time reaches
     * {@code wallSeconds} when that is set: the epoch that crosses it is the last), then evaluates.
     */
    public Summary run() throws IOException {
        try {
            return runLocked();
        } finally {
            folder.unlock();
        }
    }

    private Summary runLocked() throws IOException {
        folder.lock();
        folder.writeConfig(cfg);
        try (RunWatch w = watch) {
            w.start(startEpoch);
            return train();
        }
    }

    private Summary train() throws IOException {
        long t0 = System.nanoTime();
        double evaluatedBefore = watch.evaluationSeconds();   // the base's, before training
        int done = startEpoch;
        boolean outOfTime = cfg.wallSeconds > 0 && elapsedBefore >= cfg.wallSeconds;
        for (int e = startEpoch; e < cfg.epochs && !outOfTime; e++) {
            EpochMetrics m;
            try (PointerScope scope = new PointerScope()) {
                m = epoch(e);
            }
            folder.append(m, watch.epoch(m));
            rewardCurve.add(m.rewardMean());
            qualityCurve.add(m.trueQuality());
            // training time: periodic held-out evaluations are not training (a wallSeconds budget buys epochs)
            double elapsed = elapsedBefore + (System.nanoTime() - t0) / 1e9 - (watch.evaluationSeconds() - evaluatedBefore);
            double eta = elapsed / (e + 1) * (cfg.epochs - e - 1);
            done = e + 1;
            outOfTime = cfg.wallSeconds > 0 && elapsed >= cfg.wallSeconds;
            // each rank has its own clock: rank 0's decides, or ranks would stop at different epochs
            // and the one that trains on would wait in its next collective for peers that left
            if (cfg.wallSeconds > 0 && collective.worldSize() > 1)
                outOfTime = Boolean.parseBoolean(collective.broadcast(Boolean.toString(outOfTime)));
            if (folder.writes()) log.printf(Locale.ROOT, "epoch %4d/%d  reward %.3f ± %.3f  quality %.3f  filtered %3.0f%%  loss %.4f  "
                            + "kl %.2e  |g| %.3f  %.1f samples/s  ETA %s%n", e + 1, cfg.epochs, m.rewardMean(), m.rewardStd(),
                    m.trueQuality(), 100 * m.filteredFraction(), m.loss(), m.kl(), m.gradNorm(), m.samplesPerSecond(),
                    hms(eta));
            boolean last = e + 1 == cfg.epochs || outOfTime;
            watch.afterEpoch(e + 1, last);   // every rank: a periodic held-out evaluation is sharded over the ranks
            if (((e + 1) % cfg.checkpointEvery == 0 || last) && folder.writes()) {
                collective.phase("checkpoint", e);
                folder.checkpoint(lora, optimizer, new RunFolder.TrainerState(e + 1, optimizer.step(), elapsed, banned,
                        rewardCurve, qualityCurve));
                lastCheckpointEpoch = e + 1;
            }
            if (outOfTime && e + 1 < cfg.epochs && folder.writes())
                log.printf(Locale.ROOT, "wall-clock budget of %s reached after epoch %d%n", hms(cfg.wallSeconds), e + 1);
        }
        if (collective.worldSize() > 1) verifyAdapters(optimizer.step());
        double wall = elapsedBefore + (System.nanoTime() - t0) / 1e9 - (watch.evaluationSeconds() - evaluatedBefore);
        return finish(wall, done);
    }

    private Summary finish(double wall, int epochs) throws IOException {
        if (folder.writes()) log.println("evaluating base and trained on " + ctx.data.heldOut().size() + " held-out tasks ...");
        collective.phase("evaluate", cfg.epochs - 1);
        Evaluator ev = new Evaluator(ctx, ctx.judge(), cfg.seed);
        Evaluator.Result base, trained;
        try (PointerScope scope = new PointerScope()) {
            base = watch.base() != null ? watch.base() : evaluate(ev, Adapter.OFF);   // the base's epoch-0 evaluation when there was one
            trained = evaluate(ev, Adapter.EMA);
        }
        Summary s = new Summary(base.scoreCi(), trained.scoreCi(), Evaluator.Interval.diff(base.score(), trained.score()),
                base.qualityCi(), trained.qualityCi(), Evaluator.Interval.diff(base.quality(), trained.quality()), epochs,
                wall);
        if (folder.writes()) {
            collective.phase("write", cfg.epochs - 1);
            writeSummary(s);
            pictures(base, trained, epochs);
            model.exportAdapter(lora.ema, folder.writeFinal(lora));   // and in the model family's own form, where it has one
            printTable(s);
        }
        return s;
    }

    static final int PICTURE_ROWS = 8;

    /**
     * The held-out evaluation of one adapter set, sharded over the ranks: rank r samples and judges
     * tasks [⌊r·n/W⌋, ⌊(r+1)·n/W⌋) (a task's noise and judge noise are keyed by its index, so its
     * share does not change them), then the scores, qualities and the images of the first
     * {@value #PICTURE_ROWS} tasks (all the pictures need) are gathered on every rank.
     */
    private Evaluator.Result evaluate(Evaluator ev, Adapter adapter) {
        int n = ctx.data.heldOut().size();
        long w = collective.worldSize(), r = collective.rank();
        if (w == 1) return ev.evaluate(adapter, 64);
        int from = (int) (r * n / w), to = (int) ((r + 1) * n / w), k = to - from;
        Evaluator.Result mine = ev.evaluate(adapter, 64, from, to);
        int per = mine.images().length / Math.max(1, k), shown = Math.max(0, Math.min(to, PICTURE_ROWS) - from);
        double[] local = new double[2 * k + shown * per];
        System.arraycopy(mine.score(), 0, local, 0, k);
        System.arraycopy(mine.quality(), 0, local, k, k);
        for (int i = 0; i < shown * per; i++) local[2 * k + i] = mine.images()[i];
        double[][] parts = collective.gather(local);
        double[] score = new double[n], quality = new double[n];
        int s = ctx.data.resolution(), px = 3 * s * s;
        float[] images = new float[Math.min(n, PICTURE_ROWS) * px];
        for (int q = 0, at = 0; q < parts.length; q++) {
            int kq = (int) ((q + 1) * (long) n / w - q * (long) n / w);
            System.arraycopy(parts[q], 0, score, at, kq);
            System.arraycopy(parts[q], kq, quality, at, kq);
            for (int i = 2 * kq; i < parts[q].length; i++) images[at * px + i - 2 * kq] = (float) parts[q][i];
            at += kq;
        }
        return new Evaluator.Result(score, quality, images);
    }

    private void writeSummary(Summary s) throws IOException {
        JsonObject o = new JsonObject();
        o.add("base", pair(s.baseScore(), s.baseQuality()));
        o.add("trained", pair(s.trainedScore(), s.trainedQuality()));
        o.add("gain", pair(s.scoreGain(), s.qualityGain()));
        o.addProperty("epochs", s.epochs());
        o.addProperty("wall_seconds", s.wallSeconds());
        o.addProperty("world_size", collective.worldSize());
        o.addProperty("held_out_tasks", ctx.data.heldOut().size());
        o.addProperty("trained_adapter", "checkpoints/final/adapter_ema.safetensors (evaluation EMA of θ)");
        o.addProperty("model", model.describe());
        o.addProperty("data", ctx.data.describe());
        o.addProperty("device", ctx.backend.describe());
        o.addProperty("judge", ctx.judge().describe());
        watch.describeInto(o);
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

    private void pictures(Evaluator.Result base, Evaluator.Result trained, int epochs) throws IOException {
        Pictures.grid(folder.file("heldout_grid.png"), RunWatch.gridRows(ctx.data, base, trained), ctx.data.resolution());
        watch.finish(base, trained, epochs, folder.file("heldout_grid.png"));
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

    /** What a prompt's group statistics and its ban are keyed by ({@link TrainConfig#groupBy}). */
    private String statsKey(EditItem it) {
        return cfg.groupBy == GroupStats.GroupBy.INSTRUCTION ? it.prompt() : it.groupKey();
    }

    /** The group keys banned so far (SPEC §5's permanent ban). */
    Set<String> banned() {
        return Set.copyOf(banned);
    }

    /** The adapter sets being trained. */
    public LoraSets lora() {
        return lora;
    }

    public AdamW optimizer() {
        return optimizer;
    }
}
