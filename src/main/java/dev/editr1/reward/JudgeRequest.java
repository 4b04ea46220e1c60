package dev.editr1.reward;

/**
 * One edit to rate. Images are [3, S, S] channel-major floats in [−1, 1].
 *
 * @param id          the caller's sample id (results come back in request order regardless)
 * @param source      the source image
 * @param edited      the edited image (a rollout's x0)
 * @param instruction the edit instruction
 * @param requirement the per-task requirement text of the judge prompt
 * @param target      the exact target where known (the embedded world), else null
 */
public record JudgeRequest(long id, float[] source, float[] edited, String instruction, String requirement,
                           float[] target) {}
