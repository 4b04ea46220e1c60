package dev.editr1.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * @param xt  x_t = (1 − t)·x0 + t·ε  [B, ...]
 * @param eps ε [B, ...], or null when not asked for
 */
public record ForwardResult(Tensor xt, Tensor eps) {}
