package dev.editr1.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.flow.Sampler;
import dev.editr1.flow.SigmaSchedule;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Nvtx;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.EditDiT;
import dev.editr1.model.Safetensors;
import dev.editr1.reward.Judgement;
import dev.editr1.reward.Judge;
import dev.editr1.reward.Judges;
import dev.editr1.world.Batch;
import dev.editr1.world.EditTask;

/**
 * The one Edit-R1 trainer (SPEC §7): per epoch, rollouts with the old policy, the judge
 * (asynchronous, overlapped with the next rollout chunk), group advantages and the filter, the
 * objective's gradient ({@link Objective}: DiffusionNFT), gradient clipping, AdamW, the old-policy
 * soft update and the evaluation EMA. Ends with a held-out comparison of base and trained.
 *
 * <p>Built as one rank of many: a {@link Collective} gathers rewards before advantages and averages
 * gradients; in this process it is the single-rank identity. All randomness is keyed by (seed,
 * epoch, sample), so a run replays bit for bit and a resumed run ends where an uninterrupted one
 * does.
 */
public final class Trainer {
    static final int STREAM_ROLLOUT = 1;
    static final long TRAIN_ID_STRIDE = 1L << 24;

    private final TrainConfig cfg;
    private final KernelOps ops;
    private final Path runDir;
    private final PrintStream log;
    private final Collective collective = Collective.single();

    private WorldData data;
    private Policy policy;
    private AdamW optimizer;
    private Objective objective;
    private Judge judge;
    private double[] sigmas;
    private Sampler.Solver solver;
    private OldPolicySchedule oldSchedule;
    private final Set<String> banned = new HashSet<>();
    private int startEpoch;
    private double elapsedBefore;
    private final List<Double> rewardCurve = new ArrayList<>(), qualityCurve = new ArrayList<>();

    public Trainer(TrainConfig cfg, KernelOps ops, Path runDir, PrintStream log) {
        this.cfg = cfg;
        this.ops = ops;
        this.runDir = runDir;
        this.log = log;
    }

    /** What a run produced. */
    public record Summary(Evaluator.Interval baseScore, Evaluator.Interval trainedScore, Evaluator.Interval scoreGain,
                          Evaluator.Interval baseQuality, Evaluator.Interval trainedQuality,
                          Evaluator.Interval qualityGain, int epochs, double wallSeconds) {}

    // -------------------------------------------------------------------------------------------
    // set-up

    /** Loads the base model, builds adapters and optimizer; on resume, restores the last checkpoint. */
    public void setUp(EditDiT base, boolean resume) throws IOException {
        cfg.validate();
        dev.editr1.kernels.Backend.setCpuThreads(cfg.threads);
        data = new WorldData(cfg.worldSeed, cfg.trainTasks, cfg.heldOutTasks, cfg.imageSize);
        if (base.cfg.imageSize() != cfg.imageSize)
            throw new IllegalArgumentException("the base model draws " + base.cfg.imageSize() + " px canvases but imageSize is "
                    + cfg.imageSize);
        policy = new Policy(base, cfg.loraRank, cfg.loraAlpha, cfg.seed);
        optimizer = new AdamW(policy.theta.params, cfg.beta1, cfg.beta2, cfg.eps, cfg.weightDecay);
        sigmas = SigmaSchedule.preset(SigmaSchedule.Preset.parse(cfg.sigmaPreset), cfg.steps,
                base.cfg.imageTokens(), Double.NaN);
        solver = Sampler.Solver.parse(cfg.solver);
        oldSchedule = OldPolicySchedule.parse(cfg.oldPolicyDecay);
        judge = Judges.create(cfg.judgeSpec(), ops);
        NftLossConfig lc = new NftLossConfig(cfg.beta, cfg.advClipMax, cfg.klWeight, cfg.weightFloor, cfg.form());
        objective = new NftObjective(policy, ops, lc, sigmas, cfg.timestepsPerSample(), cfg.seed);
        if (resume) restore();
    }

    // -------------------------------------------------------------------------------------------
    // one epoch

    /**
     * Metrics of one epoch: one line of metrics.jsonl (every field a function of the seed, so two runs
     * with one seed write identical files) and one line of timings.jsonl (seconds per phase, samples/s).
     */
    public record EpochMetrics(int epoch, long step, double rewardMean, double rewardStd, double trueQuality,
                               double filteredFraction, int validSamples, int unscored, int lowMass, double loss, double kl,
                               double gradNorm, double oldDecay, Map<String, Double> seconds, double samplesPerSecond) {
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
            return m;
        }

