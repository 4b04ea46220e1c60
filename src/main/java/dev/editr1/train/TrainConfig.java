package dev.editr1.train;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;

import com.google.gson.JsonParseException;

import dev.editr1.flow.Sampler;
import dev.editr1.flow.SigmaSchedule;
import dev.editr1.kernels.Backend;
import dev.editr1.kernels.DType;
import dev.editr1.kernels.NftForm;
import dev.editr1.model.ModelKind;
import dev.editr1.model.qwen.QwenImageTransformer;
import dev.editr1.reward.Judge;
import dev.editr1.reward.JudgeFlaw;
import dev.editr1.data.ImageFormat;

/**
 * Every knob of an Edit-R1 run; the defaults are SPEC §5–§7's constants where the SPEC gives one
 * and the embedded CPU default's sizes otherwise. Printed at the start of a run and saved with it
 * ({@code config.json}); {@code --set key=value} sets any field. Fields that are choices are enums,
 * written by their labels ({@link Choices}).
 */
public final class TrainConfig {
    /** The policy-optimization objective (a strategy of the one trainer): DiffusionNFT, or the Flow-GRPO baseline. */
    public enum ObjectiveKind { NFT, GRPO }

    /** The learning rate over the run's optimizer steps: {@code lr} throughout, or a cosine from lr to 0 at {@code epochs}. */
    public enum LrSchedule { CONSTANT, COSINE }

    // ---- run
    public long seed = 1;
    public int epochs = 600;
    public int threads = 1;              // libtorch intra-op threads (1 is fastest for the tiny model on 2 cores)
    public int kernelThreads = 0;        // editr1's CPU kernels' threads; 0: the CPUs this process may use (bench/RESULTS.md, kernels under load)
    public int blasThreads = 1;          // OpenBLAS's threads (libtorch's CPU matmuls), fixed: OpenBLAS's sums depend on
                                         // its thread count, and a run's metrics must depend on its seed alone; 0: the CPUs
                                         // other processes leave free, re-read each epoch (faster on a busy machine, not reproducible)
    public int forwardThreads = 0;       // 2: the old/reference forwards beside θ's and rollout chunks in pairs on a second thread
                                         // (SideThread; bit-identical to 1); 0: 2 on a CPU device with >= 2 CPUs to run on, else 1
    public int checkpointEvery = 60;
    public double wallSeconds = 0;       // > 0: stop after the epoch that brings training time to this (a wall-clock budget)
    public ObjectiveKind objective = ObjectiveKind.NFT;
    public String device = "auto";       // auto | cpu | cuda | cuda:N
    public Backend.Impl impl = Backend.Impl.NATIVE;

    // ---- model
    public ModelKind model = ModelKind.BUILTIN;
    public String weights = "";          // "" = the model's default (the built-in model's embedded base)
    public DType baseDtype = DType.F32;  // the frozen base's dtype (and the activations'); LoRA and AdamW stay f32
    public int resolution = 0;           // image side for models that take any (0: the model's default; FLUX.1-Kontext: 512)
    public double guidance = 2.5;        // FLUX.1-Kontext's distilled guidance scale (its pipeline's default)
    public int textTokens = 512;         // the cached prompt embeddings' length (T5: 512; Edit-R1 uses 128); Qwen-Image-Edit: the longest
    // Qwen-Image-Edit's prompt padding: mask-keys (current diffusers: padded text tokens are no attention
    // keys) or ignore (diffusers <= 0.36.0, which Edit-R1's training ran: the mask is accepted and ignored)
    public QwenImageTransformer.TextMask textMask = QwenImageTransformer.TextMask.MASK_KEYS;
    public String conditionCache = "";   // frozen text encoders' outputs ("": DATA/conditioning/MODEL)

    // ---- memory
    public int microBatch = 0;           // kept samples per loss/backward pass (0: all at once)
    public boolean gradientCheckpointing = false;   // recompute θ's activations per block in backward

