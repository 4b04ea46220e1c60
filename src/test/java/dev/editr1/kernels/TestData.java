package dev.editr1.kernels;

import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;

/** Seeded inputs for kernel tests, and conversions between Java arrays and tensors. */
final class TestData {
    private TestData() {}

    /** Row lengths that are not multiples of any vector width (and one that is large). */
    static final int[] ODD_LENGTHS = {1, 97, 1025, 65536 + 3};

    /** Normal values, a few of them scaled by 20 so rows are not uniform (llm.c's trick). */
    static float[] normal(SplittableRandom rng, int n, double scale) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            double g = gaussian(rng) * scale;
            if (rng.nextInt(97) == 0) g *= 20;
            f[i] = (float) g;
        }
        return f;
    }

    static double gaussian(SplittableRandom rng) {
        double u = 1.0 - rng.nextDouble(), v = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    /** values rounded through dtype: what the kernel actually reads */
    static float[] rounded(float[] f, DType d) {
        return Tensors.roundTrip(f, d);
    }

    static Tensor tensor(float[] f, DType d, long... shape) {
        return Tensors.fromFloats(f, shape).to(d.scalarType);
    }

    static Tensor f32(float... f) {
        return Tensors.fromFloats(f, f.length);
    }

    static float[] floats(Tensor t) {
        return Tensors.toFloats(t);
    }

    static double[] d(float[] f) {
        return Tolerance.toDouble(f);
    }
}