        /** The wall-clock part, for timings.jsonl. */
        public Map<String, Object> timings() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("epoch", epoch);
            m.put("seconds", seconds);
            m.put("samples_per_second", samplesPerSecond);
            return m;
        }
    }

    List<EditTask> prompts(int epoch) {
        SplittableRandom rng = new SplittableRandom(cfg.seed * 1_000_033L + epoch);
        List<EditTask> out = new ArrayList<>();
        int guard = 0;
        while (out.size() < cfg.prompts) {
            EditTask t = data.train.get(rng.nextInt(data.train.size()));
            if (banned.contains(t.key()) && guard++ < 100 * cfg.prompts) continue;
            out.add(t);
        }
        return out;
    }

    public EpochMetrics epoch(int epoch) {
        long tStart = System.nanoTime();
        Map<String, Double> sec = new LinkedHashMap<>();
        // this rank's share of the groups (all of them in one process)
        List<EditTask> all = prompts(epoch);
        int per = (cfg.prompts + collective.worldSize() - 1) / collective.worldSize();
        List<EditTask> mine = all.subList(Math.min(all.size(), collective.rank() * per),
                Math.min(all.size(), (collective.rank() + 1) * per));
        List<EditTask> samples = new ArrayList<>();
        for (EditTask t : mine) for (int j = 0; j < cfg.groupSize; j++) samples.add(t);
        int n = samples.size(), s = data.size();
        long idBase = epoch * TRAIN_ID_STRIDE + (long) collective.rank() * per * cfg.groupSize;

        // 1-2. rollouts in chunks with the old policy; each chunk's judging overlaps the next chunk
        List<Tensor> x0parts = new ArrayList<>();
        List<CompletableFuture<List<Judgement>>> pending = new ArrayList<>();
        double[] quality = new double[n];
        double rolloutSec = 0;
        for (int start = 0; start < n; start += cfg.rolloutBatch) {
            long r0 = System.nanoTime();
            List<EditTask> chunk = samples.subList(start, Math.min(n, start + cfg.rolloutBatch));
            NoiseKey key = new NoiseKey(cfg.seed, idBase + start, STREAM_ROLLOUT);
            Tensor x0;
            try (Nvtx.Range r = Nvtx.range("train.rollout")) {
                x0 = policy.sample(data, chunk, policy.old, key, sigmas, solver, cfg.cfgScale, ops);
            }
            x0parts.add(x0);
            pending.add(judge.judge(data.judgeRequests(chunk, Tensors.toFloats(x0), idBase + start, quality, start)));
            rolloutSec += (System.nanoTime() - r0) / 1e9;
        }
        sec.put("rollout", rolloutSec);
        long j0 = System.nanoTime();
        double[] rewards = new double[n];
        int k = 0, lowMass = 0;
        List<String> failures = new ArrayList<>();
        Nvtx.Range judgeRange = Nvtx.range("train.judge_wait");
        for (CompletableFuture<List<Judgement>> f : pending)
            for (Judgement jd : f.join()) {
                rewards[k++] = jd.scored() ? jd.score() : Double.NaN;
                if (!jd.scored()) failures.add(jd.failure());
                else if (jd.mass() < cfg.judgeMassWarning) lowMass++;
            }
        judgeRange.close();
        if (lowMass > 0)
            log.printf(Locale.ROOT, "warning: epoch %d: %d of %d judgements put less than %.2f probability on the score tokens%n",
                    epoch + 1, lowMass, n, cfg.judgeMassWarning);
        if (!failures.isEmpty())
            log.printf(Locale.ROOT, "warning: epoch %d: %d samples unscored (excluded from their groups), e.g. %s%n", epoch + 1,
                    failures.size(), failures.get(0));
        sec.put("judge_wait", (System.nanoTime() - j0) / 1e9);

        // 3. advantages over the gathered epoch
        long a0 = System.nanoTime();
        double[] gathered = collective.allGather(rewards);
        List<double[]> groups = new ArrayList<>();
        for (int g = 0; g < gathered.length / cfg.groupSize; g++)
            groups.add(java.util.Arrays.copyOfRange(gathered, g * cfg.groupSize, (g + 1) * cfg.groupSize));
        GroupStats st = GroupStats.compute(groups, cfg.advClipMax, cfg.filterStd, cfg.filterMean,
                cfg.filterMode.equals("and") ? GroupStats.FilterMode.AND : GroupStats.FilterMode.OR, cfg.banStd, cfg.banMean);
        if (cfg.ban)
            for (int g = 0; g < mine.size(); g++) if (st.banned[collective.rank() * per + g]) banned.add(mine.get(g).key());
        int offset = collective.rank() * per * cfg.groupSize;
        List<Integer> valid = new ArrayList<>();
        for (int i = 0; i < n; i++) if (st.valid[offset + i]) valid.add(i);
        sec.put("advantages", (System.nanoTime() - a0) / 1e9);

        // 4-7. the objective, clipping, AdamW, old-policy update, EMA
        double loss = 0, kl = 0, gradNorm = 0, decay = Double.NaN;
        double fwd = 0, bwd = 0, opt = 0;
        if (!valid.isEmpty()) {
            Tensor x0all = torch.cat(new TensorVector(x0parts.toArray(new Tensor[0])), 0);
            Tensor idx = Tensors.fromFloats(toFloats(valid), valid.size()).to(torch.ScalarType.Long);
            List<EditTask> vt = new ArrayList<>();
            List<Long> ids = new ArrayList<>();
            float[] r = new float[valid.size()];
            for (int i = 0; i < valid.size(); i++) {
                vt.add(samples.get(valid.get(i)));
                ids.add(idBase + valid.get(i));
                r[i] = (float) st.r[offset + valid.get(i)];
            }
            Objective.Stats os;
            try (Nvtx.Range range = Nvtx.range("train.objective")) {
                os = objective.accumulate(x0all.index_select(0, idx).contiguous(), data.sources(vt),
                    data.idTensor(vt), Tensors.fromFloats(r, r.length), epoch, ids);
            }
            loss = os.loss();
            kl = os.kl();
            fwd = os.forwardSeconds();
            bwd = os.backwardSeconds();
            long o0 = System.nanoTime();
            Nvtx.Range optRange = Nvtx.range("train.optimizer");
            collective.allReduceMean(gradients());
            gradNorm = optimizer.clipGradNorm(cfg.gradClip);
            optimizer.step(cfg.lr);
            optimizer.zeroGrad();
            long step = optimizer.step();
            decay = oldSchedule.decay(step);
            policy.old.params.lerpFrom(policy.theta.params, decay);
            policy.ema.params.lerpFrom(policy.theta.params, OldPolicySchedule.evalEmaDecay(step, cfg.evalEmaMax));
            optRange.close();
            opt = (System.nanoTime() - o0) / 1e9;
        }
        sec.put("loss", fwd);
        sec.put("backward", bwd);
        sec.put("optimizer", opt);
        double total = (System.nanoTime() - tStart) / 1e9;
        sec.put("total", total);
        double rs = 0, rs2 = 0, q = 0;
        int rc = 0;
        for (double x : rewards)
            if (!Double.isNaN(x)) {
                rs += x;
                rs2 += x * x;
                rc++;
            }
        for (double x : quality) q += x;
        double rm = rc > 0 ? rs / rc : Double.NaN;
        return new EpochMetrics(epoch, optimizer.step(), rm, rc > 0 ? Math.sqrt(Math.max(0, rs2 / rc - rm * rm)) : Double.NaN,
                q / n, st.filteredFraction(), valid.size(), st.unscored, lowMass, loss, kl, gradNorm, decay, sec, n / total);
    }

    private List<Tensor> gradients() {
        List<Tensor> g = new ArrayList<>();
        for (Tensor p : policy.theta.params.tensors()) g.add(p.grad());
        return g;
    }

    private static float[] toFloats(List<Integer> v) {
        float[] f = new float[v.size()];
        for (int i = 0; i < f.length; i++) f[i] = v.get(i);
        return f;
    }

    // -------------------------------------------------------------------------------------------
    // the whole run

    public Summary run() throws IOException {
        Files.createDirectories(runDir);
        Checkpoints.writeAtomically(runDir.resolve("config.json"), cfg.toJson());
        long t0 = System.nanoTime();
        Path metrics = runDir.resolve("metrics.jsonl"), timings = runDir.resolve("timings.jsonl");
        Gson gson = new GsonBuilder().serializeSpecialFloatingPointValues().create();
        for (int e = startEpoch; e < cfg.epochs; e++) {
            EpochMetrics m;
            try (PointerScope scope = new PointerScope()) {
                m = epoch(e);
            }
            append(metrics, gson.toJson(m.metrics()));
            append(timings, gson.toJson(m.timings()));
            rewardCurve.add(m.rewardMean());
            qualityCurve.add(m.trueQuality());
            double elapsed = elapsedBefore + (System.nanoTime() - t0) / 1e9;
            double eta = elapsed / (e + 1) * (cfg.epochs - e - 1);
            log.printf(Locale.ROOT, "epoch %4d/%d  reward %.3f ± %.3f  quality %.3f  filtered %3.0f%%  loss %.4f  "
                            + "kl %.2e  |g| %.3f  %.1f samples/s  ETA %s%n", e + 1, cfg.epochs, m.rewardMean(), m.rewardStd(),
                    m.trueQuality(), 100 * m.filteredFraction(), m.loss(), m.kl(), m.gradNorm(), m.samplesPerSecond(),
                    hms(eta));
            if ((e + 1) % cfg.checkpointEvery == 0 || e + 1 == cfg.epochs) checkpoint(e + 1, elapsed);
        }
        double wall = elapsedBefore + (System.nanoTime() - t0) / 1e9;
        return finish(wall);
    }

    private static void append(Path file, String line) throws IOException {
        Files.writeString(file, line + "\n", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.APPEND);
    }

    private Summary finish(double wall) throws IOException {
        log.println("evaluating base and trained on " + data.heldOut.size() + " held-out tasks ...");
        Evaluator ev = new Evaluator(data, ops, judge, cfg.seed, cfg.cfgScale);
        Evaluator.Result base, trained;
        try (PointerScope scope = new PointerScope()) {
            base = ev.evaluate(policy.model, null, sigmas, solver, 64);
            trained = ev.evaluate(policy.model, policy.ema, sigmas, solver, 64);
        }
        Summary s = new Summary(base.scoreCi(), trained.scoreCi(), Evaluator.Interval.diff(base.score(), trained.score()),
                base.qualityCi(), trained.qualityCi(), Evaluator.Interval.diff(base.quality(), trained.quality()), cfg.epochs,
                wall);
        writeSummary(s);
        pictures(base, trained);
        Path fin = runDir.resolve("checkpoints").resolve("final");
        Checkpoints.saveAdapter(policy.ema, fin, "adapter_ema", policy.model.loraTargets());
        Checkpoints.saveAdapter(policy.theta, fin, "adapter_policy", policy.model.loraTargets());
        Checkpoints.saveBase(policy.model, fin.resolve("base.safetensors"), Map.of());
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
        o.addProperty("held_out_tasks", data.heldOut.size());
        o.addProperty("trained_adapter", "checkpoints/final/adapter_ema.safetensors (evaluation EMA of θ)");
        o.addProperty("judge", judge.describe());
        Checkpoints.writeAtomically(runDir.resolve("summary.json"), new GsonBuilder().setPrettyPrinting().create().toJson(o));
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
        float[] b = base.images(), t = trained.images();
        int s = data.size(), rows = Math.min(8, data.heldOut.size());
        List<Pictures.Row> r = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            EditTask task = data.heldOut.get(i);
            r.add(new Pictures.Row(data.source(task), task.instruction(), Batch.image(b, i, s), Batch.image(t, i, s),
                    data.target(task), String.format(Locale.ROOT, "judge: base %.2f → trained %.2f", base.score()[i],
                    trained.score()[i])));
        }
        Pictures.grid(runDir.resolve("heldout_grid.png"), r, s);
        double[] rc = rewardCurve.stream().mapToDouble(Double::doubleValue).toArray();
        double[] qc = qualityCurve.stream().mapToDouble(Double::doubleValue).toArray();
        Pictures.curve(runDir.resolve("reward_curve.png"), rc, qc);
    }

    private void printTable(Summary s) {
        log.println();
        log.println("held-out (" + data.heldOut.size() + " tasks)   mean [95% CI]");
        log.printf(Locale.ROOT, "  %-14s %-28s %-28s%n", "", "judge score", "true quality");
        log.printf(Locale.ROOT, "  %-14s %-28s %-28s%n", "base", s.baseScore(), s.baseQuality());
        log.printf(Locale.ROOT, "  %-14s %-28s %-28s%n", "trained", s.trainedScore(), s.trainedQuality());
        log.printf(Locale.ROOT, "  %-14s %-28s %-28s%n", "gain (paired)", s.scoreGain(), s.qualityGain());
        log.printf(Locale.ROOT, "training wall time %s over %d epochs; run folder %s%n", hms(s.wallSeconds()), s.epochs(),
                runDir);
    }

    static String hms(double seconds) {
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }

    // -------------------------------------------------------------------------------------------
    // checkpoints and resume

    private Path checkpoints() {
        return runDir.resolve("checkpoints");
    }

    /** Writes checkpoints/latest via a temporary folder, so a crash leaves the previous one whole. */
    void checkpoint(int epochsDone, double elapsed) throws IOException {
        Path dir = checkpoints().resolve("latest.tmp");
        deleteTree(dir);
        Files.createDirectories(dir);
        List<String> targets = policy.model.loraTargets();
        Checkpoints.saveAdapter(policy.theta, dir, "adapter_policy", targets);
        Checkpoints.saveAdapter(policy.old, dir, "adapter_old", targets);
        Checkpoints.saveAdapter(policy.ema, dir, "adapter_ema", targets);
        Safetensors.write(dir.resolve("optimizer.safetensors"), optimizer.state(),
                Map.of("step", String.valueOf(optimizer.step())));
        JsonObject st = new JsonObject();
        st.addProperty("epochs_done", epochsDone);
        st.addProperty("optimizer_step", optimizer.step());
        st.addProperty("elapsed_seconds", elapsed);
        com.google.gson.JsonArray b = new com.google.gson.JsonArray();
        banned.stream().sorted().forEach(b::add);
        st.add("banned", b);
        com.google.gson.JsonArray rc = new com.google.gson.JsonArray(), qc = new com.google.gson.JsonArray();
        rewardCurve.forEach(rc::add);
        qualityCurve.forEach(qc::add);
        st.add("reward_curve", rc);
        st.add("quality_curve", qc);
        Checkpoints.writeAtomically(dir.resolve("state.json"), new GsonBuilder().serializeSpecialFloatingPointValues().create().toJson(st));
        Path latest = checkpoints().resolve("latest"), old = checkpoints().resolve("latest.old");
        deleteTree(old);
        if (Files.exists(latest)) Files.move(latest, old);
        Files.move(dir, latest);
        deleteTree(old);
    }

    private void restore() throws IOException {
        Path latest = checkpoints().resolve("latest");
        if (!Files.isRegularFile(latest.resolve("state.json"))) latest = checkpoints().resolve("latest.old");
        if (!Files.isRegularFile(latest.resolve("state.json")))
            throw new IOException("no checkpoint to resume in " + checkpoints() + " (a run writes one every "
                    + cfg.checkpointEvery + " epochs)");
        JsonObject st;
        try {
            st = JsonParser.parseString(Files.readString(latest.resolve("state.json"))).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IOException("checkpoint state " + latest.resolve("state.json") + " does not parse: " + e.getMessage());
        }
        Checkpoints.loadAdapterInto(policy.theta, latest, "adapter_policy");
        Checkpoints.loadAdapterInto(policy.old, latest, "adapter_old");
        Checkpoints.loadAdapterInto(policy.ema, latest, "adapter_ema");
        Safetensors.Contents opt = Safetensors.read(latest.resolve("optimizer.safetensors"));
        optimizer.loadState(opt.tensors(), Long.parseLong(opt.metadata().getOrDefault("step", "0")));
        startEpoch = st.get("epochs_done").getAsInt();
        elapsedBefore = st.get("elapsed_seconds").getAsDouble();
        st.getAsJsonArray("banned").forEach(x -> banned.add(x.getAsString()));
        st.getAsJsonArray("reward_curve").forEach(x -> rewardCurve.add(x.isJsonNull() ? Double.NaN : x.getAsDouble()));
        st.getAsJsonArray("quality_curve").forEach(x -> qualityCurve.add(x.isJsonNull() ? Double.NaN : x.getAsDouble()));
        // lines written after the checkpoint belong to epochs that will run again
        for (String f : List.of("metrics.jsonl", "timings.jsonl")) {
            Path file = runDir.resolve(f);
            if (!Files.exists(file)) continue;
            List<String> lines = Files.readAllLines(file);
            if (lines.size() > startEpoch)
                Checkpoints.writeAtomically(file, String.join("\n", lines.subList(0, startEpoch)) + (startEpoch > 0 ? "\n" : ""));
        }
        log.println("resuming after epoch " + startEpoch + " (optimizer step " + optimizer.step() + ") from " + latest);
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }

    public Policy policy() {
        return policy;
    }

    public WorldData data() {
        return data;
    }

    public double[] sigmas() {
        return sigmas;
    }

    public void close() {
        if (judge != null) judge.close();
    }
}
