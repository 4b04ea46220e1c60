package dev.editr1.model;

/** Which of a model's LoRA adapter sets a forward uses ({@link LoraSets}). */
public enum Adapter {
    /** adapters off: the frozen base, the KL reference */
    OFF,
    /** θ, the trained policy */
    POLICY,
    /** the old policy that draws rollouts */
    OLD,
    /** the evaluation EMA of θ */
    EMA
}
