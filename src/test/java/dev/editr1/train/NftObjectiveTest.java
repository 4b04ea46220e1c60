package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import dev.editr1.flow.SigmaSchedule;
import dev.editr1.kernels.NativeOps;
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditDiT;
import dev.editr1.model.EditDiTTestAccess;

/** The NFT objective's memory options change how it computes, not what: micro-batches and checkpointing. */
class NftObjectiveTest {
    static final NativeOps OPS = new NativeOps(true);

    record Result(double loss, double kl, float[][] grads) {}

    static Result accumulate(int microBatch, boolean checkpoint) {
        EditDiT m = EditDiTTestAccess.trained(9);
        int b = 7;
        Tensor x0 = EditDiTTestAccess.rnd(31, b, 3, 16, 16), src = EditDiTTestAccess.rnd(32, b, 3, 16, 16);
        Conditioning c = new Conditioning(Map.of("source", src, "text_ids", EditDiTTestAccess.ids(b)));
        Tensor r = Tensors.fromFloats(new float[] {0f, 0.2f, 0.5f, 0.7f, 1f, 0.9f, 0.4f}, b);
        long[] ids = {3, 17, 18, 40, 41, 90, 1L << 30};
        double[] sigmas = SigmaSchedule.preset(SigmaSchedule.Preset.QWEN, 6, 16, Double.NaN);
        NftObjective o = new NftObjective(m, OPS, NftLossConfig.DEFAULTS, sigmas, 5, 11, microBatch, checkpoint);
        Objective.Stats s = o.accumulate(x0, c, r, 2, ids);
        float[][] g = m.lora().theta.tensors().stream().map(p -> Tensors.toFloats(p.grad())).toArray(float[][]::new);
        return new Result(s.loss(), s.kl(), g);
    }

    static void assertSame(Result a, Result b, String what) {
        assertEquals(a.loss(), b.loss(), 1e-5 * Math.abs(a.loss()), what + ": loss");
        assertEquals(a.kl(), b.kl(), 1e-5 * Math.abs(a.kl()) + 1e-12, what + ": kl");
        for (int i = 0; i < a.grads().length; i++) {
            double max = 0;
            for (float v : a.grads()[i]) max = Math.max(max, Math.abs(v));
            assertTrue(max > 0, "tensor " + i + " has a gradient");
            for (int j = 0; j < a.grads()[i].length; j++)
                assertTrue(Math.abs(a.grads()[i][j] - b.grads()[i][j]) <= 2e-5 * max,
                        what + ": tensor " + i + " element " + j + ": " + a.grads()[i][j] + " vs " + b.grads()[i][j]);
        }
    }

    @Test
    void microBatchesGiveTheFullBatchStep() {
        Result full = accumulate(0, false);
        assertSame(full, accumulate(2, false), "micro-batches of 2 (2+2+2+1)");
        assertSame(full, accumulate(4, false), "micro-batches of 4 (4+3)");
        assertSame(full, accumulate(1, false), "one sample at a time");
    }

    @Test
    void checkpointingGivesTheSameStep() {
        assertSame(accumulate(0, false), accumulate(3, true), "checkpointed micro-batches of 3");
    }
}
