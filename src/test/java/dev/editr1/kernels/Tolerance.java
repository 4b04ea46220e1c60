package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * llm.c-style result checks: |out − ref| ≤ atol + rtol·|ref| element by element, reporting the
 * worst element and the fraction of the budget it used; and flash-attention's rule for low
 * precision (the kernel's error against the double reference is at most twice that of a
 * same-precision reference).
 */
final class Tolerance {
    private Tolerance() {}

    /** The largest |out − ref| and where. NaN anywhere in out (where ref is not NaN) is infinite error. */
    record Worst(double err, int index) {}

    static Worst worst(double[] ref, float[] out) {
        if (ref.length != out.length) fail("length mismatch: ref " + ref.length + " vs out " + out.length);
        double w = -1;
        int wi = -1;
        for (int i = 0; i < ref.length; i++) {
            double e = Double.isNaN(ref[i]) ? (Float.isNaN(out[i]) ? 0 : Double.POSITIVE_INFINITY)
                    : Float.isNaN(out[i]) ? Double.POSITIVE_INFINITY : Math.abs(out[i] - ref[i]);
            if (e > w) {
                w = e;
                wi = i;
            }
        }
        return new Worst(w, wi);
    }

    /** Fails unless every element is within atol + rtol·|ref|; returns the budget fraction used. */
    static double close(String what, double[] ref, float[] out, double atol, double rtol) {
        double used = 0;
        int wi = -1;
        for (int i = 0; i < ref.length; i++) {
            double budget = atol + rtol * Math.abs(ref[i]);
            double e = Double.isNaN(ref[i]) ? (Float.isNaN(out[i]) ? 0 : Double.POSITIVE_INFINITY)
                    : Float.isNaN(out[i]) ? Double.POSITIVE_INFINITY : Math.abs(out[i] - ref[i]);
            double u = e / budget;
            if (u > used || wi < 0) {
                used = u;
                wi = i;
            }
        }
        if (ref.length != out.length) fail(what + ": length mismatch: ref " + ref.length + " vs out " + out.length);
        String msg = String.format("%s: worst element %d of %d: out %.9g ref %.9g |err| %.3g, budget %.3g (atol %.1g + rtol %.1g·|ref|): %.1f%% used",
                what, wi, ref.length, out[wi], ref[wi], Math.abs(out[wi] - ref[wi]), atol + rtol * Math.abs(ref[wi]), atol, rtol,
                100 * used);
        if (!(used <= 1.0)) fail(msg);
        return used;
    }

    /**
     * Fails unless every element is within its own budget (for values whose f32 error scales with
     * another quantity than |ref|); returns the largest budget fraction used.
     */
    static double closeEach(String what, double[] ref, float[] out, double[] budget) {
        if (ref.length != out.length || ref.length != budget.length) fail(what + ": length mismatch");
        double used = -1;
        int wi = 0;
        for (int i = 0; i < ref.length; i++) {
            double e = Double.isNaN(ref[i]) ? (Float.isNaN(out[i]) ? 0 : Double.POSITIVE_INFINITY)
                    : Float.isNaN(out[i]) ? Double.POSITIVE_INFINITY : Math.abs(out[i] - ref[i]);
            double u = e / budget[i];
            if (u > used || Double.isNaN(u)) {
                used = Double.isNaN(u) ? Double.POSITIVE_INFINITY : u;
                wi = i;
            }
        }
        String msg = String.format("%s: worst element %d of %d: out %.9g ref %.9g |err| %.3g, budget %.3g: %.1f%% used",
                what, wi, ref.length, out[wi], ref[wi], Math.abs(out[wi] - ref[wi]), budget[wi], 100 * used);
        if (!(used <= 1.0)) fail(msg);
        return used;
    }

    /**
     * Low-precision rule: the kernel's worst error against the double reference is at most twice the
     * same-precision reference's (or within one unit of the dtype's rounding of the largest |ref|,
     * when the same-precision reference happens to be exact).
     */
    static void lowPrecision(String what, DType dtype, double[] ref, float[] kernel, float[] samePrecision) {
        Worst k = worst(ref, kernel);
        Worst s = worst(ref, samePrecision);
        double maxRef = 0;
        for (double r : ref) if (!Double.isNaN(r)) maxRef = Math.max(maxRef, Math.abs(r));
        double ulp = dtype == DType.BF16 ? 0x1p-8 : dtype == DType.F16 ? 0x1p-11 : 0x1p-23;
        double bound = Math.max(2 * s.err(), ulp * Math.max(maxRef, 1e-3));
        String msg = String.format("%s [%s]: kernel worst |err| %.3g at %d (out %.6g ref %.6g); same-precision reference worst %.3g; bound %.3g",
                what, dtype.label(), k.err(), k.index(), kernel[k.index()], ref[k.index()], s.err(), bound);
        if (!(k.err() <= bound)) fail(msg);
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
