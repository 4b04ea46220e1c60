package dev.editr1.model.qwen;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.Layers;
import dev.editr1.model.ParamStore;

/**
 * The Qwen-Image VAE: diffusers' {@code AutoencoderKLQwenImage} (revision 58eb52c0), the causal 3-D
 * "Wan" VAE, on single frames (T = 1), with diffusers' parameter names.
 *
 * <p>Single frame. diffusers encodes frame 0 alone and decodes frame by frame with a feature cache
 * that is empty for the first frame, so every {@code QwenImageCausalConv3d} (time kernel k_t, causal
 * zero padding k_t − 1 in front) sees zeros in front of the frame: it is exactly a 2-D convolution with
 * the last temporal tap {@code weight[:, :, k_t − 1]}. Those taps are taken once, at construction
 * (contiguous copies: about a third of each 3×3×3 weight, in the weights' dtype); the VAE is frozen.
 * The {@code time_conv} of {@code upsample3d} / {@code downsample3d} resamplers is not applied to the
 * first frame (diffusers marks the cache "Rep" / stores the frame instead), so those weights are
 * loaded but never used here.
 *
 * <p>Blocks. {@code RMS_norm}: {@code F.normalize(x, dim=channels)·√C·γ} (x / max(‖x‖₂, 1e-12), in
 * float32 for f16/bf16 inputs). Residual block: {@code conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))) +
 * shortcut(x)} (1×1 shortcut when channels change). Attention: single-head over the h·w positions
 * of the frame, q/k/v = channel thirds of a 1×1 {@code to_qkv}, scale 1/√C, 1×1 {@code proj}, plus
 * the input. Downsample: zero pad right/bottom by 1, 3×3 conv stride 2. Upsample: nearest ×2
 * (diffusers' nearest-exact, identical at factor 2), 3×3 conv pad 1 halving the channels.
 *
 * <p>All tensors stay on the input's device and dtype (which must be the weights').
 */
public final class AutoencoderKLQwenImage {

    /** Receives named intermediates as 5-D [B, C, 1, h, w] tensors (names as the golden {@code inter/enc|dec/*}). */
    @FunctionalInterface
    public interface Probe {
        void record(String name, Tensor value);
    }

    /** The posterior's parameters, each [B, z_dim, 1, h, w]; logvar clamped to [−30, 20] as diffusers does. */
    public record Moments(Tensor mean, Tensor logvar) {}

    private enum Kind { RESIDUAL, ATTENTION, DOWNSAMPLE, UPSAMPLE }

    private record Layer(Kind kind, String name, boolean shortcut) {}

    public final QwenImageVaeConfig cfg;
    /** The weights under their diffusers names (the tensors handed in, not copies). */
    public final ParamStore params;
    private final Map<String, Tensor> conv2d = new HashMap<>();   // causal conv3d name → last temporal tap [O, I, kh, kw]
    private final List<Layer> encoderLayers = new ArrayList<>();
    private final List<List<Layer>> upBlocks = new ArrayList<>();
    private final Map<String, Tensor[]> latentStats = new HashMap<>();

