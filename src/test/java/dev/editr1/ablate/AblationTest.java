package dev.editr1.ablate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * {@code editr1 ablate} on a tiny budget: 2 variants (NFT, GRPO) × 2 seeds × 2 epochs, each run a
 * child {@code train} JVM, two at a time; the table and the plots; a second call skips the finished
 * runs; a run that lost its summary resumes from its checkpoint; a spec changed under a run folder
 * is refused.
 */
class AblationTest {
    static final String BASE = "{\"prompts\": 2, \"groupSize\": 2, \"rolloutBatch\": 4, \"trainTasks\": 200, \"heldOutTasks\": 2,"
            + " \"steps\": 3, \"checkpointEvery\": 1, \"filterStd\": 0, \"device\": \"cpu\"}";

    static String spec(String grpoSets) {
        return "{\"base\": " + BASE + ", \"variants\": [{\"name\": \"nft\", \"set\": {}}, {\"name\": \"grpo\", \"set\": " + grpoSets
                + "}], \"seeds\": [1, 2], \"budget\": {\"epochs\": 2}, \"parallel\": 2, \"reach_reward\": 0.0,"
                + " \"smooth_epochs\": 2}";
    }

    static Ablation.Outcome run(AblationSpec spec, Path out, StringBuilder log) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        Ablation.Outcome o = new Ablation(spec, out, new PrintStream(b, true, StandardCharsets.UTF_8)).run(0);
        log.append(b.toString(StandardCharsets.UTF_8));
        return o;
    }

    @Test
    void twoVariantsTwoSeedsThenResume(@TempDir Path tmp) throws Exception {
        AblationSpec spec = AblationSpec.parse(spec("{\"objective\": \"grpo\"}"));
        Path out = tmp.resolve("abl");
        StringBuilder log = new StringBuilder();
        Ablation.Outcome first = run(spec, out, log);
        assertEquals(List.of(), first.failed(), log.toString());
        assertEquals(4, first.started());
        for (String f : new String[] {"summary.md", "summary.json", "reward_vs_seconds.png", "quality_vs_seconds.png", "ablation.json",
                "configs/grpo.json"})
            assertTrue(Files.isRegularFile(out.resolve(f)), f + "\n" + log);
        JsonObject s = JsonParser.parseString(Files.readString(out.resolve("summary.json"))).getAsJsonObject();
        for (String v : new String[] {"nft", "grpo"}) {
            JsonObject vo = s.getAsJsonObject("variants").getAsJsonObject(v);
            assertEquals(2, vo.get("runs").getAsInt(), v);
            assertEquals(2, vo.getAsJsonObject("heldout_judge_score").get("n").getAsInt(), v);
            assertTrue(vo.getAsJsonObject("heldout_judge_score").get("ci95_high").getAsDouble()
                    >= vo.getAsJsonObject("heldout_judge_score").get("ci95_low").getAsDouble(), v);
            assertEquals(2.0, vo.getAsJsonObject("epochs").get("mean").getAsDouble(), 0.0, v);
            assertEquals(2, vo.getAsJsonObject("seconds_to_reward").get("reached").getAsInt(), v + ": reward 0 is reached at once");
        }
        String md = Files.readString(out.resolve("summary.md"));
        assertTrue(md.contains("| nft | 2 |") && md.contains("| grpo | 2 |"), md);
        Path grpoRun = out.resolve("runs/grpo/seed-2");
        assertTrue(Files.readString(grpoRun.resolve("config.json")).contains("\"objective\": \"grpo\""));
        assertTrue(Files.readString(out.resolve("runs/nft/seed-1/config.json")).contains("\"seed\": 1"));
        String metrics = Files.readString(grpoRun.resolve("metrics.jsonl"));

        // a second call finds every run finished
        Ablation.Outcome again = run(spec, out, log);
        assertEquals(0, again.started(), log.toString());
        assertEquals(4, again.skipped());

        // a run that was interrupted after its last checkpoint (no summary yet) is resumed, not rerun
        Files.delete(grpoRun.resolve("summary.json"));
        Ablation ab = new Ablation(spec, out, new PrintStream(new ByteArrayOutputStream()));
        assertEquals(Ablation.State.RESUME, ab.state(ab.runs().get(3)));
        Ablation.Outcome resumed = run(spec, out, log);
        assertEquals(List.of(), resumed.failed(), log.toString());
        assertEquals(1, resumed.started());
        assertTrue(Files.isRegularFile(grpoRun.resolve("summary.json")));
        assertEquals(metrics, Files.readString(grpoRun.resolve("metrics.jsonl")), "the resumed run did not train again");
        assertTrue(Files.readString(out.resolve("logs/grpo-seed-2.log")).contains("resuming after epoch 2"));

        // the spec changed under finished runs: refused before anything starts, naming the field
        AblationSpec changed = AblationSpec.parse(spec("{\"objective\": \"grpo\", \"lr\": 0.001}"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> run(changed, out, new StringBuilder()));
        assertTrue(e.getMessage().contains("lr"), e.getMessage());
    }

    @Test
    void badSpecsAreRefusedWithTheirReason() {
        String[][] cases = {
                {"{\"variants\": [], \"seeds\": [1], \"budget\": {\"epochs\": 1}}", "'variants' must be a non-empty list"},
                {"{\"variants\": [{\"name\": \"a b\"}], \"seeds\": [1], \"budget\": {\"epochs\": 1}}", "must be a folder name"},
                {"{\"variants\": [{\"name\": \"a\"}, {\"name\": \"a\"}], \"seeds\": [1], \"budget\": {\"epochs\": 1}}", "appears twice"},
                {"{\"variants\": [{\"name\": \"a\"}], \"seeds\": [1], \"budget\": {\"epochs\": 1, \"seconds\": 5}}", "exactly one of"},
                {"{\"variants\": [{\"name\": \"a\", \"set\": {\"nosuch\": 1}}], \"seeds\": [1], \"budget\": {\"epochs\": 1}}",
                        "no config field 'nosuch'"},
                {"{\"variants\": [{\"name\": \"a\", \"set\": {\"objective\": \"ppo\"}}], \"seeds\": [1], \"budget\": {\"epochs\": 1}}",
                        "unknown objective 'ppo' (nft, grpo)"},
                {"{\"variants\": [{\"name\": \"a\", \"set\": {\"groupSize\": 1}}], \"seeds\": [1], \"budget\": {\"epochs\": 1}}",
                        "variant a: groupSize must be >= 2"},
                {"{\"variants\": [{\"name\": \"a\"}], \"seeds\": [1, 1], \"budget\": {\"epochs\": 1}}", "repeated seed"},
                {"{\"variants\": [{\"name\": \"a\"}], \"seeds\": [1], \"budget\": {\"epochs\": 1}, \"parallell\": 2}", "unknown key"},
                {"{\"variants\": [{\"name\": \"a\", \"epochs\": 0}], \"seeds\": [1], \"budget\": {\"epochs\": 1}}",
                        "variant a: 'epochs' must be >= 1"},
                {"{\"variants\": [{\"name\": \"a\", \"epochs\": 5}], \"seeds\": [1], \"budget\": {\"seconds\": 60}}",
                        "variant a: its own 'epochs' needs an epoch budget"},
                {"{\"variants\": [{\"name\": \"a\", \"epoch\": 5}], \"seeds\": [1], \"budget\": {\"epochs\": 1}}",
                        "variant a: unknown key 'epoch'"},
        };
        for (String[] c : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AblationSpec.parse(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + " → " + e.getMessage());
        }
        AblationSpec ok = AblationSpec.parse("{\"variants\": [{\"name\": \"a\", \"set\": {\"lr\": 1e-3}}], \"seeds\": [3],"
                + " \"budget\": {\"seconds\": 60}}");
        assertEquals(1e-3, ok.config(ok.variants().get(0), 3).lr, 0.0);
        assertEquals(60.0, ok.config(ok.variants().get(0), 3).wallSeconds, 0.0);
        assertEquals(3, ok.config(ok.variants().get(0), 3).seed);
        assertFalse(Double.isFinite(ok.reachReward()));
        // an equal-cost comparison: a variant with cheaper epochs runs more of them, the others the budget's
        AblationSpec own = AblationSpec.parse("{\"variants\": [{\"name\": \"a\"}, {\"name\": \"b\", \"set\": {\"prompts\": 4},"
                + " \"epochs\": 9}], \"seeds\": [1], \"budget\": {\"epochs\": 5}}");
        assertEquals(5, own.config(own.variants().get(0), 1).epochs);
        assertEquals(9, own.config(own.variants().get(1), 1).epochs);
        assertEquals(4, own.config(own.variants().get(1), 1).prompts);
        assertEquals(own, AblationSpec.parse(own.toJson().toString()), "the spec as ablation.json records it reads back the same");
        assertTrue(own.describeBudget().contains("b 9"), own.describeBudget());
    }

    @Test
    void seedStatisticsUseStudentsT() {
        SeedStats s = SeedStats.of(new double[] {0.5, 0.6, 0.7});
        assertEquals(0.6, s.mean(), 1e-12);
        double h = 4.303 * 0.1 / Math.sqrt(3);
        assertEquals(0.6 - h, s.lo(), 1e-12);
        assertEquals(0.6 + h, s.hi(), 1e-12);
        assertEquals(2, SeedStats.of(new double[] {1, Double.NaN, 3}).n(), "NaN (never reached) is left out");
        assertEquals("—", SeedStats.of(new double[] {Double.NaN}).format(2, false));
    }
}
