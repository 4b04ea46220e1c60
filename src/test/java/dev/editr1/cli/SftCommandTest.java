package dev.editr1.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.EditDiT;

/** {@code editr1 sft}: from scratch, or with {@code --continue} from the model's weights (the shipped base). */
class SftCommandTest {
    @Test
    void continueStartsFromTheShippedBase(@TempDir Path tmp) throws Exception {
        Path cont = tmp.resolve("continued.safetensors"), scratch = tmp.resolve("scratch.safetensors");
        for (String[] args : new String[][] {
                {"sft", "--continue", "--steps", "1", "--batch", "2", "--lr", "1e-4", "--out", cont.toString()},
                {"sft", "--steps", "1", "--batch", "2", "--lr", "1e-4", "--out", scratch.toString()}}) {
            TrainCommandTest.Out o = TrainCommandTest.run(args);
            assertEquals(0, o.code(), o.err());
        }
        Map<String, Tensor> base = Checkpoints.loadEmbeddedBase().base().asMap();
        double fromContinued = distance(base, Checkpoints.loadBase(cont)), fromScratch = distance(base, Checkpoints.loadBase(scratch));
        // one AdamW step of lr 1e-4 moves each weight by at most ~1e-4; a fresh model is nowhere near the base
        assertTrue(fromContinued > 0 && fromContinued < 2e-4, "continued: max |Δw| " + fromContinued);
        assertTrue(fromScratch > 0.05, "from scratch: max |Δw| " + fromScratch);
        String recipe = dev.editr1.model.Safetensors.read(cont).metadata().get("editr1.sft.continued_from");
        assertTrue(recipe != null && recipe.contains("embedded base"), "the continued checkpoint names its start: " + recipe);
        TrainCommandTest.Out both = TrainCommandTest.run("sft", "--continue", "--preset", "small", "--out", tmp.resolve("x.safetensors").toString());
        assertEquals(1, both.code());
        assertTrue(both.err().contains("--preset sizes a model trained from scratch"), both.err());
    }

    /** The largest element-wise difference between the base's weights and a model's. */
    static double distance(Map<String, Tensor> base, EditDiT m) {
        double max = 0;
        for (Map.Entry<String, Tensor> e : base.entrySet()) {
            float[] a = Tensors.toFloats(e.getValue()), b = Tensors.toFloats(m.base().get(e.getKey()));
            for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
