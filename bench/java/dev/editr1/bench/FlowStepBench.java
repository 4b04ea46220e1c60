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
import dev.editr1.kernels.FlowStepInputs;
import dev.editr1.kernels.FlowStepOutputs;
import dev.editr1.kernels.FlowStepParams;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.Tensors;

/**
 * The fused sampler step vs. the same math composed from libtorch ops.
 * <ul>
 *   <li>euler: x' = x + (σ' − σ)·v. Minimum bytes 3·n·s (read x, v; write x').</li>
 *   <li>dpm2m_cfg: CFG (w = 4.5), x̂0, the DPM-Solver++(2M) update with m1, x̂0 written.
 *       Minimum bytes 6·n·s (read x, v_c, v_u, m1; write x', x̂0).</li>
 * </ul>
 * Shapes: an SD3 latent at 512 px (12 × 16×64×64) and a packed FLUX/Qwen latent (12 × 1024×64).
 * Outputs as the Sampler writes them: x' over x, x̂0 over m1 (in place, no allocation per call;
 * the composed version computes into temporaries and copies back, as a user's in-place step would).
 * impl = java: the same step as a plain Java loop over heap arrays ({@link JavaLoops}), with the
 * kernel's finiteness flags; java_unchecked: the same loop without them (what C2 can vectorize).
 * Both are checked against the native kernel in setup.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
public class FlowStepBench {
    @Param({"native", "torch", "java", "java_unchecked"})
    public String impl;

    @Param({"12x16x64x64", "12x1024x64"})
    public String shape;

    @Param({"f32", "bf16"})
    public String dtype;

    @Param({"euler", "dpm2m_cfg"})
    public String step;

    KernelOps ops;
    FlowStepParams params;
    FlowStepInputs in;
    FlowStepOutputs out;
    long bytes;
    int rows;
    JavaLoops.Arr jx, jvc, jvu, jm1;
    boolean checked;

    @Setup
    public void setUp() {
        ops = BenchSupport.ops(impl.startsWith("java") ? "native" : impl);
        DType dt = DType.parse(dtype);
        long[] s = BenchSupport.shape(shape);
        rows = (int) s[0];
        Tensor x = BenchSupport.random(1, dt, s), vc = BenchSupport.random(2, dt, s);
        long n = BenchSupport.numel(s);
        if (step.equals("euler")) {
            params = FlowStepParams.euler(0.5, 0.3);
            in = FlowStepInputs.of(x, vc);
            out = FlowStepOutputs.inPlace(x);
            bytes = 3 * n * dt.bytes;
        } else {
            params = FlowStepParams.dpmSolver2M(0.7, 0.5, 0.3).withGuidance(4.5, 0);
            Tensor m1 = BenchSupport.random(4, dt, s);
            in = FlowStepInputs.of(x, vc).withUncond(BenchSupport.random(3, dt, s)).withPrevX0(m1);
            out = FlowStepOutputs.inPlace(x).withX0Into(m1);
            bytes = 6 * n * dt.bytes;
        }
        if (impl.startsWith("java")) setUpJava(dt);
    }

    /** Heap copies of the inputs; one Java step on copies must match one native step. */
    private void setUpJava(DType dt) {
        checked = impl.equals("java");
        JavaLoops.Arr[] a = javaInputs(dt), b = javaInputs(dt);
        jx = a[0]; jvc = a[1]; jvu = a[2]; jm1 = a[3];
        try (PointerScope scope = new PointerScope()) {
            Tensor x = in.x().clone(), m1 = in.x0Prev() != null ? in.x0Prev().clone() : null;
            FlowStepInputs cin = FlowStepInputs.of(x, in.vCond());
            FlowStepOutputs cout = FlowStepOutputs.inPlace(x);
            if (m1 != null) {
                cin = cin.withUncond(in.vUncond()).withPrevX0(m1);
                cout = cout.withX0Into(m1);
            }
            ops.flowStep(params, cin, cout);
            if (!JavaLoops.flowStep(params, rows, b[0], b[1], b[2], b[3], checked))
                throw new IllegalStateException("java flow step: non-finite values on finite inputs");
            double tol = dt == DType.F32 ? 1e-6 : 1e-2;  // one bf16 ulp is 2^-8 relative
            JavaLoops.requireClose("flow step x'", JavaLoops.values(b[0]), Tensors.toFloats(x), tol);
            if (m1 != null) JavaLoops.requireClose("flow step x̂0", JavaLoops.values(b[3]), Tensors.toFloats(m1), tol);
        }
    }

    private JavaLoops.Arr[] javaInputs(DType dt) {
        return new JavaLoops.Arr[] {JavaLoops.Arr.of(in.x(), dt), JavaLoops.Arr.of(in.vCond(), dt),
            in.vUncond() != null ? JavaLoops.Arr.of(in.vUncond(), dt) : null,
            in.x0Prev() != null ? JavaLoops.Arr.of(in.x0Prev(), dt) : null};
    }

    @Benchmark
    public void step(BenchSupport.Traffic traffic, BenchSupport.Load load, Blackhole bh) {
        if (jx != null) {
            bh.consume(JavaLoops.flowStep(params, rows, jx, jvc, jvu, jm1, checked));
            traffic.bytes += bytes;
            return;
        }
        try (PointerScope scope = new PointerScope()) {
            bh.consume(ops.flowStep(params, in, out).x());
        }
        traffic.bytes += bytes;
    }
}
