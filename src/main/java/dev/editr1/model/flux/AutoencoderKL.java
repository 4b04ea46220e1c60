package dev.editr1.model.flux;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.model.Layers;
import dev.editr1.kernels.Scopes;
import dev.editr1.model.ParamStore;

/**
 * diffusers' {@code AutoencoderKL} (the Flux / SD3 image VAE) with DownEncoderBlock2D /
 * UpDecoderBlock2D blocks, written on libtorch ops with diffusers' parameter names.
 *
 * <p>Encoder: conv_in; per level, layers_per_block ResNet blocks and (all but the last level) a
 * downsampler (pad right/bottom by 1, 3×3 conv stride 2); mid block (ResNet, single-head
 * attention, ResNet); GroupNorm, SiLU, conv_out to 2·latent channels (mean, logvar); optional 1×1
 * quant_conv. Decoder: optional 1×1 post_quant_conv; conv_in; mid block; per level (coarsest
 * first) layers_per_block + 1 ResNet blocks and (all but the last) nearest ×2 upsampling and a 3×3
 * conv; GroupNorm, SiLU, conv_out. ResNet block: GN → SiLU → conv3×3 → GN → SiLU → conv3×3, plus the
 * input (through a 1×1 conv_shortcut when the width changes). GroupNorm eps 1e-6 everywhere.
 *
 * <p>{@link #encode} and {@link #decode} apply no scaling; {@link #encodeLatents} and
 * {@link #decodeLatents} are what the Kontext pipeline does around them. Images are [B, C, H, W] in
 * [−1, 1]; every tensor stays in the weights' dtype and on their device. No tiling or slicing.
 */
public final class AutoencoderKL {
    private static final double EPS = 1e-6;

    public final VaeConfig cfg;
    /** The weights under diffusers' names (e.g. {@code decoder.mid_block.attentions.0.to_q.weight}). */
    public final ParamStore params;

    /** The latent distribution of an image: mean and clamped log-variance, each [B, latent, H/f, W/f]. */
    public record Posterior(Tensor mean, Tensor logvar) {}

    /**
     * A VAE over the given weights (a diffusers {@code state_dict}; held, not copied).
     *
     * @throws IllegalArgumentException naming the key when a tensor is missing, unexpected or of the
     *                                  wrong shape for {@code cfg}
     */
    public AutoencoderKL(VaeConfig cfg, Map<String, Tensor> weights) {
        this.cfg = cfg;
        this.params = Weights.checked(expectedShapes(cfg), weights, "AutoencoderKL");
    }

    /** Every parameter name of a diffusers AutoencoderKL with this config, with its shape. */
    public static Map<String, long[]> expectedShapes(VaeConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        List<Integer> ch = c.blockOutChannels();
        int levels = ch.size(), last = ch.get(levels - 1), lc = c.latentChannels();
        conv(m, "encoder.conv_in", ch.get(0), c.inChannels(), 3);
        int out = ch.get(0);
        for (int i = 0; i < levels; i++) {
            int in = out;
            out = ch.get(i);
            for (int j = 0; j < c.layersPerBlock(); j++)
                resnet(m, "encoder.down_blocks." + i + ".resnets." + j, j == 0 ? in : out, out);
            if (i != levels - 1) conv(m, "encoder.down_blocks." + i + ".downsamplers.0.conv", out, out, 3);
        }
        midBlock(m, "encoder.mid_block", last, c.midBlockAddAttention());
        norm(m, "encoder.conv_norm_out", last);
        conv(m, "encoder.conv_out", 2 * lc, last, 3);
        if (c.useQuantConv()) conv(m, "quant_conv", 2 * lc, 2 * lc, 1);
        if (c.usePostQuantConv()) conv(m, "post_quant_conv", lc, lc, 1);
        conv(m, "decoder.conv_in", last, lc, 3);
        midBlock(m, "decoder.mid_block", last, c.midBlockAddAttention());
        out = last;
        for (int i = 0; i < levels; i++) {
            int in = out;
            out = ch.get(levels - 1 - i);
            for (int j = 0; j < c.layersPerBlock() + 1; j++)
                resnet(m, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? in : out, out);
            if (i != levels - 1) conv(m, "decoder.up_blocks." + i + ".upsamplers.0.conv", out, out, 3);
        }
        norm(m, "decoder.conv_norm_out", ch.get(0));
        conv(m, "decoder.conv_out", c.outChannels(), ch.get(0), 3);
        return m;
    }

