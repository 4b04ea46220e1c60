package dev.editr1.kernels;

/**
 * The DiffusionNFT loss constants (SPEC §6); {@link #DEFAULTS} are the published ones.
 *
 * @param beta   NFT guidance strength β &gt; 0 (1)
 * @param c      loss scale c &gt; 0 (5, = adv_clip_max)
 * @param lambda KL weight λ ≥ 0 (1e-4)
 * @param floor  adaptive-weight floor &gt; 0 (1e-5)
 * @param form   x0 (adaptive) or velocity
 */
public record NftLossConfig(double beta, double c, double lambda, double floor, NftForm form) {
    public static final NftLossConfig DEFAULTS = new NftLossConfig(1.0, 5.0, 1e-4, 1e-5, NftForm.X0);

    public NftLossConfig {
        if (!(beta > 0) || !Double.isFinite(beta)) throw new IllegalArgumentException("nftLoss: beta must be finite and > 0, got " + beta);
        if (!(c > 0) || !Double.isFinite(c)) throw new IllegalArgumentException("nftLoss: c must be finite and > 0, got " + c);
        if (!(lambda >= 0) || !Double.isFinite(lambda)) throw new IllegalArgumentException("nftLoss: lambda must be finite and >= 0, got " + lambda);
        if (!(floor > 0) || !Double.isFinite(floor)) throw new IllegalArgumentException("nftLoss: floor must be finite and > 0, got " + floor);
        if (form == null) throw new IllegalArgumentException("nftLoss: form is null");
    }

    public NftLossConfig withForm(NftForm f) {
        return new NftLossConfig(beta, c, lambda, floor, f);
    }

    public NftLossConfig withBeta(double b) {
        return new NftLossConfig(b, c, lambda, floor, form);
    }
}
