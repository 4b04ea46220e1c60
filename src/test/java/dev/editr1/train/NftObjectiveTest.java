package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import dev.editr1.flow.SigmaSchedule;
import dev.editr1.kernels.NativeOps;
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditDiT;
import dev.editr1.model.EditDiTTestAccess;

/**
 * The NFT objective's memory options change how it computes, not what (micro-batches and
 * checkpointing); its noise key decides which samples share their timesteps and ε.
 */
class NftObjectiveTest {
    static final NativeOps OPS = new NativeOps(true);
    static final double[] SIGMAS = SigmaSchedule.preset(SigmaSchedule.Preset.QWEN, 6, 16, Double.NaN);

    record Result(double loss, double kl, float[][] grads) {}

    /** An NFT objective on the trained test model with seed 11, one pass, no checkpointing, random timesteps, inline forwards. */
    static NftObjective nft(EditDiT m, NftLossConfig loss, int perSample, int noiseGroup) {
        return new NftObjective(m, OPS, loss, SIGMAS, perSample, 11, 0, false, noiseGroup, false, false, SideThread.inline());
    }

    static Result accumulate(int microBatch, boolean checkpoint) {
        return accumulate(microBatch, checkpoint, SideThread.inline());
    }

    static Result accumulate(int microBatch, boolean checkpoint, SideThread side) {
        EditDiT m = EditDiTTestAccess.trained(9);
        int b = 7;
        Tensor x0 = EditDiTTestAccess.rnd(31, b, 3, 16, 16), src = EditDiTTestAccess.rnd(32, b, 3, 16, 16);
        Conditioning c = new Conditioning(Map.of("source", src, "text_ids", EditDiTTestAccess.ids(b)));
        Tensor r = Tensors.fromFloats(new float[] {0f, 0.2f, 0.5f, 0.7f, 1f, 0.9f, 0.4f}, b);
        long[] ids = {3, 17, 18, 40, 41, 90, 1L << 30};
        NftObjective o = new NftObjective(m, OPS, NftLossConfig.DEFAULTS, SIGMAS, 5, 11, microBatch, checkpoint, 1, false, false, side);
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

    /** The old and reference forwards on the side thread, beside θ's, compute the same bits as inline before it. */
    @Test
    void forwardsBesideThetasGiveTheSameStepBitForBit() {
        Result inline = accumulate(0, false);
        try (SideThread side = SideThread.open(2, () -> 2)) {   // concurrent whatever the machine's load
            Result besideFull = accumulate(0, false, side);
            assertEquals(5, side.besideCount(), "one side job per timestep slot");
            Result beside = accumulate(3, false, side);   // micro-batches 3 + 3 + 1
            assertEquals(inline.loss(), besideFull.loss());
            assertEquals(inline.kl(), besideFull.kl());
            for (int i = 0; i < inline.grads().length; i++) assertArrayEquals(inline.grads()[i], besideFull.grads()[i], "tensor " + i);
            assertSame(inline, beside, "micro-batches of 3 beside");
        }
    }

    @Test
    void checkpointingGivesTheSameStep() {
        assertSame(accumulate(0, false), accumulate(3, true), "checkpointed micro-batches of 3");
    }

    @Test
    void groupNoiseKeysEverySampleOfAGroupByItsFirst() {
        NftObjective own = nft(EditDiTTestAccess.trained(9), NftLossConfig.DEFAULTS, 5, 1);
        NftObjective grouped = nft(EditDiTTestAccess.trained(9), NftLossConfig.DEFAULTS, 5, 8);
        long epoch5 = 5 * Trainer.TRAIN_ID_STRIDE;
        assertEquals(epoch5 + 19, own.noiseId(epoch5 + 19));
        assertEquals(epoch5 + 16, grouped.noiseId(epoch5 + 19), "sample 19 is in the group of samples 16..23");
        assertEquals(epoch5 + 16, grouped.noiseId(epoch5 + 16));
        assertEquals(epoch5 + 24, grouped.noiseId(epoch5 + 31));
        assertEquals(0, grouped.noiseId(7), "epoch 0's first group");
    }

    /**
     * rolloutNoise: every slot's ε is the sample's rollout noise (the ROLLOUT stream at the sample's
     * id, as the trainer's rollout chunks draw it from their first id on), bit for bit, whatever its
     * place in the batch; by default each slot draws its own ε, which is not the rollout's.
     */
    @Test
    void rolloutNoiseIsTheNoiseTheRolloutStartedFrom() {
        long first = 3 * Trainer.TRAIN_ID_STRIDE + 40;
        long[] ids = {first + 2, first, first + 5};
        Tensor rollout = OPS.noise(NoiseStreams.ROLLOUT.key(11, first), dev.editr1.kernels.DType.F32, Tensors.cpu(), 6, 3, 16, 16);
        Tensor x0 = EditDiTTestAccess.rnd(31, 3, 3, 16, 16), t = Tensors.fromFloats(new float[] {1f, 0.4f, 0.7f}, 3);
        NftObjective coupled = new NftObjective(EditDiTTestAccess.trained(9), OPS, NftLossConfig.DEFAULTS, SIGMAS, 5, 11, 0, false, 1, false,
                true, SideThread.inline());
        NftObjective fresh = nft(EditDiTTestAccess.trained(9), NftLossConfig.DEFAULTS, 5, 1);
        for (int k : new int[] {0, 4}) {
            float[] eps = Tensors.toFloats(coupled.forwardProcess(k, x0, t, ids).eps());
            float[] own = Tensors.toFloats(fresh.forwardProcess(k, x0, t, ids).eps());
            int d = eps.length / ids.length, same = 0;
            for (int b = 0; b < ids.length; b++) {
                float[] row = Tensors.toFloats(rollout.select(0, ids[b] - first));
                for (int i = 0; i < d; i++) {
                    assertEquals(Float.floatToRawIntBits(row[i]), Float.floatToRawIntBits(eps[b * d + i]), "slot " + k + " row " + b + " element " + i);
                    if (row[i] == own[b * d + i]) same++;
                }
            }
            assertTrue(same < 3, "fresh ε shares " + same + " values with the rollout's noise");
        }
        float[] xt = Tensors.toFloats(coupled.forwardProcess(2, x0, t, ids).xt());
        float[] start = Tensors.toFloats(rollout.select(0, 2));
        for (int i = 0; i < start.length; i++) assertEquals(start[i], xt[i], 1e-6f, "at t = 1 x_t is the rollout's starting point");
    }

    /** highNoiseTimesteps: every sample, every epoch, the perSample noisiest grid timesteps; otherwise a random distinct set. */
    @Test
    void highNoiseTimestepsAreTheNoisiestForEverySample() {
        NftObjective random = nft(EditDiTTestAccess.trained(9), NftLossConfig.DEFAULTS, 3, 1);
        NftObjective high = new NftObjective(EditDiTTestAccess.trained(9), OPS, NftLossConfig.DEFAULTS, SIGMAS, 3, 11, 0, false, 1, true, false,
                SideThread.inline());
        Set<String> drawn = new HashSet<>();
        for (int epoch = 0; epoch < 4; epoch++) for (long id = 0; id < 16; id++) {
            int[] t = high.timesteps(epoch, id);
            assertEquals("[0, 1, 2]", Arrays.toString(t));
            assertTrue(SIGMAS[t[2]] > SIGMAS[3] && SIGMAS[t[0]] == Arrays.stream(SIGMAS).max().orElseThrow());
            int[] r = random.timesteps(epoch, id).clone();
            Arrays.sort(r);
            assertEquals(3, Arrays.stream(r).distinct().count());
            drawn.add(Arrays.toString(r));
        }
        assertTrue(drawn.size() > 1, "the random pick varies over samples and epochs");
    }

    /**
     * Common random numbers, observed: two identical samples (same source, instruction and final
     * latent) with opposite advantages (r = 0.75 and 0.25) at θ = θ_old and λ = 0 pull in exactly
     * opposite directions when they share t and ε — their gradients cancel — and not when each
     * draws its own.
     */
    @Test
    void aSharedDrawCancelsWhatTheGroupHasInCommon() {
        NftLossConfig d = NftLossConfig.DEFAULTS, noKl = new NftLossConfig(d.beta(), d.c(), 0.0, d.floor(), d.form());
        double[] largest = new double[2];
        for (int g : new int[] {1, 2}) {
            EditDiT m = EditDiTTestAccess.trained(9);
            m.lora().updateOld(0);   // θ_old = θ
            Tensor one = EditDiTTestAccess.rnd(31, 1, 3, 16, 16), src = EditDiTTestAccess.rnd(32, 1, 3, 16, 16);
            Tensor x0 = torch.cat(new TensorVector(one, one)), source = torch.cat(new TensorVector(src, src));
            Tensor textIds = EditDiTTestAccess.ids(1).repeat(2, 1);
            Conditioning c = new Conditioning(Map.of("source", source, "text_ids", textIds));
            nft(m, noKl, 5, g).accumulate(x0, c, Tensors.fromFloats(new float[] {0.75f, 0.25f}, 2), 0,
                    new long[] {0, 1});
            for (Tensor p : m.lora().theta.tensors())
                for (float v : Tensors.toFloats(p.grad())) largest[g - 1] = Math.max(largest[g - 1], Math.abs(v));
        }
        assertTrue(largest[0] > 1e-4, "own draws: the two samples' gradients do not cancel (largest " + largest[0] + ")");
        assertTrue(largest[1] <= 1e-5 * largest[0], "a shared draw: they cancel (largest " + largest[1] + " vs " + largest[0] + ")");
    }
}
