package dev.editr1.flow;

import org.bytedeco.pytorch.Tensor;

/** A model's velocity at one step: conditional, and unconditional when CFG is on (else null). */
public record Velocity(Tensor cond, Tensor uncond) {
    public static Velocity of(Tensor v) {
        return new Velocity(v, null);
    }
}
