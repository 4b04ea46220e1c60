package dev.editr1.train;

import java.util.ArrayList;
import java.util.List;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;

import dev.editr1.flow.SigmaSchedule;
import dev.editr1.kernels.NftForm;

/**
 * Every knob of an Edit-R1 run; the defaults are SPEC §5–§7's constants where the SPEC gives one
 * and the embedded CPU default's sizes otherwise. Printed at the start of a run and saved with it.
 */
public final class TrainConfig {
    // ---- run
    public long seed = 1;
    public int epochs = 600;
    public int threads = 1;              // libtorch intra-op threads (1 is fastest for the tiny model on 2 cores)
    public int checkpointEvery = 60;
    public String objective = "nft";

    // ---- world and model
    public int imageSize = 18;           // a 3 × 3 grid of 6-pixel cells
    public int trainTasks = 20000;        // prompts are drawn from these; few repeats generalize better
    public int heldOutTasks = 128;
    public long worldSeed = 2026;
    public String basePath = "";         // "" = the shipped embedded base
    public String modelPreset = "tiny";

    // ---- sampling (SPEC §2, §3)
    public String sigmaPreset = "qwen";
    public int steps = 6;
    public String solver = "dpm2m";
    public double cfgScale = 1.0;        // 1 = no CFG (SPEC §7 default); > 1: instruction-dropped uncond

    // ---- groups (SPEC §5)
    public int prompts = 8;              // P per epoch (published: 24)
    public int groupSize = 8;            // G rollouts per prompt (published: 12)
    public int rolloutBatch = 32;        // samples per rollout chunk (the judge overlaps the next chunk)
    public double advClipMax = 5.0;      // c
    public double filterStd = 0.05;
    public double filterMean = 0.9;
    public String filterMode = "or";     // or (released code) | and (paper's text)
    public boolean ban = false;
    public double banStd = 0.05;         // ban a prompt when its group's std < banStd …
    public double banMean = 0.9;         // … and mean > banMean

    // ---- loss (SPEC §6)
    public double beta = 1.0;
    public double klWeight = 1e-4;       // λ
    public double weightFloor = 1e-5;
    public String lossForm = "x0";       // x0 | velocity
    public double timestepFraction = 0.99;

    // ---- optimizer and policies (SPEC §7)
    public double lr = 3e-4;
    public double beta1 = 0.9, beta2 = 0.999, weightDecay = 1e-4, eps = 1e-8;
    public double gradClip = 1.0;
    public String oldPolicyDecay = "linear";  // linear: min(0.001·step, 0.5) | zero | delayed
    public double evalEmaMax = 0.9;
    public int loraRank = 32;
    public double loraAlpha = 64;

    // ---- judge: "simulated" or an OpenAI-compatible base URL (http://HOST:PORT/v1)
    public String judge = "simulated";
    public double judgeNoise = 0.05;          // simulated
    public double judgeExponent = 1.0;        // simulated
    public String judgeModel = "";            // http
    public String judgeApiKeyEnv = "EDITR1_JUDGE_API_KEY";   // the variable's name; the key itself is never stored
    public double judgeTimeoutSeconds = 60;
    public int judgeMaxInFlight = 8;
    public int judgeRetries = 4;
    public String judgeImageFormat = "png";
    public double judgeMassWarning = 0.5;     // warn when a judgement puts less probability on the score tokens

    public NftForm form() {
        return switch (lossForm) {
            case "x0" -> NftForm.X0;
            case "velocity" -> NftForm.VELOCITY;
            default -> throw new IllegalArgumentException("lossForm must be x0 or velocity, got '" + lossForm + "'");
        };
    }

    /** All problems at once, each naming the setting; empty when the config is usable. */
    public List<String> problems() {
        List<String> p = new ArrayList<>();
        if (epochs < 1) p.add("epochs must be >= 1 (got " + epochs + ")");
        if (threads < 1) p.add("threads must be >= 1 (got " + threads + ")");
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
        if (!filterMode.equals("or") && !filterMode.equals("and")) p.add("filterMode must be or or and (got '" + filterMode + "')");
        if (!List.of("linear", "zero", "delayed").contains(oldPolicyDecay))
            p.add("oldPolicyDecay must be linear, zero or delayed (got '" + oldPolicyDecay + "')");
        if (!objective.equals("nft")) p.add("objective must be nft (GRPO is not built yet; got '" + objective + "')");
        if (!(judgeNoise >= 0)) p.add("judgeNoise must be >= 0 (got " + judgeNoise + ")");
        if (!(judgeExponent > 0)) p.add("judgeExponent must be > 0 (got " + judgeExponent + ")");
        if (!judge.equals("simulated") && !judge.startsWith("http://") && !judge.startsWith("https://"))
            p.add("judge must be 'simulated' or an http(s):// base URL (got '" + judge + "')");
        if (judge.startsWith("http") && judgeModel.isBlank()) p.add("an HTTP judge needs judgeModel (--judge-model)");
        if (!(judgeTimeoutSeconds > 0)) p.add("judgeTimeoutSeconds must be > 0 (got " + judgeTimeoutSeconds + ")");
        if (judgeMaxInFlight < 1) p.add("judgeMaxInFlight must be >= 1 (got " + judgeMaxInFlight + ")");
        if (judgeRetries < 0) p.add("judgeRetries must be >= 0 (got " + judgeRetries + ")");
        if (!judgeImageFormat.equals("png") && !judgeImageFormat.equals("jpeg"))
            p.add("judgeImageFormat must be png or jpeg (got '" + judgeImageFormat + "')");
        try {
            SigmaSchedule.Preset.parse(sigmaPreset);
        } catch (IllegalArgumentException e) {
            p.add(e.getMessage());
        }
        try {
            dev.editr1.flow.Sampler.Solver.parse(solver);
        } catch (IllegalArgumentException e) {
            p.add(e.getMessage());
        }
        try {
            form();
        } catch (IllegalArgumentException e) {
            p.add(e.getMessage());
        }
        if (!List.of("tiny", "small", "base", "large").contains(modelPreset))
            p.add("modelPreset must be tiny, small, base or large (got '" + modelPreset + "')");
        return p;
    }

    public void validate() {
        List<String> p = problems();
        if (!p.isEmpty()) throw new IllegalArgumentException("bad configuration:\n  - " + String.join("\n  - ", p));
    }

    /** Training timesteps per sample: ⌊fraction · N⌋ of the N grid values (0.99 · 6 → 5), at least 1. */
    public int timestepsPerSample() {
        return Math.max(1, (int) Math.floor(timestepFraction * steps + 1e-9));
    }

    public dev.editr1.reward.Judges.Spec judgeSpec() {
        return new dev.editr1.reward.Judges.Spec(judge, judgeModel, judgeApiKeyEnv, judgeTimeoutSeconds, judgeMaxInFlight,
                judgeRetries, judgeImageFormat, judgeNoise, judgeExponent, seed * 31 + 7);
    }

    public String toJson() {
        return new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(this);
    }

    public static TrainConfig fromJson(String json) {
        TrainConfig c = new Gson().fromJson(json, TrainConfig.class);
        if (c == null) throw new IllegalArgumentException("empty configuration");
        return c;
    }
}
