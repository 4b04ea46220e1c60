package dev.editr1.kernels;

/**
 * Plain-Java double-precision references for the kernels, written from SPEC.md alone
 * (no code shared with libeditr1): the tests compare both implementations against these.
 */
final class Reference {
    private Reference() {}

    // ---------------------------------------------------------------------------------------
    // Philox-4x32-10 (Random123) and Box–Muller in double

    static int[] philox(int[] counter, int[] key) {
        long c0 = counter[0] & 0xffffffffL, c1 = counter[1] & 0xffffffffL, c2 = counter[2] & 0xffffffffL,
                c3 = counter[3] & 0xffffffffL;
        long k0 = key[0] & 0xffffffffL, k1 = key[1] & 0xffffffffL;
        final long m0 = 0xD2511F53L, m1 = 0xCD9E8D57L, w0 = 0x9E3779B9L, w1 = 0xBB67AE85L;
        for (int round = 0; round < 10; round++) {
            if (round > 0) {
                k0 = (k0 + w0) & 0xffffffffL;
                k1 = (k1 + w1) & 0xffffffffL;
            }
            long p0 = m0 * c0; // < 2^64 as unsigned: split with unsigned shifts
            long p1 = m1 * c2;
            long hi0 = p0 >>> 32, lo0 = p0 & 0xffffffffL;
            long hi1 = p1 >>> 32, lo1 = p1 & 0xffffffffL;
            long n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
        }
        return new int[] {(int) c0, (int) c1, (int) c2, (int) c3};
    }

    /** The 4 normals of a Philox block, per SPEC §3's Box–Muller (u0 from the top 23 bits + ½, u1 from the top 24), in double. */
    static double[] boxMuller(int[] bits) {
        double[] out = new double[4];
        for (int p = 0; p < 2; p++) {
            double u0 = ((bits[2 * p] >>> 9) + 0.5) * 0x1p-23;
            double u1 = (bits[2 * p + 1] >>> 8) * 0x1p-24;
            double r = Math.sqrt(-2.0 * Math.log(u0));
            out[2 * p] = r * Math.cos(2 * Math.PI * u1);
            out[2 * p + 1] = r * Math.sin(2 * Math.PI * u1);
        }
        return out;
    }

    /** ε[b, e] for a noise key (counter = (e/4, row lo, row hi, stream), key = seed). */
    static double noise(NoiseKey key, long b, long e) {
        long row = key.rowOffset() + b;
        long q = e >>> 2;
        int[] ctr = {(int) q, (int) row, (int) (row >>> 32), key.stream() ^ ((int) (q >>> 32) << 16)};
        int[] k = {(int) key.seed(), (int) (key.seed() >>> 32)};
        return boxMuller(philox(ctr, k))[(int) (e & 3)];
    }

    static double[] noiseRows(NoiseKey key, int rows, int d) {
        double[] out = new double[rows * d];
        for (int b = 0; b < rows; b++)
            for (int e = 0; e < d; e++) out[b * d + e] = noise(key, (long) b, (long) e);
        return out;
    }

    // ---------------------------------------------------------------------------------------
    // Flow step

    /** Outputs of one step: x' (or NaN-free given), x̂0, per-row log-prob. */
    record Flow(double[] x, double[] x0, double[] logProb) {}

    static Flow flowStep(FlowStepParams p, int rows, int d, float[] x, float[] vc, float[] vu, float[] m1,
                         double[] xi, float[] given) {
        int n = rows * d;
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = vu == null ? vc[i] : vu[i] + p.guidance() * ((double) vc[i] - vu[i]);
        if (p.rescaleChannels() > 0) {
            int c = (int) p.rescaleChannels();
            for (int t0 = 0; t0 < n; t0 += c) {
                double nc = 0, nv = 0;
                for (int j = 0; j < c; j++) {
                    nc += (double) vc[t0 + j] * vc[t0 + j];
                    nv += v[t0 + j] * v[t0 + j];
                }
                double s = nv > 0 ? Math.sqrt(nc / nv) : 1.0;
                for (int j = 0; j < c; j++) v[t0 + j] *= s;
            }
        }
        double[] xo = new double[n], x0 = new double[n], lp = new double[rows];
        for (int b = 0; b < rows; b++) {
            double sq = 0;
            for (int e = 0; e < d; e++) {
                int i = b * d + e;
                x0[i] = x[i] - p.sigma() * v[i];
                double mean = p.cX() * x[i] + p.cV() * v[i] + p.cX0() * x0[i] + (m1 != null ? p.cPrevX0() * m1[i] : 0);
                double next = given != null ? given[i] : (p.cNoise() != 0 ? mean + p.cNoise() * xi[i] : mean);
                xo[i] = next;
                sq += (next - mean) * (next - mean);
            }
            double cn = p.cNoise();
            lp[b] = cn > 0 ? -sq / (2 * cn * cn * d) - Math.log(cn) - 0.5 * Math.log(2 * Math.PI) : 0;
        }
        return new Flow(xo, x0, lp);
    }

