package dev.editr1.reward;

import dev.editr1.data.ImageCodec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * How well a judge ranks edits (the paper's Table 4): on labelled pairs of edits of one source,
 * the fraction where the method scores the better edit higher (a tie counts half), per rating
 * method, with a 95% confidence interval.
 */
public final class Calibration {
    private Calibration() {}

    /** Two edits of one source and which is better ("a" or "b"); target only for the simulated judge. */
    public record Pair(float[] source, String instruction, String requirement, float[] editedA, float[] editedB,
                       boolean aBetter, float[] target) {}

    /** A method's result. */
    public record Accuracy(Judge.Method method, double accuracy, double lo, double hi, int pairs, int unscored) {}

    public static Map<Judge.Method, Accuracy> run(Judge judge, List<Pair> pairs) {
        List<JudgeRequest> req = new ArrayList<>();
        for (int i = 0; i < pairs.size(); i++) {
            Pair p = pairs.get(i);
            req.add(new JudgeRequest(2L * i, p.source(), p.editedA(), p.instruction(), p.requirement(), p.target()));
            req.add(new JudgeRequest(2L * i + 1, p.source(), p.editedB(), p.instruction(), p.requirement(), p.target()));
        }
        Map<Judge.Method, Accuracy> out = new EnumMap<>(Judge.Method.class);
        for (Judge.Method m : Judge.Method.values()) {
            List<Judgement> js = judge.judge(req, m).join();
            double correct = 0;
            int n = 0, unscored = 0;
            for (int i = 0; i < pairs.size(); i++) {
                Judgement a = js.get(2 * i), b = js.get(2 * i + 1);
                if (!a.scored() || !b.scored()) {
                    unscored++;
                    continue;
                }
                n++;
                double better = pairs.get(i).aBetter() ? a.score() : b.score(), worse = pairs.get(i).aBetter() ? b.score() : a.score();
                correct += better > worse ? 1 : better == worse ? 0.5 : 0;
            }
            double acc = n > 0 ? correct / n : Double.NaN, h = n > 0 ? 1.96 * Math.sqrt(acc * (1 - acc) / n) : Double.NaN;
            out.put(m, new Accuracy(m, acc, Math.max(0, acc - h), Math.min(1, acc + h), n, unscored));
        }
        return out;
    }

    /**
     * Labelled pairs from a JSONL file: one object per line with "source", "instruction", "edited_a",
     * "edited_b", "better" ("a" or "b"), optional "requirement" and "target"; image paths relative to
     * the file's folder.
     */
    public static List<Pair> read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException("pairs file " + file + " does not exist");
        Path dir = file.toAbsolutePath().getParent();
        List<Pair> out = new ArrayList<>();
        int line = 0;
        for (String s : Files.readAllLines(file)) {
            line++;
            if (s.isBlank()) continue;
            JsonObject o;
            try {
                o = JsonParser.parseString(s).getAsJsonObject();
            } catch (RuntimeException e) {
                throw new IOException(file + " line " + line + ": not a JSON object (" + e.getMessage() + ")");
            }
            for (String k : new String[] {"source", "instruction", "edited_a", "edited_b", "better"})
                if (!o.has(k)) throw new IOException(file + " line " + line + ": missing \"" + k + "\"");
            String better = o.get("better").getAsString();
            if (!better.equals("a") && !better.equals("b"))
                throw new IOException(file + " line " + line + ": \"better\" must be \"a\" or \"b\", got \"" + better + "\"");
            out.add(new Pair(ImageCodec.read(dir.resolve(o.get("source").getAsString())), o.get("instruction").getAsString(),
                    o.has("requirement") ? o.get("requirement").getAsString() : null,
                    ImageCodec.read(dir.resolve(o.get("edited_a").getAsString())),
                    ImageCodec.read(dir.resolve(o.get("edited_b").getAsString())), better.equals("a"),
                    o.has("target") ? ImageCodec.read(dir.resolve(o.get("target").getAsString())) : null));
        }
        if (out.isEmpty()) throw new IOException("pairs file " + file + " has no pairs");
        return out;
    }
}
