package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Philox-4x32-10, Box–Muller and the noise / forward-process kernel (SPEC §3). */
class PhiloxNoiseTest {
    static final NativeOps NATIVE = new NativeOps(true);

    /** Random123's published known-answer vectors (also SPEC §3). */
    static final int[][][] KAT = {
            {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
            {{-1, -1, -1, -1}, {-1, -1}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
            {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
                    {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}};

    @Test
    void philoxKnownAnswers() {
        for (int[][] v : KAT) {
            int[] out = new int[4];
            Editr1Native.editr1_philox4x32_10(v[0], v[1], out);
            assertArrayEquals(v[2], out, "libeditr1 Philox");
            assertArrayEquals(v[2], Reference.philox(v[0], v[1]), "Java reference Philox");
        }
    }

    @Test
    void boxMullerMatchesDoubleReference() {
        SplittableRandom rng = new SplittableRandom(7);
        double worst = 0;
        for (int i = 0; i < 50_000; i++) {
            int[] bits = {rng.nextInt(), rng.nextInt(), rng.nextInt(), rng.nextInt()};
            if (i == 0) bits = new int[] {0, 0, -1, -1}; // the extreme u0 values
            float[] out = new float[4];
            Editr1Native.editr1_box_muller4(bits, out);
            double[] ref = Reference.boxMuller(bits);
            for (int j = 0; j < 4; j++) {
                assertTrue(Float.isFinite(out[j]));
                worst = Math.max(worst, Math.abs(out[j] - ref[j]) / (1 + Math.abs(ref[j])));
            }
        }
        assertTrue(worst < 4e-6, "Box–Muller relative error " + worst);
    }

    /**
     * The bulk Box–Muller codes (baseline loop, AVX2 and AVX-512F registers, noise_simd.h) against
     * the definition (kernel_math.h's box_muller4), bit for bit, over every input they can see:
     * u0 takes 2^23 values (the word's top 23 bits) and u1 2^24 (its top 24). Block j carries
     * u0 = j and u1 = 2j in its first pair, u0 = 2^23 − 1 − j and u1 = 2j + 1 in its second, with
     * the low bits that Box–Muller drops set to junk. Each path this processor runs is checked;
     * the ones editr1_cpu_isa() names must run.
     */
    @Test
    void bulkBoxMullerEqualsTheDefinitionForEveryInput() {
        String isa = Editr1Native.editr1_cpu_isa();
        List<Integer> paths = new ArrayList<>(List.of(1));
        if (isa.contains("AVX2")) paths.add(2);
        if (isa.contains("AVX-512F")) paths.add(3);
        final int total = 1 << 23, chunk = 1 << 20;
        int[] words = new int[4 * chunk];
        float[] want = new float[4 * chunk], got = new float[4 * chunk];
        for (int start = 0; start < total; start += chunk) {
            for (int i = 0; i < chunk; i++) {
                int j = start + i;
                words[4 * i] = (j << 9) | (j * 37 & 511);
                words[4 * i + 1] = ((2 * j) << 8) | (j & 255);
                words[4 * i + 2] = ((total - 1 - j) << 9) | 0x1ff;
                words[4 * i + 3] = (2 * j + 1) << 8;
            }
            assertEquals(0, Editr1Native.editr1_box_muller_blocks(words, chunk, want, 0));
            for (int path : paths) {
                Arrays.fill(got, Float.NaN);
                assertEquals(0, Editr1Native.editr1_box_muller_blocks(words, chunk, got, path), "path " + path + " on " + isa);
                for (int k = 0; k < got.length; k++) {
                    if (Float.floatToRawIntBits(got[k]) != Float.floatToRawIntBits(want[k])) {
                        int i = k / 4;
                        throw new AssertionError(String.format(
                                "path %d: block %d normal %d (words %08x %08x %08x %08x) gave %s, the definition %s",
                                path, start + i, k % 4, words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3],
                                Float.toHexString(got[k]), Float.toHexString(want[k])));
                    }
                }
            }
        }
        // the entry point refuses a path this processor cannot run instead of running another
        if (!isa.contains("AVX-512F")) {
            assertEquals(1, Editr1Native.editr1_box_muller_blocks(new int[4], 1, new float[4], 3));
        }
        assertEquals(1, Editr1Native.editr1_box_muller_blocks(new int[4], 1, new float[4], 4));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 97, 1025, 65536 + 3})
    void noiseMatchesReferenceAtOddLengths(int d) {
        NoiseKey key = new NoiseKey(0x1234_5678_9abcL, 5, 3);
        int rows = 3;
        float[] got = TestData.floats(NATIVE.noise(key, DType.F32, Tensors.cpu(), rows, d));
        Tolerance.close("noise d=" + d, Reference.noiseRows(key, rows, d), got, 1e-5, 4e-6);
        // and bit for bit what the single-block helper gives: everywhere up to 1025, else at a few positions
        long[] positions = d <= 1025 ? java.util.stream.LongStream.range(0, d).toArray() : new long[] {0, d - 1, d / 2};
        for (int b = 0; b < rows; b++) {
            for (long e : positions) {
                long row = key.rowOffset() + b, q = e >>> 2;
                int[] bits = new int[4];
                Editr1Native.editr1_philox4x32_10(new int[] {(int) q, (int) row, (int) (row >>> 32), key.stream()},
                        new int[] {(int) key.seed(), (int) (key.seed() >>> 32)}, bits);
                float[] n = new float[4];
                Editr1Native.editr1_box_muller4(bits, n);
                assertEquals(Float.floatToRawIntBits(n[(int) (e & 3)]), Float.floatToRawIntBits(got[(int) (b * d + e)]));
            }
        }
    }

    @Test
    void rowOffsetSelectsTheSameNoiseAndStreamsDiffer() {
        NoiseKey key = NoiseKey.of(99);
        float[] all = TestData.floats(NATIVE.noise(key, DType.F32, Tensors.cpu(), 4, 333));
        float[] tail = TestData.floats(NATIVE.noise(key.withRowOffset(2), DType.F32, Tensors.cpu(), 2, 333));
        for (int i = 0; i < tail.length; i++) assertEquals(all[2 * 333 + i], tail[i], 0.0);
        float[] other = TestData.floats(NATIVE.noise(key.withStream(1), DType.F32, Tensors.cpu(), 4, 333));
        int same = 0;
        for (int i = 0; i < all.length; i++) if (all[i] == other[i]) same++;
        assertTrue(same < 3, "streams 0 and 1 share " + same + " values");
    }

    /** Row ids key each row's ε by a sample id: the same bits as that row drawn at its offset, in any order. */
    @ParameterizedTest
    @EnumSource(DType.class)
    void rowIdsKeyTheForwardProcessBySample(DType dt) {
        NoiseKey key = new NoiseKey(41, 0, 7);
        int d = 1025;
        long[] ids = {900, 3, 1L << 40, 4};
        Tensor x0 = TestData.tensor(TestData.normal(new SplittableRandom(3), ids.length * d, 1.0), dt, ids.length, d);
        Tensor t = TestData.f32(0.3f, 1f, 0.02f, 0.6f);
        ForwardResult keyed = NATIVE.forwardProcess(key, Tensors.fromLongs(ids, Tensors.cpu()), x0, t, true);
        float[] eps = TestData.floats(keyed.eps()), xt = TestData.floats(keyed.xt());
        for (int b = 0; b < ids.length; b++) {
            Tensor row = x0.narrow(0, b, 1).contiguous();
            ForwardResult one = NATIVE.forwardProcess(key.withRowOffset(ids[b]), row, t.narrow(0, b, 1).contiguous(), true);
            float[] e1 = TestData.floats(one.eps()), x1 = TestData.floats(one.xt());
            for (int i = 0; i < d; i++) {
                assertEquals(Float.floatToRawIntBits(e1[i]), Float.floatToRawIntBits(eps[b * d + i]), "ε row " + b + " element " + i);
                assertEquals(Float.floatToRawIntBits(x1[i]), Float.floatToRawIntBits(xt[b * d + i]), "x_t row " + b + " element " + i);
            }
        }
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> NATIVE.forwardProcess(key, Tensors.fromLongs(new long[] {1, 2}, Tensors.cpu()), x0, t, true));
    }

