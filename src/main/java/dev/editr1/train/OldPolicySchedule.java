package dev.editr1.train;

/**
 * The old policy's soft-update decay d of θ_old ← d·θ_old + (1 − d)·θ (SPEC §7), by optimizer step.
 */
public enum OldPolicySchedule {
    /** d = min(0.001·step, 0.5) (the default) */
    LINEAR,
    /** d = 0: the old policy is the current one */
    ZERO,
    /** d = 0 for 75 steps, then +0.0075 per step up to 0.999 */
    DELAYED;

    public static OldPolicySchedule parse(String s) {
        return switch (s) {
            case "linear" -> LINEAR;
            case "zero" -> ZERO;
            case "delayed" -> DELAYED;
            default -> throw new IllegalArgumentException("unknown old-policy decay '" + s + "' (linear, zero, delayed)");
        };
    }

    public double decay(long step) {
        return switch (this) {
            case LINEAR -> Math.min(0.001 * step, 0.5);
            case ZERO -> 0.0;
            case DELAYED -> step < 75 ? 0.0 : Math.min(0.0075 * (step - 75), 0.999);
        };
    }

    /** The evaluation EMA's decay min((1 + step)/(10 + step), max) (SPEC §7). */
    public static double evalEmaDecay(long step, double max) {
        return Math.min((1.0 + step) / (10.0 + step), max);
    }
}
