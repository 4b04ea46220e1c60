package dev.editr1.reward;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A judge that rates edits: the embedded world's {@link SimulatedJudge}, or an MLLM over HTTP.
 * Judging is asynchronous so it overlaps the next rollout batch; the future completes with one
 * {@link Judgement} per request, in request order. Failures are unscored judgements, not
 * exceptions, so one bad sample does not sink a batch.
 */
public interface Judge extends AutoCloseable {
    CompletableFuture<List<Judgement>> judge(List<JudgeRequest> batch);

    /** A short description for logs and run folders (never a secret). */
    String describe();

    @Override
    default void close() {}
}