    // ---- data: "" = the embedded world, else a folder in Edit-R1's layout
    public String data = "";
    public int imageSize = 18;           // the embedded world's canvas: a 3 × 3 grid of 6-pixel cells
    public int trainTasks = 20000;       // embedded world: prompts are drawn from these; few repeats generalize better
    public int heldOutTasks = 128;
    public long worldSeed = 2026;
    public int conditionCacheItems = 4096;   // items whose conditioning (encoded source, instruction) stays computed

    // ---- sampling (SPEC §2, §3)
    public SigmaSchedule.Preset sigmaPreset = SigmaSchedule.Preset.QWEN;
    public int steps = 6;
    public Sampler.Solver solver = Sampler.Solver.DPM2M;
    public double cfgScale = 1.0;        // 1 = no CFG (SPEC §7 default); > 1: instruction-dropped uncond

    // ---- groups (SPEC §5)
    public int prompts = 8;              // P per epoch (published: 24)
    public int groupSize = 8;            // G rollouts per prompt (published: 12)
    public int rolloutBatch = 32;        // samples per rollout chunk (the judge overlaps the next chunk)
    public double advClipMax = 5.0;      // c
    public GroupStats.AdvantageStd advantageStd = GroupStats.AdvantageStd.EPOCH;   // epoch (SPEC §5, global_std) | group (Flow-GRPO's per-prompt std)
    public GroupStats.Weighting weighting = GroupStats.Weighting.ADVANTAGE;   // advantage (SPEC §5-6) | best: each group's judge's pick, r = 1 (RAFT)
    public int extremes = 0;             // NFT: > 0 trains only each kept group's ⌈k/2⌉ best and ⌊k/2⌋ worst samples (0: all)
    public double filterStd = 0.05;
    public double filterMean = 0.9;
    public GroupStats.FilterMode filterMode = GroupStats.FilterMode.OR;   // or (released code) | and (paper's text) | off
    public GroupStats.GroupBy groupBy = GroupStats.GroupBy.TASK;   // task: (source image, instruction), editr1's;
                                              // instruction: the text alone, as Edit-R1's trainers key stats and bans
    public boolean ban = false;
    public double banStd = 0.05;         // ban a prompt when its group's std < banStd …
    public double banMean = 0.9;         // … and mean > banMean

    // ---- loss (SPEC §6)
    public double beta = 1.0;
    public double klWeight = 1e-4;       // λ
    public double weightFloor = 1e-5;
    public NftForm lossForm = NftForm.X0;
    public double timestepFraction = 0.99;
    public boolean groupNoise = false;   // NFT: a group's samples share each slot's t and ε (common random numbers: the
                                         // expected gradient is unchanged, the ε noise common to a group cancels in Σ A·∇)
    public boolean highNoiseTimesteps = false;   // NFT: train the ⌊timestepFraction·N⌋ highest-σ grid timesteps, not a random
                                                 // ⌊timestepFraction·N⌋ (off: it gained less; experiments/README.md, "High-noise timesteps")
    public boolean rolloutNoise = false;  // NFT: each sample's training ε is its own rollout noise (x_t on the line from the noise
                                          // the sampler started from to its output, reflow's pairs), not fresh ε (off: it lost
                                          // quality; experiments/README.md, "Training on the rollout's own noise")

    // ---- Flow-GRPO (objective grpo; SPEC §3 SDE step, §7 baseline)
    public double sdeNoiseLevel = 0.7;   // a of the SDE rollout step
    public double grpoClipRange = 1e-4;  // ε: the ratio is clipped to [1 − ε, 1 + ε]
    public double grpoKlWeight = 0.04;   // β of the KL term to the reference (adapters off)
    public int grpoEmaInterval = 8;      // the evaluation EMA moves after every 8th optimizer step (Flow-GRPO's EMA)

    // ---- optimizer and policies (SPEC §7)
    public double lr = 3e-4;
    public LrSchedule lrSchedule = LrSchedule.CONSTANT;
    public double beta1 = 0.9, beta2 = 0.999, weightDecay = 1e-4, eps = 1e-8;
    public double gradClip = 1.0;
    public OldPolicySchedule oldPolicyDecay = OldPolicySchedule.LINEAR;
    public double evalEmaMax = 0.9;
    public int loraRank = 32;
    public double loraAlpha = 64;
    public boolean loraMlp = false;      // LoRA on the MLPs too, where the model offers them (EditingModel.mlpLoraTargets)

