package dev.editr1.model.qwen;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.cli.Main;
import dev.editr1.data.Digests;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Safetensors;
import dev.editr1.model.io.ConditioningCache;
import dev.editr1.model.io.DiffusersFixture;
import dev.editr1.model.io.SafetensorsHeader;
import dev.editr1.reward.LoopbackJudgeServer;

/**
 * Qwen-Image-Edit end to end on the CPU: a tiny random-weight model in diffusers' layout (sharded
 * transformer, VAE), a tiny dataset in Edit-R1's layout with its conditioning cache (prompt
 * embeddings of varying length with their mask), a real OpenAI-compatible judge on loopback (its
 * scores depend on the request alone, so runs replay): {@code train --model qwen-image-edit} writes the
 * run folder and the LoRA in diffusers' form (without the last block's two modules that cannot train),
 * resumes bit for bit, and {@code eval} and {@code sample} use the exported adapter; a 2511 folder
 * (zero_cond_t) trains too, with the mask ignored as Edit-R1's diffusers did. Broken folders and
 * caches fail with the key and the file named.
 */
class QwenImageEditEndToEndTest {
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
        List<String> a = new ArrayList<>(List.of("train", "--model", "qwen-image-edit", "--weights", model.toString(), "--data",
                data.toString(), "--judge", judge, "--judge-model", "judge", "--device", "cpu", "--out", out.toString(),
                "--set", "epochs=" + epochs, "--set", "resolution=" + QwenEditFixture.RESOLUTION,
                "--set", "textTokens=" + QwenEditFixture.TEXT_TOKENS, "--set", "prompts=2", "--set", "groupSize=3",
                "--set", "rolloutBatch=6", "--set", "steps=3", "--set", "sigmaPreset=qwen", "--set", "loraRank=4",
                "--set", "loraAlpha=8", "--set", "filterStd=0", "--set", "checkpointEvery=1", "--set", "lr=1e-3",
                "--set", "microBatch=2", "--set", "gradientCheckpointing=true"));
        a.addAll(List.of(extra));
        return a.toArray(new String[0]);
    }

    @Test
    void trainsExportsResumesAndEvaluates(@TempDir Path tmp) throws Exception {
        Path model = QwenEditFixture.model(tmp.resolve("qwen"), 5, false), data = QwenEditFixture.dataset(tmp.resolve("data"), 6, 3, 9);
        try (LoopbackJudgeServer judge = new LoopbackJudgeServer((n, body) -> new Object[] {200, LoopbackJudgeServer.byContent(body)})) {
            Out r = run(train(model, data, judge.url(), tmp.resolve("run"), 3));
            assertEquals(0, r.code(), r.out() + r.err());
            assertTrue(r.out().contains("Qwen-Image-Edit-2509") && r.out().contains("text mask mask-keys"), r.out());
            assertTrue(r.out().contains("LoRA on 14 modules") && r.out().contains("less the last block's to_add_out and add_q_proj"), r.out());
            List<String> metrics = Files.readAllLines(tmp.resolve("run/metrics.jsonl"));
            assertEquals(3, metrics.size());
            JsonObject last = JsonParser.parseString(metrics.get(2)).getAsJsonObject();
            assertTrue(last.get("step").getAsInt() >= 1, "the adapter was updated: " + metrics);
            assertEquals(0, last.get("unscored").getAsInt());

            // the LoRA in diffusers' form: transformer.-prefixed keys, rank and alpha in the header; Edit-R1's
            // 8 modules per block except the last block's to_add_out and add_q_proj
            Path lora = tmp.resolve("run/checkpoints/final/pytorch_lora_weights.safetensors");
            SafetensorsHeader h = SafetensorsHeader.read(lora);
            QwenImageConfig cfg = QwenImageConfig.fromJson(QwenEditFixture.transformerConfig(false));
            int all = QwenImageTransformer.defaultLoraTargets(cfg).size();
            assertEquals(16, all);
            assertEquals(2 * (all - 2), h.entries().size(), h.entries().keySet().toString());
            Set<String> keys = h.entries().keySet();
            for (String m : new String[] {"to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"})
                for (String ab : new String[] {"A", "B"})
                    assertTrue(keys.contains("transformer.transformer_blocks.0.attn." + m + ".lora_" + ab + ".weight"), m + " " + keys);
            assertFalse(keys.contains("transformer.transformer_blocks.1.attn.to_add_out.lora_A.weight"), keys.toString());
            assertFalse(keys.contains("transformer.transformer_blocks.1.attn.add_q_proj.lora_B.weight"), keys.toString());
            assertTrue(keys.contains("transformer.transformer_blocks.1.attn.add_k_proj.lora_B.weight"), keys.toString());
            JsonObject meta = JsonParser.parseString(h.metadata().get("lora_adapter_metadata")).getAsJsonObject();
            assertEquals(4, meta.get("transformer.r").getAsInt());
            assertEquals(8.0, meta.get("transformer.lora_alpha").getAsDouble());
            assertEquals("gaussian", meta.get("transformer.init_lora_weights").getAsString());
            JsonArray targets = meta.getAsJsonArray("transformer.target_modules");
            assertEquals(all - 2, targets.size());
            assertFalse(targets.toString().contains("transformer_blocks.1.attn.to_add_out"), targets.toString());
            assertTrue(Files.isRegularFile(tmp.resolve("run/checkpoints/final/adapter_config.json")));
            for (String m : new String[] {"transformer_blocks.1.attn.to_q", "transformer_blocks.0.attn.to_add_out"}) {
                float[] b = Tensors.toFloats(Safetensors.read(lora).tensors().get("transformer." + m + ".lora_B.weight"));
                double norm = 0;
                for (float x : b) norm += x * x;
                assertTrue(norm > 0, m + ": B moved from zero");
            }

            // interrupted after 2 epochs and resumed: the same metrics and adapters as the straight run
            assertEquals(0, run(train(model, data, judge.url(), tmp.resolve("resumed"), 2)).code());
            Out res = run("train", "--resume", tmp.resolve("resumed").toString(), "--epochs", "3");
            assertEquals(0, res.code(), res.out() + res.err());
            assertEquals(Files.readString(tmp.resolve("run/metrics.jsonl")), Files.readString(tmp.resolve("resumed/metrics.jsonl")));
            for (String name : List.of("adapter_policy", "adapter_old", "adapter_ema")) {
                Map<String, Tensor> a = Safetensors.read(tmp.resolve("run/checkpoints/latest/" + name + ".safetensors")).tensors(),
                        c = Safetensors.read(tmp.resolve("resumed/checkpoints/latest/" + name + ".safetensors")).tensors();
                assertEquals(a.keySet(), c.keySet());
                for (String k : a.keySet()) assertArrayEquals(Tensors.toFloats(a.get(k)), Tensors.toFloats(c.get(k)), name + " " + k);
            }

            // eval and sample read the exported adapter back
            String[] common = {"--model", "qwen-image-edit", "--weights", model.toString(), "--data", data.toString(), "--device", "cpu",
                    "--set", "resolution=" + QwenEditFixture.RESOLUTION, "--set", "textTokens=" + QwenEditFixture.TEXT_TOKENS,
                    "--set", "steps=3", "--set", "sigmaPreset=qwen"};
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
    void edit2511FromItsConfigTrainsWithTheMaskIgnored(@TempDir Path tmp) throws Exception {
        Path model = QwenEditFixture.model(tmp.resolve("qwen2511"), 6, true), data = QwenEditFixture.dataset(tmp.resolve("data"), 4, 2, 4);
        try (LoopbackJudgeServer judge = new LoopbackJudgeServer((n, body) -> new Object[] {200, LoopbackJudgeServer.byContent(body)})) {
            Out r = run(train(model, data, judge.url(), tmp.resolve("run"), 1, "--set", "textMask=ignore"));
            assertEquals(0, r.code(), r.out() + r.err());
            assertTrue(r.out().contains("Qwen-Image-Edit-2511 (zero_cond_t)") && r.out().contains("text mask ignore"), r.out());
            assertEquals(1, Files.readAllLines(tmp.resolve("run/metrics.jsonl")).size());
            assertTrue(Files.isRegularFile(tmp.resolve("run/checkpoints/final/pytorch_lora_weights.safetensors")));
        }
    }

    @Test
    void brokenCheckpointFoldersAndCachesNameTheKeyAndTheFile(@TempDir Path tmp) throws Exception {
        Path data = QwenEditFixture.dataset(tmp.resolve("data"), 2, 1, 3);
        // a renamed key: the index and the shard agree, the model does not expect the name
        Path renamed = QwenEditFixture.model(tmp.resolve("renamed"), 1, false);
        Path index = renamed.resolve("transformer/diffusion_pytorch_model.safetensors.index.json");
        String idx = Files.readString(index);
        String key = "transformer_blocks.0.attn.to_q.weight", other = "transformer_blocks.0.attn.to_Q.weight";
        assertTrue(idx.contains(key));
        String shardName = JsonParser.parseString(idx).getAsJsonObject().getAsJsonObject("weight_map").get(key).getAsString();
        Path shard = renamed.resolve("transformer").resolve(shardName);
        byte[] bytes = Files.readAllBytes(shard);
        Files.writeString(index, idx.replace(key, other));
        Files.write(shard, new String(bytes, StandardCharsets.ISO_8859_1).replace(key, other).getBytes(StandardCharsets.ISO_8859_1));
        Out r = run(train(renamed, data, "simulated", tmp.resolve("r1"), 1));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("'" + other + "'") && r.err().contains(shard.getFileName().toString())
                && r.err().contains("QwenImageTransformer2DModel"), r.err());
        assertFalse(Files.exists(tmp.resolve("r1/metrics.jsonl")));

        // a truncated shard: the file and its cut are named before anything is read
        Path cut = QwenEditFixture.model(tmp.resolve("cut"), 1, false);
        Path s2 = cut.resolve("transformer/diffusion_pytorch_model-00002-of-00002.safetensors");
        long size = Files.size(s2);
        try (var ch = java.nio.channels.FileChannel.open(s2, StandardOpenOption.WRITE)) {
            ch.truncate(size - 100);
        }
        r = run(train(cut, data, "simulated", tmp.resolve("r2"), 1));
        assertEquals(1, r.code());
        assertTrue(r.err().contains(s2.toString()) && r.err().contains("truncated"), r.err());

        // a VAE of another latent width than the transformer's tokens
        Path wrongVae = QwenEditFixture.model(tmp.resolve("vae8"), 1, false);
        String vae8 = QwenEditFixture.vaeConfig().replace("\"z_dim\": 4", "\"z_dim\": 8")
                .replace("[0.1, -0.2, 0.3, 0.05]", "[0, 0, 0, 0, 0, 0, 0, 0]").replace("[1.5, 0.8, 1.2, 2.0]", "[1, 1, 1, 1, 1, 1, 1, 1]");
        DiffusersFixture.single(wrongVae.resolve("vae"), vae8,
                DiffusersFixture.random(AutoencoderKLQwenImage.parameterShapes(QwenImageVaeConfig.fromJson(vae8)), 2, 0.1));
        r = run(train(wrongVae, data, "simulated", tmp.resolve("r3"), 1));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("8 latent channels"), r.err());

        // the conditioning cache must match the items: an entry longer than textTokens says what to raise …
        Path model = QwenEditFixture.model(tmp.resolve("ok"), 1, false);
        r = run(train(model, data, "simulated", tmp.resolve("r4"), 1, "--set", "textTokens=2"));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("prompt_embeds") && r.err().contains("raise textTokens"), r.err());
        // … a mask of another length than the embeddings is refused …
        Path cacheDir = data.resolve("conditioning/qwen-image-edit");
        String line = Files.readAllLines(data.resolve("train_metadata.jsonl")).get(0);
        JsonObject item = JsonParser.parseString(line).getAsJsonObject();
        String prompt = item.get("prompt").getAsString(), sha = Digests.sha256(data.resolve(item.get("image").getAsString()));
        ConditioningCache cache = new ConditioningCache(cacheDir, QwenImageEditModel.KIND,
                QwenImageEditModel.cacheShapes(QwenImageConfig.fromJson(QwenEditFixture.transformerConfig(false))), QwenEditFixture.TEXT_TOKENS);
        Map<String, Tensor> bad = new LinkedHashMap<>();
        bad.put(QwenImageEditModel.PROMPT_EMBEDS, DiffusersFixture.gaussian(new java.util.SplittableRandom(1), 5, QwenEditFixture.TEXT_WIDTH));
        bad.put(QwenImageEditModel.PROMPT_MASK, Tensors.fromFloats(new float[] {1, 1, 1, 1}, 4));
        cache.write(prompt, sha, bad);
        r = run(train(model, data, "simulated", tmp.resolve("r5"), 1));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("prompt_embeds_mask") && r.err().contains("has length 4"), r.err());
        // … and a missing entry names the prompt and the script to run
        Files.delete(cache.file(prompt, sha));
        r = run(train(model, data, "simulated", tmp.resolve("r6"), 1));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no cached conditioning") && r.err().contains("tools/cache_conditioning.py"), r.err());
    }
}
