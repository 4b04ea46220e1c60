package dev.editr1.kernels;

/** How a row of score-token probabilities becomes one score. */
public enum ScoreMode {
    /** Σ value·p / max value: the paper's score-logit reward. */
    EXPECTED(0),
    /** The argmax token's value / max value (greedy digit; ties go to the lower k). */
    ARGMAX(1);

    public final int code;

    ScoreMode(int code) {
        this.code = code;
    }
}
