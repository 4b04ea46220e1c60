package dev.editr1.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import dev.editr1.data.ImageCodec;
import dev.editr1.kernels.Backend;
import dev.editr1.reward.Judge;
import dev.editr1.reward.Judges;
import dev.editr1.train.TrainConfig;
import dev.editr1.reward.JudgeRequest;
import dev.editr1.reward.Judgement;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code editr1 score}: one edit rated by a judge. Prints the score, the six probabilities and the
 * mass on the score tokens; a judge that cannot be reached, answers garbage or never answers gives
 * a message and exit code 1, never a score.
 */
@Command(name = "score", mixinStandardHelpOptions = true, description = "Rate one edit with a judge (SPEC §4).")
final class ScoreCommand implements Callable<Integer> {
    @Mixin JudgeOptions judgeOptions;

    @Option(names = "--impl", description = "native (fused kernels, default) or torch")
    String impl;

    @Option(names = "--source", required = true, description = "the source image") Path source;
    @Option(names = "--edited", required = true, description = "the edited image") Path edited;
    @Option(names = "--target", description = "the exact target (the simulated judge needs it)") Path target;
    @Option(names = "--instruction", required = true) String instruction;
    @Option(names = "--requirement", description = "the per-task requirement of the prompt") String requirement;
    @Option(names = "--json", description = "print JSON") boolean json;

    @Override
    public Integer call() throws Exception {
        float[] src = ImageCodec.read(source), ed = ImageCodec.read(edited);
        if (src.length != ed.length) throw new IllegalArgumentException("source and edited images differ in size");
        float[] tgt = null;
        if (target != null) {
            tgt = ImageCodec.read(target);
            if (tgt.length != src.length) throw new IllegalArgumentException("the target differs in size from the source");
        } else if (judgeOptions.judge == null || judgeOptions.judge.equals("simulated")) {
            throw new IllegalArgumentException("--judge simulated rates against the exact target: pass --target");
        }
        Judgement j;
        TrainConfig cfg = new TrainConfig();
        judgeOptions.apply(cfg);
        if (cfg.judge.startsWith("http") && cfg.judgeModel.isBlank()) throw new IllegalArgumentException("an HTTP judge needs --judge-model");
        // the judge scores host data: its logits are read on the CPU
        try (Judge judge = Judges.create(cfg.judgeSpec(), Backend.resolve("cpu", impl == null ? "native" : impl, true).ops())) {
            j = judge.judge(List.of(new JudgeRequest(0, src, ed, instruction, requirement, tgt))).join().get(0);
        }
        if (!j.scored()) throw new IllegalStateException("no score: " + j.failure());
        if (json) {
            JsonObject o = new JsonObject();
            o.addProperty("score", j.score());
            JsonArray p = new JsonArray();
            for (double v : j.probs()) p.add(v);
            o.add("probs", p);
            o.addProperty("mass", j.mass());
            System.out.println(new GsonBuilder().create().toJson(o));
        } else {
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < j.probs().length; k++)
                sb.append(String.format(Locale.ROOT, "%s\"%d\" %.4f", k == 0 ? "" : "  ", k, j.probs()[k]));
            System.out.printf(Locale.ROOT, "score %.4f%nprobabilities  %s%nmass on the score tokens %.4f%n", j.score(), sb,
                    j.mass());
        }
        return 0;
    }
}
