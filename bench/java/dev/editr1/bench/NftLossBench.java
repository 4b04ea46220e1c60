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
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.NftLossInputs;
import dev.editr1.kernels.Tensors;

/**
 * The DiffusionNFT loss with its gradient (x0 form, v_ref given). native: the two-pass fused
 * kernel; torch: the composed loss and libtorch autograd for ∂loss/∂v_θ (what a user would write).
 * Minimum bytes 6·n·s (read x0, ε, v_θ, v_old, v_ref; write the gradient).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
public class NftLossBench {
    @Param({"native", "torch"})
    public String impl;

    @Param({"12x16x64x64", "12x1024x64"})
    public String shape;

    @Param({"f32", "bf16"})
    public String dtype;

    KernelOps ops;
    NftLossInputs in;
    long bytes;

    @Setup
    public void setUp() {
        ops = BenchSupport.ops(impl);
        DType dt = DType.parse(dtype);
        long[] s = BenchSupport.shape(shape);
        int b = (int) s[0];
        float[] t = new float[b], r = new float[b], valid = new float[b];
        for (int i = 0; i < b; i++) {
            t[i] = (i + 0.5f) / b;
            r[i] = (i % 5) / 4f;
            valid[i] = 1;
        }
        in = new NftLossInputs(BenchSupport.random(1, dt, s), BenchSupport.random(2, dt, s), false,
                BenchSupport.random(3, dt, s), BenchSupport.random(4, dt, s), BenchSupport.random(5, dt, s),
                Tensors.fromFloats(t, b), Tensors.fromFloats(r, b), Tensors.fromFloats(valid, b));
        bytes = 6 * BenchSupport.numel(s) * dt.bytes;
    }

    @Benchmark
    public void lossAndGradient(BenchSupport.Traffic traffic, BenchSupport.Load load, Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            Tensor g = ops.nftLoss(NftLossConfig.DEFAULTS, in, true).grad();
            bh.consume(g);
        }
        traffic.bytes += bytes;
    }
}
