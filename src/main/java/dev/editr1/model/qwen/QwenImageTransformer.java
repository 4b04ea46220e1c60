package dev.editr1.model.qwen;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.Scopes;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.EditingModel;
import dev.editr1.model.Layers;
import dev.editr1.model.LoraAdapter;
import dev.editr1.model.ParamStore;

/**
 * Qwen-Image(-Edit) transformer: diffusers' {@code QwenImageTransformer2DModel} (revision
 * 58eb52c0, 0.40.0.dev0) on libtorch, with diffusers' parameter names.
 *
 * <p>Data flow: image tokens {@code img_in(hidden_states)}; text tokens
 * {@code txt_in(txt_norm(encoder_hidden_states))} (RMSNorm eps 1e-6); the timestep embedding
 * {@code temb = linear_2(SiLU(linear_1([cos a, sin a])))}, a_k = 1000·(t·f_k), f_k = 10000^(−k/128);
 * {@code num_layers} dual-stream blocks with joint attention over [text, image]; then
 * {@code proj_out(norm_out(image, temb))}. Each block: per stream {@code mod(SiLU(temb))} split
 * [shift1, scale1, gate1, shift2, scale2, gate2], {@code x += gate1·attn(LN(x)(1+scale1)+shift1)},
 * {@code x += gate2·MLP(LN(x)(1+scale2)+shift2)} (LayerNorm eps 1e-6 without affine, GELU-tanh MLP
 * of width 4D); attention with per-head RMSNorm on q and k, 3-axis RoPE ({@link QwenRope}),
 * softmax(q·kᵀ/√head_dim)·v. {@code norm_out} splits its projection [scale, shift] (scale first).
 *
 * <p>Every Linear goes through {@link Layers#linear}, so a {@link LoraAdapter} applies to whichever
 * modules it names. The default targets are {@link #defaultLoraTargets}; note that only the image
 * stream leaves the last block, so the last block's {@code attn.to_add_out} cannot affect the output
 * (its LoRA gradients are absent: no autograd path, i.e. zero), and neither can its
 * {@code attn.add_q_proj} (text queries only produce text rows; its gradients are exactly zero).
 *
 * <p>dtype and device: the weights and {@code hidden_states} / {@code encoder_hidden_states} must share
 * a dtype (f32, bf16 or f16) and a device; every intermediate stays there. Normalisations and the RoPE
 * rotation run in float32 where diffusers does (RMSNorm variance, rotation), as does the timestep
 * sinusoid.
 */
public final class QwenImageTransformer {

    /**
     * How {@code encoder_hidden_states_mask} is used.
     * <ul>
     * <li>{@link #MASK_KEYS} (default; diffusers since the forward dropped {@code txt_seq_lens}): masked
     * text tokens are excluded as attention keys for every query (text and image); image keys are
     * always valid. Masked text rows are still computed (they only feed the text stream).</li>
     * <li>{@link #IGNORE}: the mask is checked for shape and otherwise ignored, as diffusers ≤ 0.36.0 did
     * (the releases whose forward took {@code txt_seq_lens}; Edit-R1's training ran one). Padded text
     * tokens then take part as keys. The text RoPE length is L in both modes (0.36 used max(txt_seq_lens),
     * which had to equal L there for the shapes to agree).</li>
     * </ul>
     * An all-ones mask gives the same output as no mask in both modes.
     */
    public enum TextMask { MASK_KEYS, IGNORE }

    /** Receives named intermediates (names as the diffusers sub-modules / golden {@code inter/*}). */
    @FunctionalInterface
    public interface Probe {
        void record(String name, Tensor value);
    }

    static final double NORM_EPS = 1e-6;
    static final int TIME_CHANNELS = 256;

    public final QwenImageConfig cfg;
    /** The weights under their diffusers names (the tensors handed in, not copies). */
    public final ParamStore params;
    public final TextMask textMask;
    private final QwenRope rope;

    /** A transformer over the given weights with the default mask behaviour ({@link TextMask#MASK_KEYS}). */
    public QwenImageTransformer(QwenImageConfig cfg, Map<String, Tensor> weights) {
        this(cfg, weights, TextMask.MASK_KEYS);
    }

