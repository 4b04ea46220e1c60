package dev.editr1.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/** {@link Layers#conv2d} against a double-precision convolution of the same (exactly widened) operands. */
class LayersTest {
    /** libtorch's convolution in double precision (ATen's own kernel: oneDNN has no f64 path) of the operands widened. */
    static Tensor reference(Tensor x, Tensor w, Tensor b, long stride, long pad) {
        return torch.conv2d(x.to(ScalarType.Double), w.to(ScalarType.Double),
                b == null ? new TensorOptional() : new TensorOptional(b.to(ScalarType.Double)), new long[] {stride, stride},
                new long[] {pad, pad}, new long[] {1, 1}, 1);
    }

    /**
     * Channel counts that are and are not multiples of 16, 1×1 and 3×3 kernels, stride 2, f32 and
     * bf16. libtorch's oneDNN convolution fails this on AVX-512 CPUs (Zen 5: f32 20→16 at batch 2 off by
     * 3.8 on outputs up to 10; bf16 3→8, 8→3, 12→20, 20→16 off by 1.8-3.9); Layers.conv2d must not.
     */
    @Test
    void convolutionMatchesDoubleReferenceInF32AndBf16() {
        torch.manual_seed(7);
        StringBuilder report = new StringBuilder();
        boolean ok = true;
        try (NoGradGuard g = new NoGradGuard()) {
            for (ScalarType dt : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16})
                for (long k : new long[] {1, 3})
                    for (long[] io : new long[][] {{3, 8}, {8, 3}, {20, 16}, {16, 32}, {12, 20}})
                        for (long stride : new long[] {1, 2}) {
                            Tensor x = torch.randn(2, io[0], 9, 14).to(dt);
                            Tensor w = torch.randn(io[1], io[0], k, k).mul(new Scalar(0.2)).to(dt);
                            Tensor b = torch.randn(io[1]).to(dt);
                            long pad = k / 2;
                            Tensor y = Layers.conv2d(x, w, b, stride, pad);
                            assertEquals(dt, y.scalar_type().intern());
                            Tensor ref = reference(x, w, b, stride, pad);
                            assertArrayEquals(ref.sizes().vec().get(), y.sizes().vec().get());
                            // bf16: one rounding of the output (2^-8 relative) plus f32 accumulation; f32: accumulation only
                            double rel = dt == ScalarType.BFloat16 ? Math.pow(2, -8) : 1e-6;
                            Tensor err = y.to(ScalarType.Double).sub(ref).abs();
                            Tensor bound = ref.abs().mul(new Scalar(rel)).add(new Scalar(1e-5));
                            double worst = err.sub(bound).max().item_double();
                            double scale = ref.abs().max().item_double();
                            if (worst > 0) {
                                ok = false;
                                report.append(String.format("%n  %s k=%d %d->%d stride %d: worst |err| %.3g over the bound (outputs up to %.3g)",
                                        dt, k, io[0], io[1], stride, err.max().item_double(), scale));
                            }
                        }
        }
        assertTrue(ok, "Layers.conv2d is off the double-precision convolution:" + report);
    }

    /** The gradients with respect to input, weight and bias (f32) against the double-precision ones. */
    @Test
    void gradientsMatchDoubleReference() {
        torch.manual_seed(11);
        Tensor x0 = torch.randn(2, 20, 7, 9), w0 = torch.randn(16, 20, 3, 3).mul(new Scalar(0.2)), b0 = torch.randn(16);
        Tensor r = torch.randn(2, 16, 4, 5);
        Tensor[][] grads = new Tensor[2][];
        for (int i = 0; i < 2; i++) {
            ScalarType dt = i == 0 ? ScalarType.Float : ScalarType.Double;
            Tensor x = x0.to(dt).detach().requires_grad_(true), w = w0.to(dt).detach().requires_grad_(true),
                    b = b0.to(dt).detach().requires_grad_(true);
            Tensor y = i == 0 ? Layers.conv2d(x, w, b, 2, 1) : reference(x, w, b, 2, 1);
            y.mul(r.to(dt)).sum().backward();
            grads[i] = new Tensor[] {x.grad(), w.grad(), b.grad()};
        }
        String[] names = {"input", "weight", "bias"};
        for (int j = 0; j < 3; j++) {
            Tensor ref = grads[1][j];
            double err = grads[0][j].to(ScalarType.Double).sub(ref).abs().max().item_double();
            double scale = ref.abs().max().item_double();
            assertTrue(err <= 1e-5 * scale + 1e-5, "gradient w.r.t. " + names[j] + ": |err| " + err + " on values up to " + scale);
        }
    }

    @Test
    void noBiasAndBf16OnCpuKeepTheInputDtype() {
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor x = torch.randn(1, 3, 5, 5).to(ScalarType.BFloat16), w = torch.randn(4, 3, 3, 3).to(ScalarType.BFloat16);
            Tensor y = Layers.conv2d(x, w, null, 1, 1);
            assertEquals(ScalarType.BFloat16, y.scalar_type().intern());
            Tensor ref = reference(x, w, null, 1, 1);
            assertTrue(y.to(ScalarType.Double).sub(ref).abs().max().item_double() <= Math.pow(2, -8) * ref.abs().max().item_double());
        }
    }
}
