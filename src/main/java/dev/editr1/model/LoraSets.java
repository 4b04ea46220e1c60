package dev.editr1.model;

import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Device;

/**
 * A model's LoRA adapter sets (SPEC §7): θ (trained, requires grad), the old policy (rollouts;
 * θ_old ← d·θ_old + (1 − d)·θ after each step) and the evaluation EMA. All three have the same
 * targets, rank and alpha and live on the model's device.
 */
public final class LoraSets {
    public final LoraAdapter theta, old, ema;

    private LoraSets(LoraAdapter theta, LoraAdapter old, LoraAdapter ema) {
        this.theta = theta;
        this.old = old;
        this.ema = ema;
    }

    /** New sets: θ with A drawn from the seed and B = 0 (so every set starts as the base), old and EMA copies of it. */
    public static LoraSets fresh(Map<String, long[]> targets, int rank, double alpha, LoraAdapter.Init init, long seed) {
        LoraAdapter theta = LoraAdapter.create(targets, rank, alpha, init, seed);
        LoraSets s = new LoraSets(theta, theta.copy(), theta.copy());
        theta.params.requireGrad(true);
        return s;
    }

    /** One adapter in every role (evaluating or sampling a saved adapter). */
    public static LoraSets single(LoraAdapter a) {
        return new LoraSets(a, a, a);
    }

    /** The adapter of a role, null for {@link Adapter#OFF}. */
    public LoraAdapter get(Adapter a) {
        return switch (a) {
            case OFF -> null;
            case POLICY -> theta;
            case OLD -> old;
            case EMA -> ema;
        };
    }

    /** θ_old ← d·θ_old + (1 − d)·θ */
    public void updateOld(double d) {
        old.params.lerpFrom(theta.params, d);
    }

    /** EMA ← d·EMA + (1 − d)·θ */
    public void updateEma(double d) {
        ema.params.lerpFrom(theta.params, d);
    }

    /** Moves every set to a device (θ stays a leaf that requires grad). */
    public void to(Device device) {
        for (LoraAdapter a : List.of(theta, old, ema)) a.params.to(device);
    }
}