    private static void conv(Map<String, long[]> m, String p, long out, long in, long k) {
        m.put(p + ".weight", new long[] {out, in, k, k});
        m.put(p + ".bias", new long[] {out});
    }

    private static void norm(Map<String, long[]> m, String p, long c) {
        m.put(p + ".weight", new long[] {c});
        m.put(p + ".bias", new long[] {c});
    }

    private static void resnet(Map<String, long[]> m, String p, long in, long out) {
        norm(m, p + ".norm1", in);
        conv(m, p + ".conv1", out, in, 3);
        norm(m, p + ".norm2", out);
        conv(m, p + ".conv2", out, out, 3);
        if (in != out) conv(m, p + ".conv_shortcut", out, in, 1);
    }

    private static void midBlock(Map<String, long[]> m, String p, long c, boolean attention) {
        resnet(m, p + ".resnets.0", c, c);
        if (attention) {
            norm(m, p + ".attentions.0.group_norm", c);
            for (String n : new String[] {"to_q", "to_k", "to_v", "to_out.0"}) Weights.linear(m, p + ".attentions.0." + n, c, c);
        }
        resnet(m, p + ".resnets.1", c, c);
    }

    // ---- public API -----------------------------------------------------------------------------

    /**
     * {@code vae.encode(x).latent_dist}: x [B, in_channels, H, W] (H, W multiples of
     * {@link VaeConfig#scaleFactor()}) → mean and logvar (clamped to [−30, 20]) [B, latent, H/f, W/f].
     */
    public Posterior encode(Tensor x) {
        List<Integer> ch = cfg.blockOutChannels();
        Tensor h = step(null, () -> conv(x, "encoder.conv_in", 1, 1));
        for (int i = 0; i < ch.size(); i++) {
            String p = "encoder.down_blocks." + i;
            for (int j = 0; j < cfg.layersPerBlock(); j++) {
                final String r = p + ".resnets." + j;
                final Tensor in = h;
                h = step(in, () -> resnet(in, r));
            }
            if (i != ch.size() - 1) { // Downsample2D(padding=0): F.pad(0, 1, 0, 1) then conv 3×3 stride 2
                final Tensor in = h;
                h = step(in, () -> conv(torch.constant_pad_nd(in, new long[] {0, 1, 0, 1}, new Scalar(0.0)), p + ".downsamplers.0.conv", 2, 0));
            }
        }
        final Tensor mid = h;
        h = step(mid, () -> midBlock(mid, "encoder.mid_block"));
        h = conv(torch.silu(groupNorm(h, "encoder.conv_norm_out")), "encoder.conv_out", 1, 1);
        if (cfg.useQuantConv()) h = conv(h, "quant_conv", 1, 0);
        long lc = cfg.latentChannels();
        Tensor logvar = h.narrow(1, lc, lc).clamp(new ScalarOptional(new Scalar(-30.0)), new ScalarOptional(new Scalar(20.0)));
        return new Posterior(h.narrow(1, 0, lc), logvar);
    }

    /** The latent distribution's mean (its mode; the pipeline's {@code sample_mode="argmax"}). */
    public Tensor encodeMean(Tensor x) {
        return encode(x).mean();
    }

    /**
     * {@code vae.decode(z).sample}: z [B, latent, h, w] → [B, out_channels, h·f, w·f]. No
     * scaling or shift (see {@link #decodeLatents}).
     */
    public Tensor decode(Tensor z) {
        List<Integer> ch = cfg.blockOutChannels();
        final Tensor zq = cfg.usePostQuantConv() ? conv(z, "post_quant_conv", 1, 0) : z;
        Tensor h = step(null, () -> conv(zq, "decoder.conv_in", 1, 1));
        final Tensor mid = h;
        h = step(mid, () -> midBlock(mid, "decoder.mid_block"));
        for (int i = 0; i < ch.size(); i++) {
            String p = "decoder.up_blocks." + i;
            for (int j = 0; j < cfg.layersPerBlock() + 1; j++) {
                final String r = p + ".resnets." + j;
                final Tensor in = h;
                h = step(in, () -> resnet(in, r));
            }
            if (i != ch.size() - 1) { // Upsample2D: nearest ×2 then conv 3×3
                final Tensor in = h;
                h = step(in, () -> conv(torch.upsample_nearest2d(in, new long[] {2 * in.size(2), 2 * in.size(3)},
                        new DoubleOptional(2.0), new DoubleOptional(2.0)), p + ".upsamplers.0.conv", 1, 1));
            }
        }
        return conv(torch.silu(groupNorm(h, "decoder.conv_norm_out")), "decoder.conv_out", 1, 1);
    }

