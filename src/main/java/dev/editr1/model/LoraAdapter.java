package dev.editr1.model;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;

/**
 * A LoRA adapter on a model's linear layers: for each target module, A [r, in] and B [out, r],
 * added as scale·(x·Aᵀ)·Bᵀ with scale = alpha / r (see {@link Layers#linear}). B starts at zero, so
 * a fresh adapter is the base model. Names follow PEFT ({@code <module>.lora_A.weight}).
 */
public final class LoraAdapter {
    /** How A is drawn (B is always zero): PEFT's default Kaiming-uniform, or its "gaussian" N(0, 1/r). */
    public enum Init { KAIMING_UNIFORM, GAUSSIAN }

    public final int rank;
    public final double alpha;
    public final ParamStore params;

    private LoraAdapter(int rank, double alpha, ParamStore params) {
        this.rank = rank;
        this.alpha = alpha;
        this.params = params;
    }

    /** An adapter over existing tensors (e.g. read from a file), named {@code <module>.lora_A/B.weight}. */
    public static LoraAdapter of(int rank, double alpha, ParamStore params) {
        if (rank < 1) throw new IllegalArgumentException("LoRA rank must be >= 1");
        return new LoraAdapter(rank, alpha, params);
    }

    public double scale() {
        return alpha / rank;
    }

    /**
     * A new adapter for the given modules (name → [out, in] of its weight), A drawn by init from a
     * seeded Java generator (the same values on every machine), B zero.
     */
    public static LoraAdapter create(Map<String, long[]> targets, int rank, double alpha, Init init, long seed) {
        if (rank < 1) throw new IllegalArgumentException("LoRA rank must be >= 1");
        SplittableRandom rng = new SplittableRandom(seed);
        ParamStore p = new ParamStore();
        for (Map.Entry<String, long[]> e : targets.entrySet()) {
            long[] shape = e.getValue(); // [out, in]
            if (init == Init.GAUSSIAN) p.normal(e.getKey() + ".lora_A.weight", rng, 1.0 / rank, rank, shape[1]);
            else p.uniform(e.getKey() + ".lora_A.weight", rng, Math.sqrt(1.0 / shape[1]), rank, shape[1]);
            p.zeros(e.getKey() + ".lora_B.weight", shape[0], rank);
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