    /**
     * A transformer over the given weights (a diffusers state dict: names and shapes exactly those of
     * {@link #parameterShapes}); the tensors are used as they are (no copy), in their dtype and device.
     *
     * @throws IllegalArgumentException naming the key when a tensor is missing, unexpected or of the wrong shape
     */
    public QwenImageTransformer(QwenImageConfig cfg, Map<String, Tensor> weights, TextMask textMask) {
        this(cfg, checked(cfg, weights), textMask, new QwenRope(cfg.axesDimsRope()));
    }

    private QwenImageTransformer(QwenImageConfig cfg, ParamStore params, TextMask textMask, QwenRope rope) {
        this.cfg = cfg;
        this.params = params;
        this.textMask = textMask == null ? TextMask.MASK_KEYS : textMask;
        this.rope = rope;
    }

    /** The same weights (shared, not copied) with another mask behaviour. */
    public QwenImageTransformer withTextMask(TextMask mode) {
        return new QwenImageTransformer(cfg, params, mode, rope);
    }

    private static ParamStore checked(QwenImageConfig cfg, Map<String, Tensor> weights) {
        Map<String, long[]> shapes = parameterShapes(cfg);
        for (String k : weights.keySet())
            if (!shapes.containsKey(k))
                throw new IllegalArgumentException("QwenImageTransformer: unexpected tensor '" + k + "' for " + cfg);
        ParamStore p = new ParamStore();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            Tensor t = weights.get(e.getKey());
            if (t == null)
                throw new IllegalArgumentException("QwenImageTransformer: missing tensor '" + e.getKey() + "' for " + cfg);
            long[] s = Tensors.shape(t);
            if (!Arrays.equals(s, e.getValue()))
                throw new IllegalArgumentException("QwenImageTransformer: tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(s) + ", expected " + Arrays.toString(e.getValue()));
            p.put(e.getKey(), t);
        }
        return p;
    }