    /**
     * One stage in its own scope: its intermediates (a ResNet block at full resolution holds several
     * B × C × H × W tensors) die with it, and its input is released once it has run. The VAE runs
     * without a graph here (sources are encoded once, rollouts decoded for the judge).
     */
    private static Tensor step(Tensor input, java.util.function.Supplier<Tensor> stage) {
        Tensor out = Scopes.keep(stage);
        if (input != null) Scopes.release(input);
        return out;
    }

    /** The pipeline's image → latents: (mean − shift_factor) · scaling_factor. */
    public Tensor encodeLatents(Tensor x) {
        return encodeMean(x).sub(new Scalar(cfg.shiftFactor())).mul(new Scalar(cfg.scalingFactor()));
    }

    /** The pipeline's latents → image: decode(z / scaling_factor + shift_factor). */
    public Tensor decodeLatents(Tensor z) {
        return decode(z.div(new Scalar(cfg.scalingFactor())).add(new Scalar(cfg.shiftFactor())));
    }

    // ---- pieces ---------------------------------------------------------------------------------

    private Tensor conv(Tensor x, String p, long stride, long pad) {
        return Layers.conv2d(x, params.get(p + ".weight"), params.get(p + ".bias"), stride, pad);
    }

    private Tensor groupNorm(Tensor x, String p) {
        return torch.group_norm(x, cfg.normNumGroups(), new TensorOptional(params.get(p + ".weight")),
                new TensorOptional(params.get(p + ".bias")), EPS, true);
    }

    /** ResnetBlock2D (no time embedding, output_scale_factor 1). */
    private Tensor resnet(Tensor x, String p) {
        Tensor h = conv(torch.silu(groupNorm(x, p + ".norm1")), p + ".conv1", 1, 1);
        h = conv(torch.silu(groupNorm(h, p + ".norm2")), p + ".conv2", 1, 1);
        Tensor skip = params.has(p + ".conv_shortcut.weight") ? conv(x, p + ".conv_shortcut", 1, 0) : x;
        return skip.add(h);
    }

    /** UNetMidBlock2D: resnets.0, attentions.0 (if configured), resnets.1. */
    private Tensor midBlock(Tensor x, String p) {
        Tensor h = resnet(x, p + ".resnets.0");
        if (cfg.midBlockAddAttention()) h = attention(h, p + ".attentions.0");
        return resnet(h, p + ".resnets.1");
    }

    /**
     * The mid block's Attention (one head of width C over the H·W positions): GroupNorm → to_q/k/v →
     * softmax(q·kᵀ/√C)·v → to_out.0 → + input.
     */
    private Tensor attention(Tensor x, String p) {
        long b = x.size(0), c = x.size(1), hh = x.size(2), ww = x.size(3);
        Tensor t = groupNorm(x, p + ".group_norm").view(b, c, hh * ww).transpose(1, 2);   // [B, HW, C]
        Tensor q = Layers.linear(params, p + ".to_q", t, null).unsqueeze(1);             // [B, 1, HW, C]
        Tensor k = Layers.linear(params, p + ".to_k", t, null).unsqueeze(1);
        Tensor v = Layers.linear(params, p + ".to_v", t, null).unsqueeze(1);
        Tensor o = torch.scaled_dot_product_attention(q, k, v).squeeze(1);              // [B, HW, C]
        o = Layers.linear(params, p + ".to_out.0", o, null);
        return o.transpose(1, 2).reshape(b, c, hh, ww).add(x);
    }
}
