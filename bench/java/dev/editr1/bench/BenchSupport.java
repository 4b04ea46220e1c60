package dev.editr1.bench;

import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import dev.editr1.kernels.DType;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NativeOps;
import dev.editr1.kernels.Tensors;
import dev.editr1.kernels.TorchOps;

/** What the kernel benchmarks share: the implementation under test, inputs, and the byte counter. */
public final class BenchSupport {
    private BenchSupport() {}

    static {
        // as the CLI does: JavaCPP's per-allocation accounting off (it costs more than small ops)
        if (System.getProperty("org.bytedeco.javacpp.maxBytes") == null) System.setProperty("org.bytedeco.javacpp.maxBytes", "0");
        if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null)
            System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
    }

    /**
     * Bytes moved per operation, counted by JMH as a secondary "bytes" rate (bytes/s): the kernel's
     * minimum traffic (each input read once, each output written once), whatever the implementation.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Traffic {
        public long bytes;

        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    /**
     * native: the fused kernels through the Java façade (the CPU path validates finiteness for free);
     * torch: the same math composed from libtorch ops, without the façade's extra finiteness passes.
     */
    static KernelOps ops(String impl) {
        return switch (impl) {
            case "native" -> new NativeOps(false);
            case "torch" -> new TorchOps(false);
            default -> throw new IllegalArgumentException("impl must be native or torch, got " + impl);
        };
    }

    /** shape strings: "12x16x64x64" */
    static long[] shape(String s) {
        String[] p = s.split("x");
        long[] out = new long[p.length];
        for (int i = 0; i < p.length; i++) out[i] = Long.parseLong(p[i]);
        return out;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    static Tensor random(long seed, DType dt, long... shape) {
        int n = (int) numel(shape);
        SplittableRandom r = new SplittableRandom(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensors.fromFloats(f, shape).to(dt.scalarType);
    }
}