    /** Every parameter's diffusers name and shape, in state-dict order of the modules. */
    public static Map<String, long[]> parameterShapes(QwenImageConfig cfg) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = cfg.innerDim(), hd = cfg.attentionHeadDim(), txt = cfg.jointAttentionDim();
        linear(m, "time_text_embed.timestep_embedder.linear_1", d, TIME_CHANNELS);
        linear(m, "time_text_embed.timestep_embedder.linear_2", d, d);
        m.put("txt_norm.weight", new long[] {txt});
        linear(m, "img_in", d, cfg.inChannels());
        linear(m, "txt_in", d, txt);
        for (int i = 0; i < cfg.numLayers(); i++) {
            String b = "transformer_blocks." + i + ".";
            linear(m, b + "img_mod.1", 6 * d, d);
            for (String q : new String[] {"to_q", "to_k", "to_v"}) linear(m, b + "attn." + q, d, d);
            for (String q : new String[] {"add_k_proj", "add_v_proj", "add_q_proj"}) linear(m, b + "attn." + q, d, d);
            for (String n : new String[] {"norm_q", "norm_k", "norm_added_q", "norm_added_k"})
                m.put(b + "attn." + n + ".weight", new long[] {hd});
            linear(m, b + "attn.to_out.0", d, d);
            linear(m, b + "attn.to_add_out", d, d);
            linear(m, b + "img_mlp.net.0.proj", 4 * d, d);
            linear(m, b + "img_mlp.net.2", d, 4 * d);
            linear(m, b + "txt_mod.1", 6 * d, d);
            linear(m, b + "txt_mlp.net.0.proj", 4 * d, d);
            linear(m, b + "txt_mlp.net.2", d, 4 * d);
        }
        linear(m, "norm_out.linear", 2 * d, d);
        linear(m, "proj_out", cfg.outTokenDim(), d);
        return m;
    }

    private static void linear(Map<String, long[]> m, String name, long out, long in) {
        m.put(name + ".weight", new long[] {out, in});
        m.put(name + ".bias", new long[] {out});
    }

    /**
     * Edit-R1's LoRA targets: {@code transformer_blocks.{i}.attn.{to_q, to_k, to_v, to_out.0,
     * add_q_proj, add_k_proj, add_v_proj, to_add_out}} with the [out, in] shapes of their weights, for
     * {@link LoraAdapter#create}. The last block's {@code to_add_out} (and {@code add_q_proj}) are
     * included, as Edit-R1 does, but cannot affect the image output: only the image stream leaves the
     * last block, so their gradients are zero (to_add_out's absent from the autograd graph).
     */
    public static Map<String, long[]> defaultLoraTargets(QwenImageConfig cfg) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = cfg.innerDim();
        for (int i = 0; i < cfg.numLayers(); i++)
            for (String t : new String[] {"to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"})
                m.put("transformer_blocks." + i + ".attn." + t, new long[] {d, d});
        return m;
    }

    /** See {@link #forward(Tensor, Tensor, Tensor, Tensor, List, LoraAdapter, Probe)}; no probe. */
    public Tensor forward(Tensor hiddenStates, Tensor encoderHiddenStates, Tensor encoderHiddenStatesMask,
                          Tensor timestep, List<ImageShape> imgShapes, LoraAdapter lora) {
        return forward(hiddenStates, encoderHiddenStates, encoderHiddenStatesMask, timestep, imgShapes, lora, null);
    }

    /**
     * The model's prediction for every image token (diffusers' {@code forward(..., return_dict=False)[0]}).
     *
     * @param hiddenStates             [B, N, in_channels], the weights' dtype: the target's tokens first, then
     *                                 each reference's, as listed by imgShapes (N = Σ f·h·w)
     * @param encoderHiddenStates      [B, L, joint_attention_dim], the weights' dtype (text encoder states)
     * @param encoderHiddenStatesMask  [B, L] any dtype, on the model's device, nonzero = valid token, or null (all valid); how it is
     *                                 used depends on {@link #textMask}
     * @param timestep                 [B] any floating dtype, on the model's device: sigma in [0, 1] (pipelines
     *                                 pass t/1000); cast to the weights' dtype, ×1000 inside the sinusoid. As in
     *                                 diffusers, in bf16 both t and the sinusoid's frequencies are rounded to
     *                                 bf16 before the float32 product, so the phases differ from f32 by up to
     *                                 radians — by design (that is the model Edit-R1 trained in bf16)
     * @param imgShapes                (frames, height, width) token grids: target first, then references —
     *                                 shared by every sample of the batch
     * @param lora                     an adapter over any of the Linear modules, or null
     * @param probe                    receives intermediates under the diffusers names, or null
     * @return [B, N, patch_size²·out_channels] in the weights' dtype; the target's prediction is
     *         {@code narrow(1, 0, imgShapes.get(0).tokens())}
     */
    public Tensor forward(Tensor hiddenStates, Tensor encoderHiddenStates, Tensor encoderHiddenStatesMask,
                          Tensor timestep, List<ImageShape> imgShapes, LoraAdapter lora, Probe probe) {
        if (probe != null) {   // every intermediate handed to the probe: no scopes
            Stem s = stem(hiddenStates, encoderHiddenStates, encoderHiddenStatesMask, timestep, imgShapes, lora, probe);
            Tensor txt = s.txt(), img = s.img();
            for (int i = 0; i < cfg.numLayers(); i++) {
                Tensor[] ti = block(i, txt, img, s, lora, probe);
                txt = ti[0];
                img = ti[1];
            }
            return head(img, s, lora, probe);
        }
        // each block in a scope of its own that keeps only its outputs; a block's inputs are released
        // once it has run (without a graph they die then; with one, autograd keeps what backward needs)
        Stem s = Scopes.keep(() -> stem(hiddenStates, encoderHiddenStates, encoderHiddenStatesMask, timestep, imgShapes, lora, null),
                Stem::tensors);
        Tensor txt = s.txt(), img = s.img();
        for (int i = 0; i < cfg.numLayers(); i++) {
            final int bi = i;
            final Tensor ti = txt, ii = img;
            Tensor[] out = Scopes.keep(() -> block(bi, ti, ii, s, lora, null), r -> r);
            Scopes.release(ti, ii);
            txt = out[0];
            img = out[1];
        }
        return head(img, s, lora, null);
    }

    /**
     * The forward with per-block gradient checkpointing, and its backward: the forward runs without a
     * graph and keeps each block's inputs (text and image streams); backward recomputes the blocks one
     * at a time from the last, backs the incoming gradient through each into the adapter, and hands
     * the gradients of its inputs to the block before. Memory: one stored input per block plus one
     * block's graph; cost: one extra forward of the blocks. The adapter must target the blocks only
     * (Edit-R1's targets do); the embedders run without a graph, the output layers with their own.
     * The last block's text stream never reaches the output, so only its image output is backed.
     *
     * @return the output [B, N, patch²·out_channels] (as {@link #forward}) and the backward taking its gradient
     */
    public EditingModel.TrainingForward forwardCheckpointed(Tensor hiddenStates, Tensor encoderHiddenStates,
            Tensor encoderHiddenStatesMask, Tensor timestep, List<ImageShape> imgShapes, LoraAdapter lora) {
        if (lora != null)
            for (String k : lora.params.asMap().keySet())
                if (!k.startsWith("transformer_blocks."))
                    throw new IllegalArgumentException("gradient checkpointing needs LoRA on the blocks only; the adapter targets "
                            + k.substring(0, k.indexOf(".lora_")));
        int layers = cfg.numLayers();
        Tensor[][] in = new Tensor[layers][];
        Stem s;
        Tensor last;
        try (NoGradGuard g = new NoGradGuard()) {
            s = Scopes.keep(() -> stem(hiddenStates, encoderHiddenStates, encoderHiddenStatesMask, timestep, imgShapes, lora, null),
                    Stem::tensors);
            Tensor txt = s.txt(), img = s.img();
            for (int i = 0; i < layers; i++) {
                in[i] = new Tensor[] {txt, img};
                final int bi = i;
                final Tensor ti = txt, ii = img;
                Tensor[] out = Scopes.keep(() -> block(bi, ti, ii, s, lora, null), r -> r);
                txt = out[0];
                img = out[1];
            }
            last = img;
        }
        Tensor leaf = last.detach().set_requires_grad(true);
        Tensor out = head(leaf, s, lora, null);
        return new EditingModel.TrainingForward(out, grad -> {
            backward(new Tensor[] {out}, new Tensor[] {grad});
            Tensor gi = leaf.grad().detach(), gt = null;
            List<Tensor> owned = new ArrayList<>();   // gradients kept past their block's scope
            for (int i = layers - 1; i >= 0; i--) {
                final int bi = i;
                boolean needInput = i > 0;   // the embedders are frozen: block 0's inputs need no gradient
                Tensor gtNext = null, giNext = null;
                try (PointerScope scope = new PointerScope()) {
                    Tensor ti = in[i][0].detach().set_requires_grad(needInput), ii = in[i][1].detach().set_requires_grad(needInput);
                    Tensor[] o = Scopes.keep(() -> block(bi, ti, ii, s, lora, null), r -> r);
                    NativeMemory.mark();
                    if (gt == null) backward(new Tensor[] {o[1]}, new Tensor[] {gi});   // the last block: its text output is unused
                    else backward(o, new Tensor[] {gt, gi});
                    if (needInput) {
                        gtNext = ti.grad().detach();   // grad() is a view of the input's field: a handle of our own
                        giNext = ii.grad().detach();
                        gtNext.retainReference();
                        giNext.retainReference();
                    }
                }
                if (gtNext != null) {
                    owned.add(gtNext);
                    owned.add(giNext);
                }
                gt = gtNext;
                gi = giNext;
            }
            for (Tensor t : owned) t.releaseReference();
        });
    }

    private static void backward(Tensor[] outputs, Tensor[] grads) {
        torch.backward(new TensorVector(outputs), new TensorVector(grads), new BoolOptional(), false, new TensorVector());
    }

    /**
     * What every block reads, computed once: the text and image streams after their embedders,
     * SiLU(temb) for the image modulation ([B or 2B, D]) and for the text stream and norm_out
     * ([B, D]), the RoPE tables (the rope cache's), the joint key mask or null, and zero_cond_t's
     * target-token selector or null.
     */
    private record Stem(Tensor txt, Tensor img, Tensor act, Tensor actTxt, Tensor cos, Tensor sin, Tensor mask, Tensor isTarget,
                        long b) {
        /** The tensors the stem made (a tensor listed once: with zero_cond_t off, actTxt is act). */
        Tensor[] tensors() {
            return new Tensor[] {txt, img, act, actTxt == act ? null : actTxt, mask, isTarget};
        }
    }

    private Stem stem(Tensor hiddenStates, Tensor encoderHiddenStates, Tensor encoderHiddenStatesMask, Tensor timestep,
                      List<ImageShape> imgShapes, LoraAdapter lora, Probe probe) {
        long b = checkInputs(hiddenStates, encoderHiddenStates, encoderHiddenStatesMask, timestep, imgShapes);
        long n = hiddenStates.size(1), l = encoderHiddenStates.size(1);
        ScalarType dtype = hiddenStates.scalar_type().intern();

        Tensor img = lin("img_in", hiddenStates, lora);
        rec(probe, "img_in", img);

        // Timestep: diffusers casts to the model dtype first; zero_cond_t doubles the batch with t = 0.
        Tensor t = timestep.to(dtype);
        if (cfg.zeroCondT()) t = torch.cat(new TensorVector(t, t.mul(new Scalar(0.0))), 0);

        Tensor txt = rmsNorm(encoderHiddenStates, params.get("txt_norm.weight"));
        rec(probe, "txt_norm", txt);
        txt = lin("txt_in", txt, lora);
        rec(probe, "txt_in", txt);

        Tensor proj = timestepProjection(t).to(dtype);
        rec(probe, "time_proj", proj);
        Tensor temb = lin("time_text_embed.timestep_embedder.linear_2",
                torch.silu(lin("time_text_embed.timestep_embedder.linear_1", proj, lora)), lora);
        rec(probe, "temb", temb);
        Tensor act = torch.silu(temb);                                    // [B or 2B, D], the mod layers' input
        Tensor actTxt = cfg.zeroCondT() ? act.narrow(0, 0, b) : act;    // text stream and norm_out: real t only

        Tensor[] cs = rope.jointTables(imgShapes, l, hiddenStates.device());

        // Joint key mask [B, 1, 1, L + N] (true = attend): masked text keys removed, image keys always valid.
        Tensor mask = null;
        if (encoderHiddenStatesMask != null && textMask == TextMask.MASK_KEYS) {
            Tensor txtValid = encoderHiddenStatesMask.ne(new Scalar(0));
            Tensor imgValid = torch.ones(new long[] {b, n}, Tensors.options(ScalarType.Bool, hiddenStates.device()));
            mask = torch.cat(new TensorVector(txtValid, imgValid), 1).view(b, 1, 1, l + n);
        }

        // zero_cond_t: target tokens take rows [0, B) of the image modulation, reference tokens rows [B, 2B).
        Tensor isTarget = null;
        if (cfg.zeroCondT()) {
            long nt = imgShapes.get(0).tokens();
            isTarget = torch.arange(new Scalar(n), Tensors.options(ScalarType.Long, hiddenStates.device()))
                    .lt(new Scalar(nt)).view(1, n, 1);
        }
        return new Stem(txt, img, act, actTxt, cs[0], cs[1], mask, isTarget, b);
    }

    /** Block i on the text [B, L, D] and image [B, N, D] streams; returns {text, image}. */
    private Tensor[] block(int i, Tensor txt, Tensor img, Stem s, LoraAdapter lora, Probe probe) {
        long l = txt.size(1), n = img.size(1);
        long heads = cfg.numAttentionHeads(), hd = cfg.attentionHeadDim();
        ScalarType dtype = img.scalar_type().intern();
        String p = "transformer_blocks." + i + ".";
        Tensor imgMod = lin(p + "img_mod.1", s.act(), lora);              // [B or 2B, 6D]
        rec(probe, p + "img_mod", imgMod);
        Tensor txtMod = lin(p + "txt_mod.1", s.actTxt(), lora);           // [B, 6D]
        rec(probe, p + "txt_mod", txtMod);
        Tensor[] im = modulation(imgMod, s.b(), s.isTarget());           // shift1, scale1, gate1, shift2, scale2, gate2
        Tensor[] tm = modulation(txtMod, s.b(), null);

        Tensor imgIn = modulate(layerNorm(img), im[0], im[1]);
        Tensor txtIn = modulate(layerNorm(txt), tm[0], tm[1]);

        // Joint attention: heads are contiguous chunks of head_dim; sequence order [text, image].
        String a = p + "attn.";
        Tensor q = torch.cat(new TensorVector(
                rmsNorm(lin(a + "add_q_proj", txtIn, lora).unflatten(-1, heads, hd), params.get(a + "norm_added_q.weight")),
                rmsNorm(lin(a + "to_q", imgIn, lora).unflatten(-1, heads, hd), params.get(a + "norm_q.weight"))), 1);
        Tensor k = torch.cat(new TensorVector(
                rmsNorm(lin(a + "add_k_proj", txtIn, lora).unflatten(-1, heads, hd), params.get(a + "norm_added_k.weight")),
                rmsNorm(lin(a + "to_k", imgIn, lora).unflatten(-1, heads, hd), params.get(a + "norm_k.weight"))), 1);
        Tensor v = torch.cat(new TensorVector(
                lin(a + "add_v_proj", txtIn, lora).unflatten(-1, heads, hd),
                lin(a + "to_v", imgIn, lora).unflatten(-1, heads, hd)), 1);
        q = QwenRope.apply(q, s.cos(), s.sin());
        k = QwenRope.apply(k, s.cos(), s.sin());
        TensorOptional mask = s.mask() == null ? new TensorOptional() : new TensorOptional(s.mask());
        Tensor o = torch.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                mask, 0.0, false, new DoubleOptional(), false);      // [B, H, L + N, hd]
        o = o.transpose(1, 2).flatten(2, 3);                          // [B, L + N, D]
        Tensor imgAttn = lin(a + "to_out.0", o.narrow(1, l, n), lora);
        Tensor txtAttn = lin(a + "to_add_out", o.narrow(1, 0, l), lora);
        rec(probe, p + "attn.0", imgAttn);
        rec(probe, p + "attn.1", txtAttn);

        img = img.add(im[2].mul(imgAttn));
        txt = txt.add(tm[2].mul(txtAttn));
        img = img.add(im[5].mul(mlp(p + "img_mlp", modulate(layerNorm(img), im[3], im[4]), lora)));
        txt = txt.add(tm[5].mul(mlp(p + "txt_mlp", modulate(layerNorm(txt), tm[3], tm[4]), lora)));
        if (dtype == ScalarType.Half) {                              // diffusers clips to f16's range
            txt = txt.clamp(new org.bytedeco.pytorch.ScalarOptional(new Scalar(-65504.0)),
                    new org.bytedeco.pytorch.ScalarOptional(new Scalar(65504.0)));
            img = img.clamp(new org.bytedeco.pytorch.ScalarOptional(new Scalar(-65504.0)),
                    new org.bytedeco.pytorch.ScalarOptional(new Scalar(65504.0)));
        }
        rec(probe, p + "0", txt);
        rec(probe, p + "1", img);
        NativeMemory.mark();   // the block's high-water point: in a scoped forward every intermediate above is still alive
        return new Tensor[] {txt, img};
    }

    /** norm_out (linear(SiLU(temb)) split [scale, shift]: scale first) and proj_out on the image stream. */
    private Tensor head(Tensor img, Stem s, LoraAdapter lora, Probe probe) {
        Tensor[] ss = Tensors.owned(lin("norm_out.linear", s.actTxt(), lora).chunk(2, 1));
        Tensor out = modulate(layerNorm(img), ss[1].unsqueeze(1), ss[0].unsqueeze(1));
        rec(probe, "norm_out", out);
        return lin("proj_out", out, lora);
    }

    private long checkInputs(Tensor hs, Tensor ehs, Tensor mask, Tensor t, List<ImageShape> shapes) {
        if (hs.dim() != 3 || hs.size(2) != cfg.inChannels())
            throw new IllegalArgumentException("hidden_states must be [B, N, " + cfg.inChannels() + "], got "
                    + Arrays.toString(Tensors.shape(hs)));
        long b = hs.size(0);
        if (ehs.dim() != 3 || ehs.size(0) != b || ehs.size(2) != cfg.jointAttentionDim())
            throw new IllegalArgumentException("encoder_hidden_states must be [" + b + ", L, " + cfg.jointAttentionDim()
                    + "], got " + Arrays.toString(Tensors.shape(ehs)));
        if (mask != null && (mask.dim() != 2 || mask.size(0) != b || mask.size(1) != ehs.size(1)))
            throw new IllegalArgumentException("encoder_hidden_states_mask must be [" + b + ", " + ehs.size(1) + "], got "
                    + Arrays.toString(Tensors.shape(mask)));
        if (t.dim() != 1 || t.size(0) != b)
            throw new IllegalArgumentException("timestep must be [" + b + "], got " + Arrays.toString(Tensors.shape(t)));
        if (shapes == null || shapes.isEmpty())
            throw new IllegalArgumentException("img_shapes must list at least the target image");
        long total = 0;
        for (ImageShape s : shapes) total += s.tokens();
        if (total != hs.size(1))
            throw new IllegalArgumentException("img_shapes " + shapes + " hold " + total + " tokens, hidden_states has "
                    + hs.size(1));
        ScalarType wt = params.get("img_in.weight").scalar_type().intern();
        if (hs.scalar_type().intern() != wt || ehs.scalar_type().intern() != wt)
            throw new IllegalArgumentException("hidden_states (" + hs.scalar_type().intern() + ") and encoder_hidden_states ("
                    + ehs.scalar_type().intern() + ") must have the weights' dtype " + wt);
        return b;
    }

    /**
     * The sinusoid of diffusers' {@code Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0,
     * scale=1000)}: f_k = exp(−ln(10000)·k/128) in float32, rounded to t's dtype, a_k = 1000·(t·f_k) in
     * float32, features [cos a, sin a]. t [T] → [T, 256] float32.
     */
    static Tensor timestepProjection(Tensor t) {
        int half = TIME_CHANNELS / 2;
        Tensor k = torch.arange(new Scalar(0), new Scalar(half), Tensors.options(ScalarType.Float, t.device()));
        Tensor f = k.mul(new Scalar(-Math.log(10000.0))).div(new Scalar((double) half)).exp()
                .to(t.scalar_type().intern());
        Tensor arg = t.unsqueeze(1).to(ScalarType.Float).mul(f.unsqueeze(0)).mul(new Scalar(1000.0));
        return torch.cat(new TensorVector(arg.cos(), arg.sin()), 1);
    }

    /**
     * The six [rows, 1 or N, D] modulation tensors of a [B or 2B, 6D] projection. With isTarget
     * (zero_cond_t), rows [0, B) apply to target tokens and rows [B, 2B) to the others.
     */
    private static Tensor[] modulation(Tensor mod, long b, Tensor isTarget) {
        Tensor[] c = Tensors.owned(mod.chunk(6, 1));
        Tensor[] out = new Tensor[6];
        for (int j = 0; j < 6; j++) {
            Tensor x = c[j];
            out[j] = isTarget == null ? x.unsqueeze(1)
                    : x.narrow(0, 0, b).unsqueeze(1).where(isTarget, x.narrow(0, b, b).unsqueeze(1));
        }
        return out;
    }

    private static Tensor modulate(Tensor x, Tensor shift, Tensor scale) {
        return x.mul(scale.add(new Scalar(1.0))).add(shift);
    }

    private Tensor layerNorm(Tensor x) {
        return torch.layer_norm(x, new long[] {cfg.innerDim()}, new TensorOptional(), new TensorOptional(), NORM_EPS, false);
    }

    /**
     * diffusers' RMSNorm: x·rsqrt(mean(x², float32) + 1e-6), cast to the weight's dtype when that is
     * f16/bf16, times the weight (over the last dim).
     */
    static Tensor rmsNorm(Tensor x, Tensor w) {
        Tensor var = x.to(ScalarType.Float).pow(new Scalar(2)).mean(new long[] {-1}, true, new ScalarTypeOptional());
        Tensor h = x.mul(torch.rsqrt(var.add(new Scalar(NORM_EPS))));
        ScalarType wt = w.scalar_type().intern();
        if (wt == ScalarType.Half || wt == ScalarType.BFloat16) h = h.to(wt);
        return h.mul(w);
    }

    private Tensor mlp(String prefix, Tensor x, LoraAdapter lora) {
        return lin(prefix + ".net.2", torch.gelu(lin(prefix + ".net.0.proj", x, lora), "tanh"), lora);
    }

    private Tensor lin(String module, Tensor x, LoraAdapter lora) {
        return Layers.linear(params, module, x, lora);
    }

    private static void rec(Probe probe, String name, Tensor t) {
        if (probe != null) probe.record(name, t);
    }

    /** Image-token RoPE positions [N][3] (frame, height, width) for these shapes (diffusers' centred scale_rope). */
    public static long[][] imagePositions(List<ImageShape> imgShapes) {
        return QwenRope.imagePositions(imgShapes);
    }

    /** Position of text token 0 on every axis: max over images of max(h/2, w/2). */
    public static long textPositionOffset(List<ImageShape> imgShapes) {
        return QwenRope.textOffset(imgShapes);
    }

    /** Forgets the cached RoPE tables (they are kept per (shapes, text length, device)). */
    public void clearRopeCache() {
        rope.clear();
    }
}
