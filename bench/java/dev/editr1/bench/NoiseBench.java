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
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;

/**
 * Counter-based noise and the forward process. native: Philox-4x32-10 + Box–Muller (bit-identical
 * to CUDA); torch: torch.randn from a seeded generator (what a user would write; not the same
 * numbers). Minimum bytes: noise n·s (write ε); forward 3·n·s (read x0; write x_t and ε).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
public class NoiseBench {
    @Param({"native", "torch"})
    public String impl;

    @Param({"12x16x64x64"})
    public String shape;

    @Param({"f32", "bf16"})
    public String dtype;

    @Param({"noise", "forward"})
    public String op;

    KernelOps ops;
    DType dt;
    long[] s;
    Tensor x0, t;
    long bytes;
    long counter;

    @Setup
    public void setUp() {
        ops = BenchSupport.ops(impl);
        dt = DType.parse(dtype);
        s = BenchSupport.shape(shape);
        x0 = BenchSupport.random(1, dt, s);
        float[] tv = new float[(int) s[0]];
        for (int i = 0; i < tv.length; i++) tv[i] = (i + 0.5f) / tv.length;
        t = Tensors.fromFloats(tv, tv.length);
        long n = BenchSupport.numel(s);
        bytes = (op.equals("noise") ? 1 : 3) * n * dt.bytes;
    }

    @Benchmark
    public void draw(BenchSupport.Traffic traffic, BenchSupport.Load load, Blackhole bh) {
        NoiseKey key = new NoiseKey(7, 0, (int) (counter++ & 0xffff));
        try (PointerScope scope = new PointerScope()) {
            if (op.equals("noise")) bh.consume(ops.noise(key, dt, Tensors.cpu(), s));
            else bh.consume(ops.forwardProcess(key, x0, t, true).xt());
        }
        traffic.bytes += bytes;
    }
}
