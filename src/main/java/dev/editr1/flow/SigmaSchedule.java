package dev.editr1.flow;

import java.util.Locale;

/**
 * The sampler's t grids of SPEC §2. Every grid has N values σ_0 = 1 &gt; … &gt; σ_{N−1} and then a final 0
 * (length N + 1).
 */
public final class SigmaSchedule {
    private SigmaSchedule() {}

    /** The named presets: static shift (sd3) and dynamic shift (kontext, qwen). */
    public enum Preset {
        SD3(3.0, 0, 0, 0, 0, Double.NaN),
        KONTEXT(Double.NaN, 256, 0.5, 4096, 1.15, Double.NaN),
        QWEN(Double.NaN, 256, 0.5, 8192, 0.9, 0.02);

        /** static shift s (NaN for dynamic presets) */
        public final double shift;
        public final long baseSeq, maxSeq;
        public final double baseShift, maxShift;
        /** terminal stretch τ (NaN: none) */
        public final double stretch;

        Preset(double shift, long baseSeq, double baseShift, long maxSeq, double maxShift, double stretch) {
            this.shift = shift;
            this.baseSeq = baseSeq;
            this.baseShift = baseShift;
            this.maxSeq = maxSeq;
            this.maxShift = maxShift;
            this.stretch = stretch;
        }

        public static Preset parse(String s) {
            for (Preset p : values()) if (p.name().equalsIgnoreCase(s)) return p;
            throw new IllegalArgumentException("unknown sigma preset '" + s + "' (sd3, kontext, qwen)");
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static double[] linspace(double a, double b, int n) {
        double[] u = new double[n];
        for (int i = 0; i < n; i++) u[i] = n == 1 ? a : a + (b - a) * i / (n - 1);
        return u;
    }

    /** SD3-style static shift s: u = linspace(1, u_min, N), σ = s·u/(1 + (s − 1)·u), then 0. */
    public static double[] staticShift(int steps, double s) {
        check(steps);
        if (!(s > 0)) throw new IllegalArgumentException("shift must be > 0, got " + s);
        double umin = s * 0.001 / (1 + (s - 1) * 0.001);
        double[] u = linspace(1, umin, steps);
        double[] out = new double[steps + 1];
        for (int i = 0; i < steps; i++) out[i] = s * u[i] / (1 + (s - 1) * u[i]);
        return out;
    }

    /** μ interpolated in the latent token count L between (baseSeq, baseShift) and (maxSeq, maxShift). */
    public static double mu(long tokens, long baseSeq, double baseShift, long maxSeq, double maxShift) {
        return baseShift + (tokens - baseSeq) * (maxShift - baseShift) / (maxSeq - baseSeq);
    }

    /** FLUX/Qwen dynamic shift: u = linspace(1, 1/N, N), σ = e^μ/(e^μ + (1/u − 1)), optional terminal stretch. */
    public static double[] dynamicShift(int steps, double mu, double stretch) {
        check(steps);
        double[] u = linspace(1, 1.0 / steps, steps);
        double[] out = new double[steps + 1];
        double em = Math.exp(mu);
        for (int i = 0; i < steps; i++) out[i] = em / (em + (1 / u[i] - 1));
        if (!Double.isNaN(stretch)) {
            if (!(stretch > 0 && stretch < 1)) throw new IllegalArgumentException("stretch must be in (0, 1)");
            double k = (1 - out[steps - 1]) / (1 - stretch);
            for (int i = 0; i < steps; i++) out[i] = 1 - (1 - out[i]) / k;
        }
        return out;
    }

    /**
     * A preset's grid. For sd3, {@code shift} (if not NaN) replaces s; for the dynamic presets it
     * replaces e^μ.
     */
    public static double[] preset(Preset p, int steps, long tokens, double shift) {
        if (p == Preset.SD3) return staticShift(steps, Double.isNaN(shift) ? p.shift : shift);
        double mu = Double.isNaN(shift) ? mu(tokens, p.baseSeq, p.baseShift, p.maxSeq, p.maxShift) : Math.log(shift);
        return dynamicShift(steps, mu, p.stretch);
    }

    private static void check(int steps) {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
    }
}