    /**
     * A VAE over the given weights (a diffusers state dict: names and shapes exactly those of
     * {@link #parameterShapes}); the tensors are used as they are, in their dtype and device.
     *
     * @throws IllegalArgumentException naming the key when a tensor is missing, unexpected or of the wrong shape
     */
    public AutoencoderKLQwenImage(QwenImageVaeConfig cfg, Map<String, Tensor> weights) {
        this.cfg = cfg;
        Map<String, long[]> shapes = new LinkedHashMap<>();
        build(cfg, shapes, encoderLayers, upBlocks);
        for (String k : weights.keySet())
            if (!shapes.containsKey(k))
                throw new IllegalArgumentException("AutoencoderKLQwenImage: unexpected tensor '" + k + "' for " + cfg);
        params = new ParamStore();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            Tensor t = weights.get(e.getKey());
            if (t == null)
                throw new IllegalArgumentException("AutoencoderKLQwenImage: missing tensor '" + e.getKey() + "' for " + cfg);
            if (!Arrays.equals(Tensors.shape(t), e.getValue()))
                throw new IllegalArgumentException("AutoencoderKLQwenImage: tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(Tensors.shape(t)) + ", expected " + Arrays.toString(e.getValue()));
            params.put(e.getKey(), t);
        }
        try (NoGradGuard g = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : params.asMap().entrySet()) {
                Tensor w = e.getValue();
                if (e.getKey().endsWith(".weight") && w.dim() == 5) {
                    String conv = e.getKey().substring(0, e.getKey().length() - ".weight".length());
                    if (conv.endsWith(".time_conv")) continue;
                    Tensor tap = w.select(2, w.size(2) - 1).contiguous();
                    tap.retainReference();   // the VAE's weights, whatever scope it was built in
                    conv2d.put(conv, tap);
                }
            }
        }
    }

    /** Every parameter's diffusers name and shape. */
    public static Map<String, long[]> parameterShapes(QwenImageVaeConfig cfg) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        build(cfg, shapes, new ArrayList<>(), new ArrayList<>());
        return shapes;
    }

    /** Mirrors the diffusers constructors: fills the parameter shapes and the layer lists. */
    private static void build(QwenImageVaeConfig cfg, Map<String, long[]> s, List<Layer> enc, List<List<Layer>> up) {
        int[] mult = cfg.dimMult();
        int base = cfg.baseDim(), z = cfg.zDim(), nres = cfg.numResBlocks();
        boolean[] tdown = cfg.temperalDownsample();
        double[] attnScales = cfg.attnScales();

        // encoder: dims = base·[1] + dim_mult
        int[] dims = new int[mult.length + 1];
        dims[0] = base;
        for (int i = 0; i < mult.length; i++) dims[i + 1] = base * mult[i];
        conv3d(s, "encoder.conv_in", dims[0], cfg.inputChannels(), 3);
        double scale = 1.0;
        int idx = 0, outDim = dims[0];
        for (int i = 0; i < mult.length; i++) {
            int in = dims[i];
            outDim = dims[i + 1];
            for (int r = 0; r < nres; r++) {
                String name = "encoder.down_blocks." + idx++;
                residual(s, name, in, outDim);
                enc.add(new Layer(Kind.RESIDUAL, name, in != outDim));
                for (double a : attnScales)
                    if (a == scale) {
                        String an = "encoder.down_blocks." + idx++;
                        attention(s, an, outDim);
                        enc.add(new Layer(Kind.ATTENTION, an, false));
                        break;
                    }
                in = outDim;
            }
            if (i != mult.length - 1) {
                String name = "encoder.down_blocks." + idx++;
                conv2dShape(s, name + ".resample.1", outDim, outDim, 3);
                if (tdown[i]) conv3dTime(s, name + ".time_conv", outDim, outDim);
                enc.add(new Layer(Kind.DOWNSAMPLE, name, false));
                scale /= 2.0;
            }
        }
        midBlock(s, "encoder.mid_block", outDim);
        s.put("encoder.norm_out.gamma", new long[] {outDim, 1, 1, 1});
        conv3d(s, "encoder.conv_out", 2 * z, outDim, 3);
        conv3d(s, "quant_conv", 2 * z, 2 * z, 1);
        conv3d(s, "post_quant_conv", z, z, 1);

        // decoder: dims = base·([dim_mult[-1]] + reversed(dim_mult)), temperal_upsample = reversed(temperal_downsample)
        int[] ddims = new int[mult.length + 1];
        ddims[0] = base * mult[mult.length - 1];
        for (int i = 0; i < mult.length; i++) ddims[i + 1] = base * mult[mult.length - 1 - i];
        conv3d(s, "decoder.conv_in", ddims[0], z, 3);
        midBlock(s, "decoder.mid_block", ddims[0]);
        for (int i = 0; i < mult.length; i++) {
            int in = ddims[i], out = ddims[i + 1];
            if (i > 0) in = in / 2;
            List<Layer> blk = new ArrayList<>();
            for (int r = 0; r < nres + 1; r++) {
                String name = "decoder.up_blocks." + i + ".resnets." + r;
                residual(s, name, in, out);
                blk.add(new Layer(Kind.RESIDUAL, name, in != out));
                in = out;
            }
            if (i != mult.length - 1) {
                String name = "decoder.up_blocks." + i + ".upsamplers.0";
                conv2dShape(s, name + ".resample.1", out / 2, out, 3);
                if (tdown[tdown.length - 1 - i]) conv3dTime(s, name + ".time_conv", 2 * out, out);
                blk.add(new Layer(Kind.UPSAMPLE, name, false));
            }
            up.add(blk);
        }
        int last = ddims[mult.length];
        s.put("decoder.norm_out.gamma", new long[] {last, 1, 1, 1});
        conv3d(s, "decoder.conv_out", cfg.inputChannels(), last, 3);
    }

    private static void conv3d(Map<String, long[]> s, String n, int out, int in, int k) {
        s.put(n + ".weight", new long[] {out, in, k, k, k});
        s.put(n + ".bias", new long[] {out});
    }

    private static void conv3dTime(Map<String, long[]> s, String n, int out, int in) {
        s.put(n + ".weight", new long[] {out, in, 3, 1, 1});
        s.put(n + ".bias", new long[] {out});
    }

    private static void conv2dShape(Map<String, long[]> s, String n, int out, int in, int k) {
        s.put(n + ".weight", new long[] {out, in, k, k});
        s.put(n + ".bias", new long[] {out});
    }

    private static void residual(Map<String, long[]> s, String n, int in, int out) {
        s.put(n + ".norm1.gamma", new long[] {in, 1, 1, 1});
        conv3d(s, n + ".conv1", out, in, 3);
        s.put(n + ".norm2.gamma", new long[] {out, 1, 1, 1});
        conv3d(s, n + ".conv2", out, out, 3);
        if (in != out) conv3d(s, n + ".conv_shortcut", out, in, 1);
    }

    private static void attention(Map<String, long[]> s, String n, int c) {
        s.put(n + ".norm.gamma", new long[] {c, 1, 1});
        conv2dShape(s, n + ".to_qkv", 3 * c, c, 1);
        conv2dShape(s, n + ".proj", c, c, 1);
    }

    private static void midBlock(Map<String, long[]> s, String n, int c) {
        residual(s, n + ".resnets.0", c, c);
        attention(s, n + ".attentions.0", c);
        residual(s, n + ".resnets.1", c, c);
    }

    /** Pixels per latent pixel along each side (the pipelines' vae_scale_factor). */
    public int spatialScale() {
        return cfg.spatialScale();
    }

    // ---------------------------------------------------------------- encode

    /** See {@link #encode(Tensor, Probe)}. */
    public Moments encode(Tensor x) {
        return encode(x, null);
    }

    /**
     * {@code vae.encode(x).latent_dist}: x [B, 3, 1, H, W] (images in [−1, 1], the weights' dtype) →
     * mean and logvar [B, z_dim, 1, H/s, W/s], s = {@link #spatialScale()} (H, W multiples of s).
     */
    public Moments encode(Tensor x, Probe probe) {
        Tensor h = frame(x, cfg.inputChannels(), "x");
        h = conv("encoder.conv_in", h, 1);
        rec(probe, "encoder.conv_in", h);
        for (Layer layer : encoderLayers) {
            h = apply(layer, h);
            rec(probe, layer.name(), h);
        }
        h = midBlock("encoder.mid_block", h);
        rec(probe, "encoder.mid_block", h);
        h = conv("encoder.conv_out", torch.silu(rmsNorm(h, params.get("encoder.norm_out.gamma"))), 1);
        rec(probe, "encoder", h);
        h = conv("quant_conv", h, 0).unsqueeze(2);
        Tensor[] ml = Tensors.owned(h.chunk(2, 1));
        Tensor logvar = ml[1].clamp(new ScalarOptional(new Scalar(-30.0)), new ScalarOptional(new Scalar(20.0)));
        return new Moments(ml[0], logvar);
    }

    // ---------------------------------------------------------------- decode

    /** See {@link #decode(Tensor, Probe)}. */
    public Tensor decode(Tensor z) {
        return decode(z, null);
    }

    /**
     * {@code vae.decode(z).sample}: z [B, z_dim, 1, h, w] (raw latents: no latents_mean/std applied here;
     * the weights' dtype) → [B, 3, 1, h·s, w·s] clamped to [−1, 1].
     */
    public Tensor decode(Tensor z, Probe probe) {
        Tensor h = frame(z, cfg.zDim(), "z");
        h = conv("post_quant_conv", h, 0);
        rec(probe, "post_quant_conv", h);
        h = conv("decoder.conv_in", h, 1);
        rec(probe, "decoder.conv_in", h);
        h = midBlock("decoder.mid_block", h);
        rec(probe, "decoder.mid_block", h);
        for (int i = 0; i < upBlocks.size(); i++) {
            for (Layer layer : upBlocks.get(i)) h = apply(layer, h);
            rec(probe, "decoder.up_blocks." + i, h);
        }
        h = conv("decoder.conv_out", torch.silu(rmsNorm(h, params.get("decoder.norm_out.gamma"))), 1);
        rec(probe, "decoder", h);
        return h.clamp(new ScalarOptional(new Scalar(-1.0)), new ScalarOptional(new Scalar(1.0))).unsqueeze(2);
    }

    // ---------------------------------------------------------------- pipeline conventions

    /** The Edit pipelines' latent normalisation: (latents − latents_mean) / latents_std, per channel; [B, z, 1, h, w]. */
    public Tensor normalizeLatents(Tensor latents) {
        Tensor[] ms = stats(latents);
        return latents.sub(ms[0]).div(ms[1]);
    }

    /**
     * The inverse, in the pipelines' exact op order: {@code latents / (1 / latents_std) + latents_mean}
     * (1/std rounded in float32 first, as {@code 1.0 / torch.tensor(std)}); [B, z, 1, h, w].
     */
    public Tensor denormalizeLatents(Tensor latents) {
        Tensor[] ms = stats(latents);
        return latents.div(ms[2]).add(ms[0]);
    }

    /**
     * What {@code QwenImageEditPlusPipeline} does to a (preprocessed) image: encode, take the posterior
     * mode (the mean), normalise. image [B, 3, H, W] in [−1, 1] → latents [B, z_dim, 1, H/s, W/s].
     * {@link QwenLatentPacking#pack} turns them into tokens.
     */
    public Tensor encodeImage(Tensor image) {
        if (image.dim() != 4) throw new IllegalArgumentException("encodeImage: [B, 3, H, W] expected, got "
                + Arrays.toString(Tensors.shape(image)));
        return normalizeLatents(encode(image.unsqueeze(2)).mean());
    }

    /**
     * What the pipeline does with final latents: de-normalise, decode, take frame 0.
     * latents [B, z_dim, 1, h, w] (e.g. from {@link QwenLatentPacking#unpack}) → image [B, 3, h·s, w·s] in [−1, 1].
     */
    public Tensor decodeImage(Tensor latents) {
        return decode(denormalizeLatents(latents)).select(2, 0);
    }

    /** [1, z, 1, 1, 1] mean, std and float32-rounded 1/std in latents' dtype and device (cached). */
    private synchronized Tensor[] stats(Tensor latents) {
        if (latents.dim() != 5 || latents.size(1) != cfg.zDim())
            throw new IllegalArgumentException("latents must be [B, " + cfg.zDim() + ", T, h, w], got "
                    + Arrays.toString(Tensors.shape(latents)));
        Device dev = latents.device();
        ScalarType dt = latents.scalar_type().intern();
        String key = dev.type() + ":" + dev.index() + ":" + dt;
        Tensor[] t = latentStats.get(key);
        if (t == null) {
            double[] mean = cfg.latentsMean(), std = cfg.latentsStd();
            int z = cfg.zDim();
            float[] m = new float[z], s = new float[z], inv = new float[z];
            for (int i = 0; i < z; i++) {
                m[i] = (float) mean[i];
                s[i] = (float) std[i];
                inv[i] = 1.0f / s[i];
            }
            t = new Tensor[] {Tensors.fromFloats(m, 1, z, 1, 1, 1).to(dev, dt), Tensors.fromFloats(s, 1, z, 1, 1, 1).to(dev, dt),
                    Tensors.fromFloats(inv, 1, z, 1, 1, 1).to(dev, dt)};
            for (Tensor x : t) x.retainReference();   // the VAE's, not the scope's of the first encode or decode
            latentStats.put(key, t);
        }
        return t;
    }

    // ---------------------------------------------------------------- blocks (on [B, C, H, W], the single frame)

    private Tensor frame(Tensor x, int channels, String what) {
        if (x.dim() != 5 || x.size(1) != channels || x.size(2) != 1)
            throw new IllegalArgumentException(what + " must be [B, " + channels + ", 1, H, W] (a single frame), got "
                    + Arrays.toString(Tensors.shape(x)));
        ScalarType wt = params.get("post_quant_conv.weight").scalar_type().intern();
        if (x.scalar_type().intern() != wt)
            throw new IllegalArgumentException(what + " has dtype " + x.scalar_type().intern() + ", the weights " + wt);
        return x.select(2, 0);
    }

    private Tensor apply(Layer layer, Tensor h) {
        return switch (layer.kind()) {
            case RESIDUAL -> residual(layer.name(), h, layer.shortcut());
            case ATTENTION -> attention(layer.name(), h);
            case DOWNSAMPLE -> Layers.conv2d(torch.constant_pad_nd(h, new long[] {0, 1, 0, 1}, new Scalar(0.0)),
                    params.get(layer.name() + ".resample.1.weight"), params.get(layer.name() + ".resample.1.bias"), 2, 0);
            case UPSAMPLE -> Layers.conv2d(torch.upsample_nearest2d(h, new long[] {2 * h.size(2), 2 * h.size(3)}),
                    params.get(layer.name() + ".resample.1.weight"), params.get(layer.name() + ".resample.1.bias"), 1, 1);
        };
    }

    /** A causal conv3d on the first frame: 2-D conv with its last temporal tap, spatial zero padding pad. */
    private Tensor conv(String name, Tensor x, int pad) {
        return Layers.conv2d(x, conv2d.get(name), params.get(name + ".bias"), 1, pad);
    }

    private Tensor residual(String n, Tensor x, boolean shortcut) {
        Tensor h = shortcut ? conv(n + ".conv_shortcut", x, 0) : x;
        Tensor y = conv(n + ".conv1", torch.silu(rmsNorm(x, params.get(n + ".norm1.gamma"))), 1);
        y = conv(n + ".conv2", torch.silu(rmsNorm(y, params.get(n + ".norm2.gamma"))), 1);
        return y.add(h);
    }

    private Tensor attention(String n, Tensor x) {
        long b = x.size(0), c = x.size(1), hh = x.size(2), ww = x.size(3);
        Tensor h = rmsNorm(x, params.get(n + ".norm.gamma"));
        Tensor qkv = Layers.conv2d(h, params.get(n + ".to_qkv.weight"), params.get(n + ".to_qkv.bias"), 1, 0);
        qkv = qkv.reshape(b, 1, 3 * c, hh * ww).permute(0, 1, 3, 2);       // [B, 1, HW, 3C]
        Tensor[] q = Tensors.owned(qkv.chunk(3, -1));
        Tensor o = torch.scaled_dot_product_attention(q[0], q[1], q[2]);   // [B, 1, HW, C]
        o = o.squeeze(1).permute(0, 2, 1).reshape(b, c, hh, ww);
        o = Layers.conv2d(o, params.get(n + ".proj.weight"), params.get(n + ".proj.bias"), 1, 0);
        return o.add(x);
    }

    private Tensor midBlock(String n, Tensor x) {
        x = residual(n + ".resnets.0", x, false);
        x = attention(n + ".attentions.0", x);
        return residual(n + ".resnets.1", x, false);
    }

    /**
     * {@code F.normalize(x, dim=1)·√C·γ}: x / max(‖x‖₂ over channels, 1e-12) (in float32 for f16/bf16
     * inputs, then back), times √C, times γ ([C, 1, 1, 1] or [C, 1, 1], viewed as [C, 1, 1]).
     */
    static Tensor rmsNorm(Tensor x, Tensor gamma) {
        ScalarType dt = x.scalar_type().intern();
        boolean up = dt == ScalarType.Half || dt == ScalarType.BFloat16;
        Tensor xf = up ? x.to(ScalarType.Float) : x;
        Tensor den = torch.linalg_vector_norm(xf, new Scalar(2.0), new long[] {1}, true, new ScalarTypeOptional())
                .clamp_min(new Scalar(1e-12));
        Tensor n = xf.div(den);
        if (up) n = n.to(dt);
        long c = x.size(1);
        return n.mul(new Scalar(Math.sqrt(c))).mul(gamma.view(c, 1, 1));
    }

    private static void rec(Probe probe, String name, Tensor t) {
        if (probe != null) probe.record(name, t.unsqueeze(2));
    }
}
