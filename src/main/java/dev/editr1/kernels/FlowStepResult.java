package dev.editr1.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * @param x       x' [B, ...] (null when the step only evaluated a given x')
 * @param x0Hat   x̂0 [B, ...] or null
 * @param logProb per-row log-prob [B] f32, or null
 */
public record FlowStepResult(Tensor x, Tensor x0Hat, Tensor logProb) {}