    // ---- many ranks (torchrun's RANK, WORLD_SIZE, … or train --nproc N); none of these changes the math
    public double distTimeoutSeconds = 30;          // a collective waits this long for a live rank to arrive (raise it
                                                    // when ranks may drift apart by more, e.g. a slow HTTP judge)
    public double distStoreTimeoutSeconds = 30;     // joining: the store must answer and every rank arrive within this
    public double distHeartbeatTimeoutSeconds = 10; // a rank silent this long is dead (frozen, or its machine is gone)
    public double distBucketMB = 25;                // gradient all-reduce bucket (PyTorch DDP's default)
    public int distChecksumEvery = 10;              // compare a checksum of the adapters across ranks every K optimizer steps

    // ---- judge: "simulated" or an OpenAI-compatible base URL (http://HOST:PORT/v1)
    public String judge = "simulated";
    public double judgeNoise = 0.05;          // simulated
    public double judgeExponent = 1.0;        // simulated
    public Judge.Method rewardMethod = Judge.Method.SCORE_LOGIT;   // how the training reward is read off the judge
                                              // (score-logit: SPEC §4's expected score; yes-no-logit, greedy-digit,
                                              // sampled-digit: the paper's Table 4 alternatives); held-out scores stay score-logit
    public String judgeModel = "";            // http
    public String judgeApiKeyEnv = "EDITR1_JUDGE_API_KEY";   // the variable's name; the key itself is never stored
    public double judgeTimeoutSeconds = 60;
    public int judgeMaxInFlight = 8;
    public int judgeRetries = 4;
    public ImageFormat judgeImageFormat = ImageFormat.PNG;
    public double judgeMassWarning = 0.5;     // warn when a judgement puts less probability on the score tokens
    public double maxUnscoredFraction = 0.5;  // stop the run when more of an epoch's samples than this are unscored

    // ---- non-finite steps: a step with a non-finite loss or gradient is skipped; this many in a row stop the run
    public int maxBadSteps = 3;
    public JudgeFlaw judgeFlaw = JudgeFlaw.NONE;   // simulated, for reward-hacking experiments: what a biased judge over-rewards
    public double judgeBias = 0;              // simulated: the flaw's weight b in the judge's view, in [0, 1) (0: unbiased)

    // ---- watching a run (RunWatch)
    public int evalEvery = 100;               // held-out evaluation of the EMA adapter every N epochs (0: only at the end)
    public boolean tensorboard = true;        // TensorBoard event files in RUN/tensorboard/
    public int monitorWindow = 50;            // reward-hacking monitor: epochs per window (the first is the baseline)
    public double monitorRewardRise = 0.02;   // warn only when the reward rose by at least this between the windows …
    public double monitorDriftRise = 0.5;     // … and drift rose by more than this (relative) …
    public double monitorSpreadDrop = 0.5;    // … or the within-group reward spread fell by more than this (relative) …
    public double monitorMassDrop = 0.1;      // … or the judge's score-token mass fell by more than this
    public double monitorRewardFall = 0.05;   // warn that training diverges when the reward fell by at least this