    @Test
    void noiseIsIndependentOfThreadCount() {
        NoiseKey key = NoiseKey.of(5);
        int before = Editr1Native.editr1_cpu_threads();
        try {
            Editr1Native.editr1_set_cpu_threads(1);
            float[] one = TestData.floats(NATIVE.noise(key, DType.F32, Tensors.cpu(), 7, 9000));
            Editr1Native.editr1_set_cpu_threads(Math.max(2, before));
            float[] many = TestData.floats(NATIVE.noise(key, DType.F32, Tensors.cpu(), 7, 9000));
            assertArrayEquals(one, many);
        } finally {
            Editr1Native.editr1_set_cpu_threads(0);
        }
    }

    @Test
    void noiseStatistics() {
        float[] z = TestData.floats(NATIVE.noise(NoiseKey.of(2024), DType.F32, Tensors.cpu(), 16, 65536));
        double s = 0, s2 = 0, s4 = 0;
        for (float v : z) {
            s += v;
            s2 += (double) v * v;
            s4 += (double) v * v * v * v;
        }
        double n = z.length, mean = s / n, var = s2 / n - mean * mean;
        assertEquals(0.0, mean, 0.004, "mean");
        assertEquals(1.0, var, 0.006, "variance");
        assertEquals(3.0, s4 / n, 0.05, "fourth moment");
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void lowPrecisionNoiseIsTheRoundedF32Noise(DType dt) {
        NoiseKey key = NoiseKey.of(11);
        float[] f = TestData.floats(NATIVE.noise(key, DType.F32, Tensors.cpu(), 3, 1025));
        float[] low = TestData.floats(NATIVE.noise(key, dt, Tensors.cpu(), 3, 1025));
        assertArrayEquals(TestData.rounded(f, dt), low);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void forwardProcessMatchesReference(DType dt) {
        SplittableRandom rng = new SplittableRandom(3);
        for (int d : TestData.ODD_LENGTHS) {
            int rows = 4;
            float[] x0 = TestData.rounded(TestData.normal(rng, rows * d, 1.0), dt);
            float[] t = {0.0f, 0.02f, 0.5f, 1.0f};
            NoiseKey key = new NoiseKey(77, 10, 2);
            ForwardResult r = NATIVE.forwardProcess(key, TestData.tensor(x0, dt, rows, d), TestData.f32(t), true);
            float[] eps = TestData.floats(r.eps());
            float[] epsF32 = TestData.floats(NATIVE.noise(key, DType.F32, Tensors.cpu(), rows, d));
            assertArrayEquals(TestData.rounded(epsF32, dt), eps, "ε written by the forward process is the key's noise");
            double[] ref = new double[rows * d];
            for (int b = 0; b < rows; b++)
                for (int e = 0; e < d; e++) {
                    int i = b * d + e;
                    ref[i] = (1 - (double) t[b]) * x0[i] + t[b] * (double) epsF32[i];
                }
            float[] xt = TestData.floats(r.xt());
            if (dt == DType.F32) {
                Tolerance.close("forward d=" + d, ref, xt, 1e-6, 1e-6);
            } else {
                double ulp = dt == DType.BF16 ? 0x1p-8 : 0x1p-11;
                Tolerance.close("forward d=" + d + " " + dt, ref, xt, 1e-6, ulp);
            }
            // t = 0 is the data itself, t = 1 the noise itself
            for (int e = 0; e < d; e++) {
                assertEquals(x0[e], xt[e], 0.0);
                assertEquals(eps[3 * d + e], xt[3 * d + e], 0.0);
            }
        }
    }

    @Test
    void cudaNormalsAreBitIdenticalToCpu() {
        assumeTrue(Editr1Native.editr1_cuda_built() == 1 && Editr1Native.editr1_cuda_device_count() > 0,
                "no CUDA device: " + Editr1Native.editr1_cuda_error_string());
        SplittableRandom rng = new SplittableRandom(1);
        for (int i = 0; i < 2000; i++) {
            int[] ctr = {rng.nextInt(), rng.nextInt(), rng.nextInt(), rng.nextInt()};
            int[] key = {rng.nextInt(), rng.nextInt()};
            if (i < KAT.length) {
                ctr = KAT[i][0];
                key = KAT[i][1];
            }
            int[] cpuBits = new int[4], gpuBits = new int[4];
            float[] cpuN = new float[4], gpuN = new float[4];
            Editr1Native.editr1_philox4x32_10(ctr, key, cpuBits);
            Editr1Native.editr1_box_muller4(cpuBits, cpuN);
            assertEquals(0, Editr1Native.editr1_philox_normals_cuda(ctr, key, gpuBits, gpuN),
                    Editr1Native.editr1_last_error());
            assertArrayEquals(cpuBits, gpuBits);
            for (int j = 0; j < 4; j++)
                assertEquals(Float.floatToRawIntBits(cpuN[j]), Float.floatToRawIntBits(gpuN[j]), "normal " + j);
        }
    }

    @Test
    void forwardProcessRejectsBadTime() {
        Tensor x0 = TestData.tensor(new float[] {1, 2, 3, 4}, DType.F32, 2, 2);
        KernelException e = org.junit.jupiter.api.Assertions.assertThrows(KernelException.class,
                () -> NATIVE.forwardProcess(NoiseKey.of(1), x0, TestData.f32(0.5f, 1.5f), false));
        assertTrue(e.getMessage().contains("t"), e.getMessage());
        assertFalse(e.getMessage().isEmpty());
    }
}
