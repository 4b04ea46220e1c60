package dev.editr1.bench;

import java.util.stream.IntStream;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.DType;
import dev.editr1.kernels.FlowStepParams;
import dev.editr1.kernels.ScoreTokens;
import dev.editr1.kernels.Tensors;

/**
 * The benchmarks' {@code impl = java}: the kernels' math as plain Java loops over heap arrays, what
 * a user without native code would write. Rows run in parallel on the common fork-join pool (the
 * fused kernels use every core too). Only where a plain loop fits: the flow step (deterministic
 * steps) and the logit score; the noise (Philox-4x32-10 + Box–Muller) and the NFT loss are not
 * repeated in Java.
 *
 * <p>Each benchmark checks its Java loop against the native kernel once in its setup, before any
 * timing: a fast wrong loop measures nothing.
 */
final class JavaLoops {
    private JavaLoops() {}

    /** One tensor's values on the Java heap: f32 as float[], bf16 as its bits in short[]. */
    abstract static sealed class Arr permits F32, Bf16 {
        abstract float get(int i);

        abstract void set(int i, float v);

        abstract int length();

        /** A copy of a CPU tensor of dtype dt. */
        static Arr of(Tensor t, DType dt) {
            float[] f = Tensors.toFloats(t);
            return switch (dt) {
                case F32 -> new F32(f);
                case BF16 -> {
                    Bf16 h = new Bf16(new short[f.length]);
                    for (int i = 0; i < f.length; i++) h.set(i, f[i]);  // exact: the values are bf16 already
                    yield h;
                }
                default -> throw new IllegalArgumentException("java loops: f32 or bf16, got " + dt);
            };
        }
    }

    static final class F32 extends Arr {
        final float[] a;

        F32(float[] a) {
            this.a = a;
        }

        @Override
        float get(int i) {
            return a[i];
        }

        @Override
        void set(int i, float v) {
            a[i] = v;
        }

        @Override
        int length() {
            return a.length;
        }
    }

    /** bf16 bits: widening is a shift; narrowing rounds to nearest even, NaN stays a quiet NaN (as the kernels). */
    static final class Bf16 extends Arr {
        final short[] a;

        Bf16(short[] a) {
            this.a = a;
        }

        @Override
        float get(int i) {
            return Float.intBitsToFloat((a[i] & 0xffff) << 16);
        }

        @Override
        void set(int i, float v) {
            int u = Float.floatToRawIntBits(v);
            a[i] = (short) ((u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 0x40 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16);
        }

        @Override
        int length() {
            return a.length;
        }
    }

    /**
     * A deterministic step in place, as the Sampler writes it (SPEC §3): v = vu + w·(vc − vu) (vc
     * alone without vu), x̂0 = x − σ·v, x' = cX·x + cV·v + cX0·x̂0 + cPrevX0·m1; x' over x, x̂0
     * over m1 when m1 is given. f32 arithmetic in the kernels' order. With {@code check}, returns
     * false when an input or output is not finite (the fused kernels' flags; v − v is 0 only for a
     * finite v); without it, the loop a user would write first (and C2 can vectorize), always true.
     * {@code vu} and {@code m1} are null when absent.
     */
    static boolean flowStep(FlowStepParams p, int rows, Arr x, Arr vc, Arr vu, Arr m1, boolean check) {
        final int d = x.length() / rows;
        final float w = (float) p.guidance(), sigma = (float) p.sigma(), cx = (float) p.cX(), cv = (float) p.cV(),
                cx0 = (float) p.cX0(), cm = (float) p.cPrevX0();
        if (!check) {
            IntStream.range(0, rows).parallel().forEach(r -> {
                for (int i = r * d, e = i + d; i < e; i++) {
                    float c = vc.get(i), xv = x.get(i), v = vu != null ? vu.get(i) + w * (c - vu.get(i)) : c;
                    float x0 = xv - sigma * v;
                    x.set(i, cx * xv + cv * v + cx0 * x0 + cm * (m1 != null ? m1.get(i) : 0f));
                    if (m1 != null) m1.set(i, x0);
                }
            });
            return true;
        }
        // every row is stepped (allMatch would stop at the first bad row)
        return IntStream.range(0, rows).parallel().map(r -> {
            boolean bad = false;
            for (int i = r * d, e = i + d; i < e; i++) {
                float c = vc.get(i), xv = x.get(i), v = c, u = 0f;
                if (vu != null) {
                    u = vu.get(i);
                    v = u + w * (c - u);
                }
                float m = m1 != null ? m1.get(i) : 0f;
                float x0 = xv - sigma * v;
                float next = cx * xv + cv * v + cx0 * x0 + cm * m;
                // one OR per element (a float sum of the checks would be a 4-cycle add chain)
                bad |= (c - c) + (u - u) + (xv - xv) + (m - m) + (next - next) + (x0 - x0) != 0f;
                x.set(i, next);
                if (m1 != null) m1.set(i, x0);
            }
            return bad ? 1 : 0;
        }).sum() == 0;
    }

    /**
     * SPEC §4, expected mode: per row p = softmax over the K score tokens' logits, score = Σ value·p /
     * max value, and mass = the full-vocabulary probability of the K tokens (max and Σ exp over the
     * row, Math.exp in double).
     */
    static void logitScore(Arr logits, int rows, ScoreTokens tokens, float[] score, float[] mass) {
        final int v = logits.length() / rows, k = tokens.size();
        final float maxValue = tokens.maxValue();
        IntStream.range(0, rows).parallel().forEach(r -> {
            final int o = r * v;
            float mx = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < v; i++) mx = Math.max(mx, logits.get(o + i));
            double sum = 0;
            for (int i = 0; i < v; i++) sum += Math.exp(logits.get(o + i) - mx);
            float mk = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) mk = Math.max(mk, logits.get(o + tokens.ids()[j]));
            double zk = 0, ev = 0;
            for (int j = 0; j < k; j++) {
                double e = Math.exp(logits.get(o + tokens.ids()[j]) - mk);
                zk += e;
                ev += e * tokens.values()[j];
            }
            score[r] = (float) (ev / zk / maxValue);
            mass[r] = (float) (zk * Math.exp(mk - mx) / sum);
        });
    }

    /** Fails the benchmark's setup when a Java result is further than tol from the native one. */
    static void requireClose(String what, float[] java, float[] nativ, double tol) {
        if (java.length != nativ.length)
            throw new IllegalStateException(what + ": java loop wrote " + java.length + " values, native " + nativ.length);
        for (int i = 0; i < java.length; i++) {
            double err = Math.abs(java[i] - nativ[i]);
            if (!(err <= tol * Math.max(1.0, Math.abs(nativ[i]))))
                throw new IllegalStateException(what + ": java loop disagrees with the native kernel at " + i + ": "
                        + java[i] + " vs " + nativ[i]);
        }
    }

    static float[] values(Arr a) {
        float[] f = new float[a.length()];
        for (int i = 0; i < f.length; i++) f[i] = a.get(i);
        return f;
    }
}
