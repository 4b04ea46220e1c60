package dev.editr1.reward;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A judge that rates edits: the embedded world's {@link SimulatedJudge}, or a multimodal LLM over
 * an OpenAI-compatible HTTP API ({@link HttpJudge}). Judging is asynchronous so it overlaps the next
 * rollout batch; the future completes with one {@link Judgement} per request, in request order.
 * Failures are unscored judgements with a reason, never exceptions and never a score of 0.
 */
public interface Judge extends AutoCloseable {
    /** How a rating is read off the judge (SPEC §4; the paper's Table 4 compares them). */
    enum Method {
        /** expected value of the 0–5 score tokens' renormalized probabilities (the reward) */
        SCORE_LOGIT,
        /** P(yes) over the yes/no tokens of the yes/no prompt */
        YES_NO_LOGIT,
        /** the most probable score token (ties to the lower) */
        GREEDY_DIGIT,
        /** a score token sampled at temperature 1 */
        SAMPLED_DIGIT
    }

    /** Ratings by the score-logit method: the training reward. */
    default CompletableFuture<List<Judgement>> judge(List<JudgeRequest> batch) {
        return judge(batch, Method.SCORE_LOGIT);
    }

    CompletableFuture<List<Judgement>> judge(List<JudgeRequest> batch, Method method);

    /** A short description for logs and run folders (never a secret). */
    String describe();

    /**
     * One call before the first rollout, so a judge that cannot be reached, refuses the key or does
     * not know the model stops the run at once instead of leaving every sample unscored for hours.
     * Throws {@link IllegalStateException} naming the judge and the problem; the default (an
     * in-process judge) checks nothing.
     */
    default void preflight() {}

    @Override
    default void close() {}
}