    /** All problems at once, each naming the setting; empty when the config is usable. */
    public List<String> problems() {
        List<String> p = new ArrayList<>();
        for (Field f : TrainConfig.class.getFields())
            try {
                if (!Modifier.isStatic(f.getModifiers()) && f.get(this) == null) p.add(f.getName() + " is not set");
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        if (epochs < 1) p.add("epochs must be >= 1 (got " + epochs + ")");
        if (threads < 1) p.add("threads must be >= 1 (got " + threads + ")");
        if (blasThreads < 0) p.add("blasThreads must be >= 0 (0: the CPUs other processes leave free; got " + blasThreads + ")");
        if (forwardThreads < 0 || forwardThreads > 2)
            p.add("forwardThreads must be 0 (automatic), 1 or 2 (got " + forwardThreads + ")");
        if (kernelThreads < 0) p.add("kernelThreads must be >= 0 (0: the CPUs this process may use; got " + kernelThreads + ")");
        if (resolution < 0) p.add("resolution must be >= 0 (0: the model's default; got " + resolution + ")");
        if (textTokens < 1) p.add("textTokens must be >= 1 (got " + textTokens + ")");
        if (microBatch < 0) p.add("microBatch must be >= 0 (0: all kept samples at once; got " + microBatch + ")");
        if (conditionCacheItems < 1) p.add("conditionCacheItems must be >= 1 (got " + conditionCacheItems + ")");
        if (checkpointEvery < 1) p.add("checkpointEvery must be >= 1 (got " + checkpointEvery + ")");
        if (!(wallSeconds >= 0) || Double.isInfinite(wallSeconds))
            p.add("wallSeconds must be >= 0 (0: no wall-clock budget; got " + wallSeconds + ")");
        if (!(sdeNoiseLevel > 0) || Double.isInfinite(sdeNoiseLevel)) p.add("sdeNoiseLevel must be > 0 (got " + sdeNoiseLevel + ")");
        if (!(grpoClipRange >= 0) || Double.isInfinite(grpoClipRange)) p.add("grpoClipRange must be >= 0 (got " + grpoClipRange + ")");
        if (!(grpoKlWeight >= 0) || Double.isInfinite(grpoKlWeight)) p.add("grpoKlWeight must be >= 0 (got " + grpoKlWeight + ")");
        if (grpoEmaInterval < 1) p.add("grpoEmaInterval must be >= 1 (got " + grpoEmaInterval + ")");
        if (objective == ObjectiveKind.GRPO && cfgScale > 1)
            p.add("objective grpo trains without classifier-free guidance: cfgScale must be 1 (got " + cfgScale + ")");
        if (objective == ObjectiveKind.GRPO && weighting != GroupStats.Weighting.ADVANTAGE)
            p.add("weighting " + weighting.name().toLowerCase(java.util.Locale.ROOT) + " picks DiffusionNFT's r; objective grpo "
                    + "weighs its samples by their advantages (set weighting=advantage)");
        if (extremes < 0) p.add("extremes must be >= 0 (0: every sample of a kept group; got " + extremes + ")");
        if (extremes > 0 && weighting != GroupStats.Weighting.ADVANTAGE)
            p.add("extremes picks the samples weighting advantage trains; weighting " + weighting.name().toLowerCase(java.util.Locale.ROOT)
                    + " picks its own (set one of them)");
        if (objective == ObjectiveKind.GRPO && extremes > 0)
            p.add("extremes picks DiffusionNFT's training samples; objective grpo trains every kept sample (set it 0)");
        if (objective == ObjectiveKind.GRPO && highNoiseTimesteps)
            p.add("highNoiseTimesteps picks DiffusionNFT's training timesteps; objective grpo trains its first SDE steps (set it false)");
        if (objective == ObjectiveKind.GRPO && groupNoise)
            p.add("groupNoise is DiffusionNFT's training noise; objective grpo trains on its rollouts' own SDE steps (set it false)");
        if (objective == ObjectiveKind.GRPO && rolloutNoise)
            p.add("rolloutNoise is DiffusionNFT's training noise; objective grpo trains on its rollouts' own SDE steps (set it false)");
        if (groupNoise && rolloutNoise)
            p.add("groupNoise and rolloutNoise both choose DiffusionNFT's training ε (a group's shared draw, or each sample's rollout noise): set one");
        if (groupSize < 2) p.add("groupSize must be >= 2: group advantages need at least two rollouts per prompt (got " + groupSize + ")");
        if (prompts < 1) p.add("prompts must be >= 1 (got " + prompts + ")");
        if (rolloutBatch < 1) p.add("rolloutBatch must be >= 1 (got " + rolloutBatch + ")");
        if (!(lr > 0) || !Double.isFinite(lr)) p.add("lr must be a positive number (got " + lr + ")");
        if (!(beta > 0)) p.add("beta must be > 0 (got " + beta + ")");
        if (!(klWeight >= 0)) p.add("klWeight must be >= 0 (got " + klWeight + ")");
        if (!(weightFloor > 0)) p.add("weightFloor must be > 0 (got " + weightFloor + ")");
        if (!(advClipMax > 0)) p.add("advClipMax must be > 0 (got " + advClipMax + ")");
        if (!(gradClip > 0)) p.add("gradClip must be > 0 (got " + gradClip + ")");
        if (!(timestepFraction > 0 && timestepFraction <= 1)) p.add("timestepFraction must be in (0, 1] (got " + timestepFraction + ")");
        if (steps < 2) p.add("steps must be >= 2 (got " + steps + ")");
        if (imageSize % 3 != 0 || imageSize < 15) p.add("imageSize must be a multiple of 3, >= 15 (got " + imageSize + ")");
        if (heldOutTasks < 2) p.add("heldOutTasks must be >= 2 (got " + heldOutTasks + ")");
        if (trainTasks < prompts) p.add("trainTasks must be >= prompts (got " + trainTasks + ")");
        if (loraRank < 1) p.add("loraRank must be >= 1 (got " + loraRank + ")");
        if (!(cfgScale >= 1)) p.add("cfgScale must be >= 1 (got " + cfgScale + ")");
        if (!(judgeNoise >= 0)) p.add("judgeNoise must be >= 0 (got " + judgeNoise + ")");
        if (!(judgeExponent > 0)) p.add("judgeExponent must be > 0 (got " + judgeExponent + ")");
        if (judge != null && !judge.equals("simulated") && !judge.startsWith("http://") && !judge.startsWith("https://"))
            p.add("judge must be 'simulated' or an http(s):// base URL (got '" + judge + "')");
        if (judge != null && judge.startsWith("http") && (judgeModel == null || judgeModel.isBlank()))
            p.add("an HTTP judge needs judgeModel (--judge-model)");
        if (!(judgeTimeoutSeconds > 0)) p.add("judgeTimeoutSeconds must be > 0 (got " + judgeTimeoutSeconds + ")");
        if (judgeMaxInFlight < 1) p.add("judgeMaxInFlight must be >= 1 (got " + judgeMaxInFlight + ")");
        if (judgeRetries < 0) p.add("judgeRetries must be >= 0 (got " + judgeRetries + ")");
        if (!(maxUnscoredFraction >= 0 && maxUnscoredFraction <= 1))
            p.add("maxUnscoredFraction must be in [0, 1] (got " + maxUnscoredFraction + ")");
        if (maxBadSteps < 1) p.add("maxBadSteps must be >= 1 (got " + maxBadSteps + ")");
        if (!(judgeBias >= 0 && judgeBias < 1)) p.add("judgeBias must be in [0, 1) (got " + judgeBias + ")");
        if (judgeBias > 0 && judgeFlaw == JudgeFlaw.NONE) p.add("judgeBias > 0 needs a judgeFlaw (" + Choices.labels(JudgeFlaw.class) + ")");
        if (judgeBias > 0 && judge != null && !judge.equals("simulated")) p.add("judgeBias applies to the simulated judge only");
        if (evalEvery < 0) p.add("evalEvery must be >= 0 (0: held-out evaluation only at the end; got " + evalEvery + ")");
        if (monitorWindow < 1) p.add("monitorWindow must be >= 1 (got " + monitorWindow + ")");
        if (!(monitorDriftRise > 0)) p.add("monitorDriftRise must be > 0 (got " + monitorDriftRise + ")");
        if (!(monitorSpreadDrop > 0 && monitorSpreadDrop < 1)) p.add("monitorSpreadDrop must be in (0, 1) (got " + monitorSpreadDrop + ")");
        if (!(monitorMassDrop > 0)) p.add("monitorMassDrop must be > 0 (got " + monitorMassDrop + ")");
        if (!(monitorRewardFall > 0)) p.add("monitorRewardFall must be > 0 (got " + monitorRewardFall + ")");
        if (!(distTimeoutSeconds > 0)) p.add("distTimeoutSeconds must be > 0 (got " + distTimeoutSeconds + ")");
        if (!(distStoreTimeoutSeconds > 0)) p.add("distStoreTimeoutSeconds must be > 0 (got " + distStoreTimeoutSeconds + ")");
        if (!(distHeartbeatTimeoutSeconds >= 0.5))
            p.add("distHeartbeatTimeoutSeconds must be >= 0.5 (got " + distHeartbeatTimeoutSeconds + ")");
        if (!(distBucketMB > 0)) p.add("distBucketMB must be > 0 (got " + distBucketMB + ")");
        if (distChecksumEvery < 1) p.add("distChecksumEvery must be >= 1 (got " + distChecksumEvery + ")");
        if (device != null)
            try {
                Backend.DeviceSpec.parse(device);
            } catch (IllegalArgumentException e) {
                p.add(e.getMessage());
            }
        return p;
    }

    public void validate() {
        List<String> p = problems();
        if (!p.isEmpty()) throw new IllegalArgumentException("bad configuration:\n  - " + String.join("\n  - ", p));
    }

    /**
     * The learning rate of the optimizer step after {@code stepsDone} steps: lr, or with the cosine
     * schedule lr·(1 + cos(π·stepsDone/epochs))/2 (one step per epoch: lr at the first, → 0 at the last).
     */
    public double lrAt(long stepsDone) {
        return switch (lrSchedule) {
            case CONSTANT -> lr;
            case COSINE -> lr * 0.5 * (1 + Math.cos(Math.PI * Math.min(1.0, (double) stepsDone / epochs)));
        };
    }

    /** Training timesteps per sample: ⌊fraction · N⌋ of the N grid values (0.99 · 6 → 5), at least 1. */
    public int timestepsPerSample() {
        return Math.max(1, (int) Math.floor(timestepFraction * steps + 1e-9));
    }

    /** The simulated judge's noise seed, derived from a run or evaluation seed (one place for the rule). */
    public static long judgeSeed(long seed) {
        return seed * 31 + 7;
    }

    public dev.editr1.reward.Judges.Spec judgeSpec() {
        return new dev.editr1.reward.Judges.Spec(judge, judgeModel, judgeApiKeyEnv, judgeTimeoutSeconds, judgeMaxInFlight,
                judgeRetries, judgeImageFormat, judgeNoise, judgeExponent, judgeSeed(seed), judgeFlaw, judgeBias);
    }

    /**
     * Sets a field from text: {@code --set key=value}. Numbers, booleans, strings and choices (by
     * label) are parsed by the field's type.
     *
     * @throws IllegalArgumentException naming the field and what it accepts
     */
    public void set(String key, String value) {
        Field f;
        try {
            f = TrainConfig.class.getField(key);
        } catch (NoSuchFieldException e) {
            throw new IllegalArgumentException("--set: no config field '" + key + "'");
        }
        Class<?> type = f.getType();
        Object v;
        try {
            if (type == int.class) v = Integer.parseInt(value.trim());
            else if (type == long.class) v = Long.parseLong(value.trim());
            else if (type == double.class) v = Double.parseDouble(value.trim());
            else if (type == boolean.class) {
                if (!value.equalsIgnoreCase("true") && !value.equalsIgnoreCase("false"))
                    throw new IllegalArgumentException("--set " + key + ": '" + value + "' is not true or false");
                v = Boolean.parseBoolean(value);
            } else if (type == String.class) v = value;
            else if (type.isEnum()) v = parseEnum(type, key, value);
            else throw new IllegalStateException("field " + key + " has an unsupported type " + type);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--set " + key + ": '" + value + "' is not " + (type == double.class ? "a number" : "an integer"));
        }
        try {
            f.set(this, v);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object parseEnum(Class<?> type, String key, String value) {
        return Choices.parse((Class) type, key, value);
    }

    /** Applies {@code key=value} pairs in order. */
    public void setAll(List<String> pairs) {
        if (pairs == null) return;
        for (String s : pairs) {
            int eq = s.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("--set expects key=value, got '" + s + "'");
            set(s.substring(0, eq).trim(), s.substring(eq + 1));
        }
    }

    public String toJson() {
        return Choices.gson(true).toJson(this);
    }

    public static TrainConfig fromJson(String json) {
        TrainConfig c;
        try {
            c = Choices.gson(false).fromJson(json, TrainConfig.class);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException("configuration does not parse: " + e.getMessage());
        }
        if (c == null) throw new IllegalArgumentException("empty configuration");
        return c;
    }
}
