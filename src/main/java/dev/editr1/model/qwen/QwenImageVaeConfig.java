package dev.editr1.model.qwen;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * The constructor configuration of diffusers' {@code AutoencoderKLQwenImage} ({@code config.json},
 * snake_case keys; absent keys take diffusers' defaults, which are the released Qwen-Image VAE's:
 * base_dim 96, z_dim 16, dim_mult [1, 2, 4, 4], num_res_blocks 2, temperal_downsample
 * [false, true, true] and the 16-value latents_mean / latents_std below).
 *
 * @param baseDim            channels of the first level
 * @param zDim               latent channels (the encoder emits 2·zDim: mean and log-variance)
 * @param dimMult            channel multiplier per level
 * @param numResBlocks       residual blocks per encoder level (the decoder has one more per level)
 * @param attnScales         scales (1, 0.5, …) at which the encoder adds attention after each residual
 *                           block (empty for the released model)
 * @param temperalDownsample per downsampling level, whether it also halves time (only the parameter
 *                           names/shapes differ for single frames); the spatial factor is
 *                           2^length
 * @param inputChannels      image channels (3)
 * @param latentsMean        per-channel latent mean the pipelines subtract after encoding
 * @param latentsStd         per-channel latent std the pipelines divide by after encoding
 */
public record QwenImageVaeConfig(int baseDim, int zDim, int[] dimMult, int numResBlocks, double[] attnScales,
                                 boolean[] temperalDownsample, int inputChannels, double[] latentsMean,
                                 double[] latentsStd) {

    static final double[] DEFAULT_MEAN = {-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
            0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921};
    static final double[] DEFAULT_STD = {2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687,
            2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160};

    public QwenImageVaeConfig {
        dimMult = dimMult.clone();
        attnScales = attnScales.clone();
        temperalDownsample = temperalDownsample.clone();
        latentsMean = latentsMean.clone();
        latentsStd = latentsStd.clone();
        if (baseDim < 1 || zDim < 1 || numResBlocks < 1 || inputChannels < 1 || dimMult.length < 1)
            throw new IllegalArgumentException("QwenImageVaeConfig: base_dim, z_dim, num_res_blocks, input_channels must be "
                    + "positive and dim_mult non-empty");
        if (temperalDownsample.length != dimMult.length - 1)
            throw new IllegalArgumentException("temperal_downsample needs " + (dimMult.length - 1) + " entries (one per "
                    + "downsampling level), got " + temperalDownsample.length);
        if (latentsMean.length != zDim || latentsStd.length != zDim)
            throw new IllegalArgumentException("latents_mean / latents_std need z_dim = " + zDim + " entries, got "
                    + latentsMean.length + " / " + latentsStd.length);
    }

    @Override public int[] dimMult() { return dimMult.clone(); }
    @Override public double[] attnScales() { return attnScales.clone(); }
    @Override public boolean[] temperalDownsample() { return temperalDownsample.clone(); }
    @Override public double[] latentsMean() { return latentsMean.clone(); }
    @Override public double[] latentsStd() { return latentsStd.clone(); }

    /** Pixels per latent pixel along each side: 2^len(temperal_downsample) (the pipelines' vae_scale_factor). */
    public int spatialScale() {
        return 1 << temperalDownsample.length;
    }

    /** The released Qwen-Image VAE (diffusers' constructor defaults). */
    public static QwenImageVaeConfig qwenImage() {
        return new QwenImageVaeConfig(96, 16, new int[] {1, 2, 4, 4}, 2, new double[0],
                new boolean[] {false, true, true}, 3, DEFAULT_MEAN, DEFAULT_STD);
    }

    public static QwenImageVaeConfig fromJson(String json) {
        JsonObject o = JsonParser.parseString(json).getAsJsonObject();
        QwenImageVaeConfig d = qwenImage();
        int[] dm = o.has("dim_mult") ? ints(o.getAsJsonArray("dim_mult")) : d.dimMult;
        double[] as = o.has("attn_scales") ? doubles(o.getAsJsonArray("attn_scales")) : d.attnScales;
        boolean[] td = d.temperalDownsample;
        if (o.has("temperal_downsample")) {
            JsonArray a = o.getAsJsonArray("temperal_downsample");
            td = new boolean[a.size()];
            for (int i = 0; i < td.length; i++) td[i] = a.get(i).getAsBoolean();
        }
        if (o.has("dropout") && o.get("dropout").getAsDouble() != 0.0)
            throw new IllegalArgumentException("dropout != 0 is not supported (inference only)");
        return new QwenImageVaeConfig(QwenImageConfig.intOr(o, "base_dim", d.baseDim), QwenImageConfig.intOr(o, "z_dim", d.zDim),
                dm, QwenImageConfig.intOr(o, "num_res_blocks", d.numResBlocks), as, td,
                QwenImageConfig.intOr(o, "input_channels", d.inputChannels),
                o.has("latents_mean") ? doubles(o.getAsJsonArray("latents_mean")) : d.latentsMean,
                o.has("latents_std") ? doubles(o.getAsJsonArray("latents_std")) : d.latentsStd);
    }

    public static QwenImageVaeConfig read(Path configJson) throws IOException {
        return fromJson(Files.readString(configJson));
    }

    private static int[] ints(JsonArray a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).getAsInt();
        return r;
    }

    private static double[] doubles(JsonArray a) {
        double[] r = new double[a.size()];
        int i = 0;
        for (JsonElement e : a) r[i++] = e.getAsDouble();
        return r;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QwenImageVaeConfig c && baseDim == c.baseDim && zDim == c.zDim && Arrays.equals(dimMult, c.dimMult)
                && numResBlocks == c.numResBlocks && Arrays.equals(attnScales, c.attnScales)
                && Arrays.equals(temperalDownsample, c.temperalDownsample) && inputChannels == c.inputChannels
                && Arrays.equals(latentsMean, c.latentsMean) && Arrays.equals(latentsStd, c.latentsStd);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(new int[] {baseDim, zDim, Arrays.hashCode(dimMult), numResBlocks,
                Arrays.hashCode(attnScales), Arrays.hashCode(temperalDownsample), inputChannels});
    }

    @Override
    public String toString() {
        return "QwenImageVaeConfig[base_dim=" + baseDim + ", z_dim=" + zDim + ", dim_mult=" + Arrays.toString(dimMult)
                + ", num_res_blocks=" + numResBlocks + ", attn_scales=" + Arrays.toString(attnScales)
                + ", temperal_downsample=" + Arrays.toString(temperalDownsample) + ", input_channels=" + inputChannels + "]";
    }
}
