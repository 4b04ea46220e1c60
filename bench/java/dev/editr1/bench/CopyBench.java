package dev.editr1.bench;

import java.util.concurrent.TimeUnit;

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

import dev.editr1.kernels.Tensors;

/**
 * The machine's ceiling, measured in the same run: libtorch's tensor copy (dst.copy_(src), its
 * threads) moving {@code mb} megabytes in all — half read, half written — the sizes the kernel
 * benchmarks move. bytes/s here is what "% of copy" divides by.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
public class CopyBench {
    /** total bytes moved per copy, in MB (10^6) */
    @Param({"4.7", "9.4", "18.9", "28.3", "87.5", "175.0"})
    public String mb;

    Tensor src, dst;
    long bytes;

    @Setup
    public void setUp() {
        long half = (long) (Double.parseDouble(mb) * 1e6 / 2) / 4 * 4;
        src = BenchSupport.random(1, dev.editr1.kernels.DType.F32, half / 4);
        dst = Tensors.empty(org.bytedeco.pytorch.global.torch.ScalarType.Float, Tensors.cpu(), half / 4);
        bytes = 2 * half;
    }

    @Benchmark
    public void copy(BenchSupport.Traffic traffic) {
        dst.copy_(src);
        traffic.bytes += bytes;
    }
}
