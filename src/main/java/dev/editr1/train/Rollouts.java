package dev.editr1.train;

import java.util.Arrays;
import java.util.function.IntFunction;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.flow.Sampler;
import dev.editr1.flow.Trajectory;
import dev.editr1.flow.Velocity;
import dev.editr1.kernels.DType;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditingModel;

/**
 * Rollouts (SPEC §3, §7 step 1): the final latents of B edits, integrated from Philox noise along
 * the sigma grid by the fused step kernel, with the model under one of its adapter sets. With
 * classifier-free guidance ({@code cfgScale > 1}) the unconditional velocity is the model's under
 * {@link EditingModel#unconditional}; the step kernel combines the two.
 *
 * <p>Every tensor lives on the model's device; no autograd (the sampler runs under no-grad).
 */
public final class Rollouts {
    private final EditingModel model;
    private final KernelOps ops;
    private final Sampler sampler;
    private final double[] sigmas;
    private final Sampler.Solver solver;
    private final double cfgScale;

    public Rollouts(EditingModel model, KernelOps ops, double[] sigmas, Sampler.Solver solver, double cfgScale) {
        this.model = model;
        this.sampler = new Sampler(ops);
        this.sigmas = sigmas.clone();
        this.solver = solver;
        this.cfgScale = cfgScale;
        this.ops = ops;
    }

    /**
     * Final latents [B, ...latentShape] for the conditioning's B rows, from noise rows
     * key.rowOffset() … + B − 1 (so a sample's noise depends on its id, not its batch).
     */
    public Tensor sample(Conditioning c, Adapter adapter, NoiseKey key) {
        return sampler.sample(field(c, adapter), initialNoise(c, key), sigmas, solver, cfgScale, 0);
    }

    /**
     * Flow-GRPO's SDE rollout of the same B rows from the same initial noise: every step stochastic
     * with noise level a, ξ of step i from {@code stepNoise.apply(i)}; the first {@code keep} steps
     * are recorded with their log-probabilities (see {@link Sampler#sampleSde}).
     */
    public Trajectory sampleSde(Conditioning c, Adapter adapter, NoiseKey key, double a, IntFunction<NoiseKey> stepNoise, int keep) {
        return sampler.sampleSde(field(c, adapter), initialNoise(c, key), sigmas, a, stepNoise, keep, cfgScale);
    }

    private Tensor initialNoise(Conditioning c, NoiseKey key) {
        long[] ls = model.latentShape();
        long[] shape = new long[ls.length + 1];
        shape[0] = c.batch();
        System.arraycopy(ls, 0, shape, 1, ls.length);
        return ops.noise(key, model.dtype(), model.device(), shape);   // the sampler state is in the model's dtype
    }

    private Sampler.VelocityField field(Conditioning c, Adapter adapter) {
        long b = c.batch();
        Conditioning uncond = cfgScale > 1 ? model.unconditional(c) : null;
        return (x, sigma) -> {
            float[] tv = new float[(int) b];
            Arrays.fill(tv, (float) sigma);
            Tensor t = Tensors.fromFloats(tv, model.device(), b);
            Tensor cond = model.velocity(x, t, c, adapter);
            return uncond == null ? Velocity.of(cond) : new Velocity(cond, model.velocity(x, t, uncond, adapter));
        };
    }

    /** The grid this sampler integrates along (final 0 included). */
    public double[] sigmas() {
        return sigmas.clone();
    }
}