    // ---------------------------------------------------------------------------------------
    // DiffusionNFT loss

    record Nft(double[] ell, double[] kl, double loss, double[] grad) {}

    static Nft nftLoss(NftLossConfig c, int rows, int d, double[] x0, double[] target, boolean targetIsXt,
                       double[] vth, double[] vold, double[] vref, double[] t, double[] r, double[] valid) {
        double beta = c.beta();
        double[] ell = new double[rows], kl = new double[rows], grad = new double[rows * d];
        double sumValid = 0;
        for (double v : valid) sumValid += v;
        double lossEll = 0, lossKl = 0;
        for (int b = 0; b < rows; b++) {
            double[] dp = new double[d], dn = new double[d], dk = new double[d];
            double ap = 0, an = 0, sp = 0, sn = 0, sk = 0;
            for (int e = 0; e < d; e++) {
                int i = b * d + e;
                double vp = beta * vth[i] + (1 - beta) * vold[i];
                double vn = (1 + beta) * vold[i] - beta * vth[i];
                double xt = targetIsXt ? target[i] : (1 - t[b]) * x0[i] + t[b] * target[i];
                double vstar = targetIsXt ? (target[i] - x0[i]) / t[b] : target[i] - x0[i];
                if (c.form() == NftForm.X0) {
                    dp[e] = (xt - t[b] * vp) - x0[i];
                    dn[e] = (xt - t[b] * vn) - x0[i];
                } else {
                    dp[e] = vp - vstar;
                    dn[e] = vn - vstar;
                }
                ap += Math.abs(dp[e]);
                an += Math.abs(dn[e]);
                sp += dp[e] * dp[e];
                sn += dn[e] * dn[e];
                if (vref != null) {
                    dk[e] = vth[i] - vref[i];
                    sk += dk[e] * dk[e];
                }
            }
            double lp, ln, gp, gn;
            if (c.form() == NftForm.X0) {
                double wp = Math.max(ap / d, c.floor()), wn = Math.max(an / d, c.floor());
                lp = sp / d / wp;
                ln = sn / d / wn;
                gp = -2 * c.c() * t[b] / d * r[b] / wp;
                gn = 2 * c.c() * t[b] / d * (1 - r[b]) / wn;
            } else {
                lp = sp / d;
                ln = sn / d;
                gp = 2 * c.c() / d * r[b];
                gn = -2 * c.c() / d * (1 - r[b]);
            }
            ell[b] = c.c() * (r[b] * lp + (1 - r[b]) * ln) / beta;
            kl[b] = vref != null ? sk / d : 0;
            lossEll += valid[b] * ell[b];
            lossKl += valid[b] * kl[b];
            double scale = sumValid > 0 ? valid[b] / sumValid : 0;
            for (int e = 0; e < d; e++)
                grad[b * d + e] = scale * (gp * dp[e] + gn * dn[e] + (vref != null ? c.lambda() * 2.0 / d * dk[e] : 0));
        }
        double loss = sumValid > 0 ? (lossEll + c.lambda() * lossKl) / sumValid : 0;
        return new Nft(ell, kl, loss, grad);
    }

    // ---------------------------------------------------------------------------------------
    // Flow-GRPO loss

    record Grpo(double[] logProb, double[] ratio, double[] ell, double[] kl, double loss, double[] grad) {}

