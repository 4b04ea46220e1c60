package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.EditDiT;
import dev.editr1.model.LoraAdapter;

/** {@code train --objective grpo}: short seeded runs of the one trainer with the Flow-GRPO objective. */
class GrpoTrainerTest {
    static TrainConfig grpo(int epochs) {
        TrainConfig c = TrainerTest.small(epochs);
        c.objective = TrainConfig.ObjectiveKind.GRPO;
        c.steps = 3;              // K = ⌊0.99·3⌋ = 2 trained SDE steps: a short test
        c.filterStd = 0;          // keep every group with any contrast, so every epoch updates
        c.grpoEmaInterval = 2;    // the EMA moves within the test (Flow-GRPO's 8 would wait for step 7)
        c.heldOutTasks = 4;
        return c;
    }

    /**
     * Written metrics, an adapter that moved, and replay: a run interrupted after epoch 2 and resumed
     * ends with the same θ, old and EMA adapters and the same metrics.jsonl as an uninterrupted one (so
     * the first two epochs of one seed are also the same in both runs).
     */
    @Test
    void aGrpoRunTrainsAndResumesBitIdentically(@TempDir Path tmp) throws Exception {
        TrainerTest.run(grpo(4), tmp.resolve("straight"), false);
        TrainerTest.run(grpo(2), tmp.resolve("interrupted"), false);     // stops after epoch 2's checkpoint
        Trainer.Summary s = TrainerTest.run(grpo(4), tmp.resolve("interrupted"), true);
        assertEquals(4, s.epochs());
        String straight = Files.readString(tmp.resolve("straight/metrics.jsonl"));
        assertEquals(straight, Files.readString(tmp.resolve("interrupted/metrics.jsonl")));
        List<String> lines = straight.lines().toList();
        assertEquals(4, lines.size());
        for (String l : lines) {
            JsonObject m = JsonParser.parseString(l).getAsJsonObject();
            assertTrue(m.get("valid_samples").getAsInt() > 0, "every epoch trains: " + l);
            assertTrue(Double.isFinite(m.get("loss").getAsDouble()) && m.get("grad_norm").getAsDouble() > 0, l);
        }
        assertEquals(4, JsonParser.parseString(lines.get(3)).getAsJsonObject().get("step").getAsInt());
        assertTrue(Files.exists(tmp.resolve("straight/summary.json")) && Files.exists(tmp.resolve("straight/config.json")));
        assertTrue(Files.readString(tmp.resolve("straight/config.json")).contains("\"objective\": \"grpo\""));
        EditDiT m = Checkpoints.loadEmbeddedBase();
        for (String name : new String[] {"adapter_policy", "adapter_old", "adapter_ema"}) {
            LoraAdapter a = Checkpoints.loadAdapter(m, tmp.resolve("straight/checkpoints/latest/" + name + ".safetensors"));
            LoraAdapter b = Checkpoints.loadAdapter(m, tmp.resolve("interrupted/checkpoints/latest/" + name + ".safetensors"));
            for (String k : a.params.asMap().keySet())
                assertArrayEquals(Tensors.toFloats(a.params.get(k)), Tensors.toFloats(b.params.get(k)), name + " " + k);
            if (name.equals("adapter_old")) continue;   // GRPO rolls out with θ; the old set is kept but unused
            double norm = 0;
            for (String k : a.params.asMap().keySet())
                if (k.contains("lora_B")) for (float x : Tensors.toFloats(a.params.get(k))) norm += x * x;
            assertTrue(norm > 0, name + ": B moved away from zero");
        }
    }
}
