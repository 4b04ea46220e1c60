package dev.editr1.model.flux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.cli.Main;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Safetensors;
import dev.editr1.model.io.SafetensorsHeader;
import dev.editr1.reward.LoopbackJudgeServer;

/**
 * FLUX.1-Kontext end to end on the CPU: a tiny random-weight model in diffusers' layout (sharded
 * transformer, VAE), a tiny dataset in Edit-R1's layout with its conditioning cache, a real
 * OpenAI-compatible judge on loopback (its scores depend on the request alone, so runs replay):
 * {@code train --model flux-kontext} writes the run folder and the LoRA in diffusers' form, resumes
 * bit for bit, and {@code eval} and {@code sample} use the exported adapter. Broken folders fail
 * with the key and the file named.
 */
class FluxKontextEndToEndTest {
    record Out(int code, String out, String err) {}

    static Out run(String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream ob = new ByteArrayOutputStream(), eb = new ByteArrayOutputStream();
        System.setOut(new PrintStream(ob, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(eb, true, StandardCharsets.UTF_8));
        try {
            int c = Main.run(args);
            return new Out(c, ob.toString(StandardCharsets.UTF_8), eb.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    static String[] train(Path model, Path data, String judge, Path out, int epochs, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", "--model", "flux-kontext", "--weights", model.toString(), "--data",
                data.toString(), "--judge", judge, "--judge-model", "judge", "--device", "cpu", "--out", out.toString(),
                "--set", "epochs=" + epochs, "--set", "resolution=" + KontextFixture.RESOLUTION,
                "--set", "textTokens=" + KontextFixture.TEXT_TOKENS, "--set", "prompts=2", "--set", "groupSize=3",
                "--set", "rolloutBatch=6", "--set", "steps=3", "--set", "sigmaPreset=kontext", "--set", "loraRank=4",
                "--set", "loraAlpha=8", "--set", "filterStd=0", "--set", "checkpointEvery=1", "--set", "lr=1e-3",
                "--set", "microBatch=2", "--set", "gradientCheckpointing=true"));
        a.addAll(List.of(extra));
        return a.toArray(new String[0]);
    }

    @Test
    void trainsExportsResumesAndEvaluates(@TempDir Path tmp) throws Exception {
        Path model = KontextFixture.model(tmp.resolve("kontext"), 5), data = KontextFixture.dataset(tmp.resolve("data"), 6, 3, 9);
        try (LoopbackJudgeServer judge = new LoopbackJudgeServer((n, body) -> new Object[] {200, LoopbackJudgeServer.byContent(body)})) {
            Out r = run(train(model, data, judge.url(), tmp.resolve("run"), 3));
            assertEquals(0, r.code(), r.out() + r.err());
            assertTrue(r.out().contains("FLUX.1-Kontext"), r.out());
            List<String> metrics = Files.readAllLines(tmp.resolve("run/metrics.jsonl"));
            assertEquals(3, metrics.size());
            JsonObject last = JsonParser.parseString(metrics.get(2)).getAsJsonObject();
            assertTrue(last.get("step").getAsInt() >= 1, "the adapter was updated: " + metrics);
            assertEquals(0, last.get("unscored").getAsInt());

            // the LoRA in diffusers' form: transformer.-prefixed keys, rank and alpha in the header
            Path lora = tmp.resolve("run/checkpoints/final/pytorch_lora_weights.safetensors");
            SafetensorsHeader h = SafetensorsHeader.read(lora);
            int defaults = FluxTransformer.defaultLoraTargets(FluxConfig.fromJson(KontextFixture.transformerConfig())).size();
            assertEquals(2 * defaults, h.entries().size());
            assertTrue(h.entries().containsKey("transformer.transformer_blocks.0.attn.to_q.lora_A.weight"), h.entries().keySet().toString());
            assertTrue(h.entries().containsKey("transformer.single_transformer_blocks.0.attn.to_v.lora_B.weight"));
            JsonObject meta = JsonParser.parseString(h.metadata().get("lora_adapter_metadata")).getAsJsonObject();
            assertEquals(4, meta.get("transformer.r").getAsInt());
            assertEquals(8.0, meta.get("transformer.lora_alpha").getAsDouble());
            assertEquals("gaussian", meta.get("transformer.init_lora_weights").getAsString());
            assertEquals(defaults, meta.getAsJsonArray("transformer.target_modules").size());
            assertTrue(Files.isRegularFile(tmp.resolve("run/checkpoints/final/adapter_config.json")));
            float[] b = Tensors.toFloats(Safetensors.read(lora).tensors().get("transformer.transformer_blocks.0.attn.to_q.lora_B.weight"));
            double norm = 0;
            for (float x : b) norm += x * x;
            assertTrue(norm > 0, "B moved from zero");

            // interrupted after 2 epochs and resumed: the same metrics and adapters as the straight run
            assertEquals(0, run(train(model, data, judge.url(), tmp.resolve("resumed"), 2)).code());
            Out res = run("train", "--resume", tmp.resolve("resumed").toString(), "--epochs", "3");
            assertEquals(0, res.code(), res.out() + res.err());
            assertEquals(Files.readString(tmp.resolve("run/metrics.jsonl")), Files.readString(tmp.resolve("resumed/metrics.jsonl")));
            for (String name : List.of("adapter_policy", "adapter_old", "adapter_ema")) {
                Map<String, org.bytedeco.pytorch.Tensor> a = Safetensors.read(tmp.resolve("run/checkpoints/latest/" + name + ".safetensors")).tensors(),
                        c = Safetensors.read(tmp.resolve("resumed/checkpoints/latest/" + name + ".safetensors")).tensors();
                for (String k : a.keySet()) assertArrayEquals(Tensors.toFloats(a.get(k)), Tensors.toFloats(c.get(k)), name + " " + k);
            }

            // eval and sample read the exported adapter back
            String[] common = {"--model", "flux-kontext", "--weights", model.toString(), "--data", data.toString(), "--device", "cpu",
                    "--set", "resolution=" + KontextFixture.RESOLUTION, "--set", "textTokens=" + KontextFixture.TEXT_TOKENS,
                    "--set", "steps=3", "--set", "sigmaPreset=kontext"};
            List<String> ev = new ArrayList<>(List.of("eval", "--adapter", lora.toString(), "--judge", judge.url(), "--judge-model", "judge"));
            ev.addAll(List.of(common));
            Out e = run(ev.toArray(new String[0]));
            assertEquals(0, e.code(), e.out() + e.err());
            assertTrue(e.out().contains("held-out (3 tasks): judge score"), e.out());
            List<String> sa = new ArrayList<>(List.of("sample", "--adapter", lora.toString(), "--out", tmp.resolve("s.png").toString()));
            sa.addAll(List.of(common));
            Out s = run(sa.toArray(new String[0]));
            assertEquals(0, s.code(), s.out() + s.err());
            assertTrue(Files.size(tmp.resolve("s.png")) > 0);
        }
    }

    @Test
    void brokenCheckpointFoldersNameTheKeyAndTheFile(@TempDir Path tmp) throws Exception {
        Path data = KontextFixture.dataset(tmp.resolve("data"), 2, 1, 3);
        // a renamed key: the index and the shard agree, the model does not expect the name
        Path renamed = KontextFixture.model(tmp.resolve("renamed"), 1);
        Path index = renamed.resolve("transformer/diffusion_pytorch_model.safetensors.index.json");
        String idx = Files.readString(index);
        Path shard = renamed.resolve("transformer/diffusion_pytorch_model-00001-of-00002.safetensors");
        byte[] bytes = Files.readAllBytes(shard);
        String key = "transformer_blocks.0.attn.to_q.weight", other = "transformer_blocks.0.attn.to_Q.weight";
        assertTrue(idx.contains(key));
        Files.writeString(index, idx.replace(key, other));
        Files.write(shard, new String(bytes, StandardCharsets.ISO_8859_1).replace(key, other).getBytes(StandardCharsets.ISO_8859_1));
        Out r = run(train(renamed, data, "simulated", tmp.resolve("r1"), 1));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("'" + other + "'") && r.err().contains(shard.getFileName().toString()), r.err());
        assertFalse(Files.exists(tmp.resolve("r1/metrics.jsonl")));

        // a truncated shard: the file and its cut are named before anything is read
        Path cut = KontextFixture.model(tmp.resolve("cut"), 1);
        Path s2 = cut.resolve("transformer/diffusion_pytorch_model-00002-of-00002.safetensors");
        long size = Files.size(s2);
        try (var ch = java.nio.channels.FileChannel.open(s2, StandardOpenOption.WRITE)) {
            ch.truncate(size - 100);
        }
        r = run(train(cut, data, "simulated", tmp.resolve("r2"), 1));
        assertEquals(1, r.code());
        assertTrue(r.err().contains(s2.toString()) && r.err().contains("truncated"), r.err());

        // the conditioning cache must match the items: a missing entry names the prompt and the script to run
        Path model = KontextFixture.model(tmp.resolve("ok"), 1);
        try (var files = Files.list(data.resolve("conditioning/flux-kontext"))) {
            Files.delete(files.findFirst().orElseThrow());
        }
        r = run(train(model, data, "simulated", tmp.resolve("r3"), 1));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no cached conditioning") && r.err().contains("tools/cache_conditioning.py"), r.err());
    }
}