    /**
     * Flow-GRPO's loss and its gradient in v_θ at one SDE step, from SPEC §3 and the objective as
     * Flow-GRPO writes it, in double. μ = cX·x + cV·v is formed directly (double has the bits to
     * spare). The gradient is what autograd of that formula gives, written out literally:
     * ∂ max(u, c) sends the gradient to the strictly larger argument and half to each at a tie
     * (torch.maximum), clamp passes it on its closed range [1 − ε, 1 + ε], exp gives ρ,
     * and ∂logp/∂v_e = (x'_e − μ_e)·cV/(D·std²).
     */
    static Grpo grpoLoss(GrpoLossConfig c, int rows, int d, double[] x, double[] xNext, double[] vth, double[] vref,
                         double[] adv, double[] logProbOld, double[] valid) {
        SdeStep st = c.step();
        double sd = st.stdLogProb(), s = st.stdDev(), cx = st.cX(), cv = st.cV();
        double lo = 1 - c.clipRange(), hi = 1 + c.clipRange();
        double[] logProb = new double[rows], ratio = new double[rows], ell = new double[rows], kl = new double[rows];
        double[] grad = new double[rows * d];
        double sumValid = 0;
        for (double v : valid) sumValid += v;
        double total = 0;
        for (int b = 0; b < rows; b++) {
            double[] resid = new double[d], dmu = new double[d];
            double sq = 0, sqKl = 0;
            for (int e = 0; e < d; e++) {
                int i = b * d + e;
                double mu = cx * x[i] + cv * vth[i];
                resid[e] = xNext[i] - mu;
                sq += resid[e] * resid[e];
                if (vref != null) {
                    dmu[e] = mu - (cx * x[i] + cv * vref[i]);
                    sqKl += dmu[e] * dmu[e];
                }
            }
            logProb[b] = -sq / d / (2 * sd * sd) - Math.log(sd) - 0.5 * Math.log(2 * Math.PI);
            ratio[b] = Math.exp(logProb[b] - logProbOld[b]);
            double clipped = Math.min(Math.max(ratio[b], lo), hi);
            double u = -adv[b] * ratio[b], cl = -adv[b] * clipped;
            ell[b] = Math.max(u, cl);
            double dClampDrho = ratio[b] >= lo && ratio[b] <= hi ? 1 : 0;
            double dEllDrho;
            if (u > cl) dEllDrho = -adv[b];
            else if (cl > u) dEllDrho = -adv[b] * dClampDrho;
            else dEllDrho = 0.5 * -adv[b] + 0.5 * -adv[b] * dClampDrho;
            kl[b] = vref != null ? sqKl / d / (2 * s * s) : 0;
            if (valid[b] != 0) total += ell[b] + c.klWeight() * kl[b];
            double scale = sumValid > 0 ? valid[b] / sumValid : 0;
            for (int e = 0; e < d; e++) {
                double dLogpDv = resid[e] / (sd * sd) * cv / d;
                double dKlDv = vref != null ? dmu[e] / (s * s) * cv / d : 0;
                grad[b * d + e] = scale * (dEllDrho * ratio[b] * dLogpDv + c.klWeight() * dKlDv);
            }
        }
        double loss = sumValid > 0 ? total / sumValid : 0;
        return new Grpo(logProb, ratio, ell, kl, loss, grad);
    }

    // ---------------------------------------------------------------------------------------
    // Logit score

    record Score(double score, double[] probs, double mass) {}

    static Score logitScore(double[] row, ScoreTokens tok, ScoreMode mode) {
        int k = tok.size();
        double m = Double.NEGATIVE_INFINITY;
        for (double v : row) m = Math.max(m, v);
        double all = 0;
        for (double v : row) all += v == Double.NEGATIVE_INFINITY ? 0 : Math.exp(v - m);
        double km = Double.NEGATIVE_INFINITY;
        int arg = 0;
        for (int i = 0; i < k; i++) {
            double l = row[tok.ids()[i]];
            if (l > km) {
                km = l;
                arg = i;
            }
        }
        double[] probs = new double[k];
        if (km == Double.NEGATIVE_INFINITY) return new Score(Double.NaN, probs, 0);
        double ks = 0, kv = 0, onTokens = 0;
        for (int i = 0; i < k; i++) {
            double l = row[tok.ids()[i]];
            double e = l == Double.NEGATIVE_INFINITY ? 0 : Math.exp(l - km);
            probs[i] = e;
            ks += e;
            kv += e * tok.values()[i];
            onTokens += l == Double.NEGATIVE_INFINITY ? 0 : Math.exp(l - m);
        }
        for (int i = 0; i < k; i++) probs[i] /= ks;
        double score = mode == ScoreMode.ARGMAX ? tok.values()[arg] / tok.maxValue() : kv / ks / tok.maxValue();
        return new Score(score, probs, onTokens / all);
    }
}
