package dev.editr1.train;

import java.util.List;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.flow.Sampler;
import dev.editr1.flow.Velocity;
import dev.editr1.kernels.DType;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.EditDiT;
import dev.editr1.model.LoraAdapter;
import dev.editr1.world.EditTask;

/**
 * The model under training: the frozen base (the KL reference, "adapters off"), the trained LoRA
 * adapter θ, the old-policy adapter that draws rollouts, and the evaluation EMA of θ.
 */
public final class Policy {
    public final EditDiT model;
    public final LoraAdapter theta, old, ema;

    public Policy(EditDiT model, int rank, double alpha, long seed) {
        this.model = model;
        model.base.requireGrad(false);
        this.theta = LoraAdapter.create(model.loraShapes(), rank, alpha, LoraAdapter.Init.KAIMING_UNIFORM, seed);
        this.old = theta.copy();
        this.ema = theta.copy();
        theta.params.requireGrad(true);
    }

    /** Images for the tasks, sampled with an adapter (null = base) from the key's Philox noise, no CFG. */
    public Tensor sample(WorldData data, List<EditTask> tasks, LoraAdapter adapter, NoiseKey key, double[] sigmas,
                         Sampler.Solver solver, KernelOps ops) {
        return sample(model, data, tasks, adapter, key, sigmas, solver, 1.0, ops);
    }

    public Tensor sample(WorldData data, List<EditTask> tasks, LoraAdapter adapter, NoiseKey key, double[] sigmas,
                         Sampler.Solver solver, double cfgScale, KernelOps ops) {
        return sample(model, data, tasks, adapter, key, sigmas, solver, cfgScale, ops);
    }

    /**
     * Images for the tasks from any model and adapter (null = base), from the key's Philox noise,
     * with classifier-free guidance when cfgScale &gt; 1: the unconditional velocity is the model's
     * with the instruction dropped (all padding), combined by the step kernel.
     */
    public static Tensor sample(EditDiT model, WorldData data, List<EditTask> tasks, LoraAdapter adapter, NoiseKey key,
                                double[] sigmas, Sampler.Solver solver, double cfgScale, KernelOps ops) {
        int s = data.size();
        Tensor src = data.sources(tasks), ids = data.idTensor(tasks);
        Tensor noText = cfgScale > 1 ? ids.mul(new org.bytedeco.pytorch.Scalar(0)) : null;  // PAD = 0
        Tensor x1 = ops.noise(key, DType.F32, Tensors.cpu(), tasks.size(), 3, s, s);
        long b = tasks.size();
        Sampler.VelocityField field = (x, sigma) -> {
            Tensor t = Tensors.fromFloats(filled((int) b, (float) sigma), b);
            Tensor cond = model.velocity(x, src, ids, t, adapter);
            return noText == null ? Velocity.of(cond) : new Velocity(cond, model.velocity(x, src, noText, t, adapter));
        };
        return new Sampler(ops).sample(field, x1, sigmas, solver, cfgScale, 0);
    }

    static float[] filled(int n, float v) {
        float[] f = new float[n];
        java.util.Arrays.fill(f, v);
        return f;
    }
}
