package dev.editr1.bench;

import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

import dev.editr1.kernels.DType;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.LogitScoreResult;
import dev.editr1.kernels.ScoreMode;
import dev.editr1.kernels.ScoreTokens;
import dev.editr1.kernels.Tensors;

/**
 * Logits to score over a batch of judge outputs: 288 rows (P = 24 prompts × G = 12 rollouts) of a
 * Qwen2.5 vocabulary (151,936). native: one pass (per split max and Σexp, then a merge); torch:
 * index_select, softmax over the tokens, logsumexp over the vocabulary; java: a plain loop over a
 * heap array ({@link JavaLoops}, Math.exp per logit), checked against the native kernel in setup.
 * Minimum bytes B·V·s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
public class LogitScoreBench {
    @Param({"native", "torch", "java"})
    public String impl;

    @Param({"288x151936"})
    public String shape;

    @Param({"f32", "bf16"})
    public String dtype;

    KernelOps ops;
    Tensor logits;
    long bytes;
    JavaLoops.Arr jLogits;
    float[] jScore, jMass;

    @Setup
    public void setUp() {
        ops = BenchSupport.ops(impl.equals("java") ? "native" : impl);
        DType dt = DType.parse(dtype);
        long[] s = BenchSupport.shape(shape);
        logits = BenchSupport.random(1, dt, s).mul(new org.bytedeco.pytorch.Scalar(6.0)).contiguous();
        bytes = BenchSupport.numel(s) * dt.bytes;
        if (impl.equals("java")) {
            jLogits = JavaLoops.Arr.of(logits, dt);
            jScore = new float[(int) s[0]];
            jMass = new float[(int) s[0]];
            JavaLoops.logitScore(jLogits, (int) s[0], ScoreTokens.QWEN_DIGITS, jScore, jMass);
            try (PointerScope scope = new PointerScope()) {
                LogitScoreResult ref = ops.logitScore(logits, ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED);
                JavaLoops.requireClose("logit score", jScore, Tensors.toFloats(ref.score()), 1e-5);
                JavaLoops.requireClose("score-token mass", jMass, Tensors.toFloats(ref.mass()), 1e-5);
            }
        }
    }

    @Benchmark
    public void score(BenchSupport.Traffic traffic, BenchSupport.Load load, Blackhole bh) {
        if (jLogits != null) {
            JavaLoops.logitScore(jLogits, jScore.length, ScoreTokens.QWEN_DIGITS, jScore, jMass);
            bh.consume(jScore);
            traffic.bytes += bytes;
            return;
        }
        try (PointerScope scope = new PointerScope()) {
            bh.consume(ops.logitScore(logits, ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED).score());
        }
        traffic.bytes += bytes;
    }
}
