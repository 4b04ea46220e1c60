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
import dev.editr1.kernels.GrpoLossConfig;
import dev.editr1.kernels.GrpoLossInputs;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NativeOps;
import dev.editr1.kernels.SdeStep;
import dev.editr1.kernels.Tensors;

/**
 * The Flow-GRPO loss with its gradient at one SDE step (σ = 0.5 → 0.3, v_ref given, Flow-GRPO's
 * ε and β). native: the two-pass fused kernel; torch: the composed loss (f32 upcast, clamp,
 * torch.maximum) and libtorch autograd for ∂loss/∂v_θ (what a user would write). The old
 * log-probabilities are the current policy's, so every ratio is 1 — the first training step after
 * a rollout. Minimum bytes 5·n·s (read x, x', v_θ, v_ref; write the gradient).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
public class GrpoLossBench {
    @Param({"native", "torch"})
    public String impl;

    @Param({"12x16x64x64", "12x1024x64"})
    public String shape;

    @Param({"f32", "bf16"})
    public String dtype;

    KernelOps ops;
    GrpoLossConfig config;
    GrpoLossInputs in;
    long bytes;

    @Setup
    public void setUp() {
        ops = BenchSupport.ops(impl);
        DType dt = DType.parse(dtype);
        long[] s = BenchSupport.shape(shape);
        int b = (int) s[0];
        float[] adv = new float[b], valid = new float[b];
        for (int i = 0; i < b; i++) {
            adv[i] = (i % 2 == 0 ? 1f : -1f) * (0.5f + i / (float) b);
            valid[i] = 1;
        }
        config = GrpoLossConfig.flowGrpo(SdeStep.of(0.5, 0.3, 0.9, SdeStep.NOISE_LEVEL));
        Tensor x = BenchSupport.random(1, dt, s), xNext = BenchSupport.random(2, dt, s);
        Tensor vTheta = BenchSupport.random(3, dt, s), vRef = BenchSupport.random(4, dt, s);
        Tensor advantage = Tensors.fromFloats(adv, b), ones = Tensors.fromFloats(valid, b);
        // ρ = 1: the old log-probabilities are the current policy's own
        GrpoLossInputs probe = new GrpoLossInputs(x, xNext, vTheta, vRef, advantage, Tensors.fromFloats(new float[b], b), ones);
        Tensor logProbOld = new NativeOps(false).grpoLoss(config, probe, false).logProb();
        in = new GrpoLossInputs(x, xNext, vTheta, vRef, advantage, logProbOld, ones);
        bytes = 5 * BenchSupport.numel(s) * dt.bytes;
    }

    @Benchmark
    public void lossAndGradient(BenchSupport.Traffic traffic, BenchSupport.Load load, Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            Tensor g = ops.grpoLoss(config, in, true).grad();
            bh.consume(g);
        }
        traffic.bytes += bytes;
    }
}
