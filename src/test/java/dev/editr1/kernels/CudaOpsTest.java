package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Tensor façade on CUDA tensors (libtorch's current stream) against the same calls on CPU
 * tensors. Runs only where libeditr1 has its CUDA path, a device answers and libtorch has CUDA
 * (a GPU box with {@code mvn -Pgpu verify}); skipped elsewhere. The kernels themselves are checked
 * on a GPU by bench/gpu/check.sh, which needs no Java.
 */
class CudaOpsTest {
    static final NativeOps OPS = new NativeOps(true);
    static Device cuda;

    @BeforeEach
    void needsCuda() {
        Backend.Probe p = Backend.probe();
        assumeTrue(p.cudaUsable(), "CUDA not usable here: " + p.whyNot());
        cuda = new Device(torch.DeviceType.CUDA, (byte) 0);
    }

    static Tensor onCuda(Tensor t) {
        return t.to(cuda, Tensors.scalarType(t));
    }

    @Test
    void noiseIsBitIdenticalToTheCpu() {
        NoiseKey key = new NoiseKey(42, 3, 1);
        for (DType dt : DType.values()) {
            float[] cpu = Tensors.toFloats(OPS.noise(key, dt, Tensors.cpu(), 5, 1025));
            float[] gpu = Tensors.toFloats(OPS.noise(key, dt, cuda, 5, 1025));
            assertArrayEquals(cpu, gpu, dt.label());
        }
    }

    @Test
    void flowStepMatchesTheCpu() {
        SplittableRandom rng = new SplittableRandom(1);
        int rows = 3, d = 65539;
        Tensor x = Tensors.fromFloats(TestData.normal(rng, rows * d, 1), rows, d);
        Tensor v = Tensors.fromFloats(TestData.normal(rng, rows * d, 1), rows, d);
        FlowStepParams p = FlowStepParams.sde(0.5, 0.3, 0.9, 0.7, NoiseKey.of(9));
        FlowStepResult c = OPS.flowStep(p, FlowStepInputs.of(x, v), FlowStepOutputs.fresh().withX0().withLogProb());
        FlowStepResult g = OPS.flowStep(p, FlowStepInputs.of(onCuda(x), onCuda(v)), FlowStepOutputs.fresh().withX0().withLogProb());
        assertTrue(g.x().is_cuda());
        Tolerance.close("cuda x'", TestData.d(Tensors.toFloats(c.x())), Tensors.toFloats(g.x()), 1e-5, 1e-5);
        Tolerance.close("cuda log-prob", TestData.d(Tensors.toFloats(c.logProb())), Tensors.toFloats(g.logProb()), 1e-4, 1e-4);
    }

    @Test
    void nftLossAndLogitScoreMatchTheCpu() {
        SplittableRandom rng = new SplittableRandom(2);
        int rows = 4, d = 1025;
        Tensor[] a = new Tensor[5];
        for (int i = 0; i < 5; i++) a[i] = Tensors.fromFloats(TestData.normal(rng, rows * d, 1), rows, d);
        NftLossInputs in = new NftLossInputs(a[0], a[1], false, a[2], a[3], a[4], TestData.f32(0.02f, 0.5f, 1, 0.7f),
                TestData.f32(0, 0.5f, 1, 0.83f), TestData.f32(1, 1, 1, 0));
        NftLossInputs gin = new NftLossInputs(onCuda(a[0]), onCuda(a[1]), false, onCuda(a[2]), onCuda(a[3]), onCuda(a[4]),
                onCuda(in.t()), onCuda(in.r()), onCuda(in.valid()));
        NftLossResult c = OPS.nftLoss(NftLossConfig.DEFAULTS, in, true);
        NftLossResult g = OPS.nftLoss(NftLossConfig.DEFAULTS, gin, true);
        Tolerance.close("cuda loss", TestData.d(Tensors.toFloats(c.loss())), Tensors.toFloats(g.loss()), 1e-6, 1e-4);
        Tolerance.close("cuda grad", TestData.d(Tensors.toFloats(c.grad())), Tensors.toFloats(g.grad()), 1e-7, 1e-4);

        Tensor logits = Tensors.fromFloats(TestData.normal(rng, 3 * 151_936, 3), 3, 151_936);
        LogitScoreResult sc = OPS.logitScore(logits, ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED);
        LogitScoreResult sg = OPS.logitScore(onCuda(logits), ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED);
        Tolerance.close("cuda score", TestData.d(Tensors.toFloats(sc.score())), Tensors.toFloats(sg.score()), 1e-6, 1e-5);
        Tolerance.close("cuda mass", TestData.d(Tensors.toFloats(sc.mass())), Tensors.toFloats(sg.mass()), 1e-9, 1e-4);
    }

    @Test
    void nonFiniteInputsOnCudaAreNamed() {
        float[] f = TestData.normal(new SplittableRandom(3), 2 * 97, 1);
        f[100] = Float.NaN;
        Tensor x = onCuda(Tensors.fromFloats(new float[2 * 97], 2, 97));
        Tensor v = onCuda(Tensors.fromFloats(f, 2, 97));
        KernelException e = assertThrows(KernelException.class,
                () -> OPS.flowStep(FlowStepParams.euler(0.5, 0.3), FlowStepInputs.of(x, v), FlowStepOutputs.fresh()));
        assertTrue(e.getMessage().contains("vCond") && !e.getMessage().contains("output"), e.getMessage());
    }

    @Test
    void mixedDevicesAreRejected() {
        Tensor x = Tensors.fromFloats(new float[4], 2, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OPS.flowStep(FlowStepParams.euler(0.5, 0.3), FlowStepInputs.of(x, onCuda(x)), FlowStepOutputs.fresh()));
        assertTrue(e.getMessage().contains("cuda:0") && e.getMessage().contains("cpu"), e.getMessage());
    }
}
