package dev.editr1.model;

import java.util.List;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;

/**
 * A LoRA adapter on the transformer's attention projections: for each target module, A [r, in]
 * and B [out, r], added as scale·(x·Aᵀ)·Bᵀ with scale = alpha / r. B starts at zero, so a fresh
 * adapter is the base model. Names follow PEFT ({@code <module>.lora_A.weight}).
 */
public final class LoraAdapter {
    public final int rank;
    public final double alpha;
    public final ParamStore params;

    private LoraAdapter(int rank, double alpha, ParamStore params) {
        this.rank = rank;
        this.alpha = alpha;
        this.params = params;
    }

    public double scale() {
        return alpha / rank;
    }

    /** A new adapter for the model's attention projections (A Kaiming-uniform, B zero). */
    public static LoraAdapter create(EditDiT model, int rank, double alpha, long seed) {
        if (rank < 1) throw new IllegalArgumentException("LoRA rank must be >= 1");
        SplittableRandom rng = new SplittableRandom(seed);
        ParamStore p = new ParamStore();
        for (String m : model.loraTargets()) {
            long[] shape = model.linearShape(m); // [out, in]
            p.uniform(m + ".lora_A.weight", rng, Math.sqrt(1.0 / shape[1]), rank, shape[1]);
            p.zeros(m + ".lora_B.weight", shape[0], rank);
        }
        return new LoraAdapter(rank, alpha, p);
    }

    public Tensor a(String module) {
        return params.get(module + ".lora_A.weight");
    }

    public Tensor b(String module) {
        return params.get(module + ".lora_B.weight");
    }

    public boolean targets(String module) {
        return params.has(module + ".lora_A.weight");
    }

    /** A detached copy (the old policy and the evaluation EMA start as copies of the policy). */
    public LoraAdapter copy() {
        return new LoraAdapter(rank, alpha, params.copy());
    }

    public List<Tensor> tensors() {
        return List.copyOf(params.tensors());
    }
}
