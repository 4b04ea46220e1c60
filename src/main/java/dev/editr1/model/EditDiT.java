package dev.editr1.model;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.data.EditItem;
import dev.editr1.kernels.DType;
import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.Scopes;
import dev.editr1.kernels.Tensors;
import dev.editr1.world.Vocabulary;

/**
 * The built-in editing diffusion transformer: the noisy target's patches, the source image's
 * patches and the instruction's tokens in one sequence (as FLUX-Kontext and Qwen-Image-Edit do),
 * joint self-attention over all of them, timestep conditioning by adaLN-Zero (DiT), and a
 * velocity prediction for the target's patches.
 *
 * <p>Shapes: x_t [B, 3, S, S] f32 in [−1, 1]-ish (it works on pixels: its codec is the identity), t
 * [B] f32 in [0, 1] (the float time of SPEC §1, t = 1 noise) → v [B, 3, S, S]. Its
 * {@link Conditioning}: {@code source} [B, 3, S, S] f32 (the source image) and {@code text_ids}
 * [B, L] int64 (the instruction in the embedded world's word vocabulary, padding 0; unknown words
 * map to one id). LoRA adapts every attention projection ({@code blocks.i.attn.qkv}, {@code .proj}).
 */
public final class EditDiT implements EditingModel {
    public final DiTConfig cfg;
    public final ParamStore base = new ParamStore();
    private final int freqDim = 64;
    private final Vocabulary vocab = Vocabulary.standard();
    private Tensor freqs;
    /** Fixed 2-D sin-cos positions, shared by target and source tokens: patch (i, j) of both
        images gets the same position, so attention can copy a patch from the source from the start. */
    private Tensor posImage;
    private LoraSets lora;
    private Device device = Tensors.cpu();
    private DType dtype = DType.F32;
    private String weights = "random init";

    public EditDiT(DiTConfig cfg, long seed) {
        this.cfg = cfg;
        SplittableRandom rng = new SplittableRandom(seed);
        int w = cfg.width(), pd = cfg.patchDim(), n = cfg.imageTokens();
        linear("x_embed", rng, w, pd);
        linear("src_embed", rng, w, pd);
        base.normal("txt_embed.weight", rng, 0.02, cfg.vocab(), w);
        base.normal("type_x", rng, 0.02, 1, w);
        base.normal("type_src", rng, 0.02, 1, w);
        base.normal("pos_txt", rng, 0.02, cfg.textLen(), w);
        linear("t_mlp.0", rng, w, freqDim);
        linear("t_mlp.2", rng, w, w);
        for (int i = 0; i < cfg.depth(); i++) {
            String b = "blocks." + i;
            zeroLinear(b + ".ada", 6 * w, w);           // adaLN-Zero: each block starts as the identity
            linear(b + ".attn.qkv", rng, 3 * w, w);
            linear(b + ".attn.proj", rng, w, w);
            linear(b + ".mlp.fc1", rng, 4 * w, w);
            linear(b + ".mlp.fc2", rng, w, 4 * w);
        }
        zeroLinear("final.ada", 2 * w, w);
        zeroLinear("final.linear", pd, w);
        posImage = sincos2d(cfg.imageSize() / cfg.patch(), w);
        float[] f = new float[freqDim / 2];
        for (int i = 0; i < f.length; i++) f[i] = (float) Math.exp(-Math.log(10000.0) * i / f.length);
        freqs = Tensors.fromFloats(f, 1, f.length);
    }

    /** DiT's 2-D sin-cos embedding: half the width for rows, half for columns. [g², w] */
    static Tensor sincos2d(int g, int w) {
        int quarter = w / 4;
        float[] e = new float[g * g * w];
        for (int r = 0; r < g; r++)
            for (int c = 0; c < g; c++) {
                int tok = r * g + c;
                for (int k = 0; k < quarter; k++) {
                    double omega = 1.0 / Math.pow(10000.0, (double) k / quarter);
                    e[tok * w + k] = (float) Math.sin(r * omega);
                    e[tok * w + quarter + k] = (float) Math.cos(r * omega);
                    e[tok * w + 2 * quarter + k] = (float) Math.sin(c * omega);
                    e[tok * w + 3 * quarter + k] = (float) Math.cos(c * omega);
                }
            }
        return Tensors.fromFloats(e, (long) g * g, w);
    }

    private void linear(String name, SplittableRandom rng, int out, int in) {
        double bound = Math.sqrt(6.0 / (in + out)); // Xavier-uniform
        base.uniform(name + ".weight", rng, bound, out, in);
        base.zeros(name + ".bias", out);
    }

    private void zeroLinear(String name, int out, int in) {
        base.zeros(name + ".weight", out, in);
        base.zeros(name + ".bias", out);
    }

    /** The attention projections LoRA adapts, with the [out, in] shapes of their weights. */
    @Override
    public Map<String, long[]> loraTargets() {
        return blockLinears("attn.qkv", "attn.proj");
    }

    /** Each block's MLP (fc1, fc2), for {@code loraMlp=true}. */
    @Override
    public Map<String, long[]> mlpLoraTargets() {
        return blockLinears("mlp.fc1", "mlp.fc2");
    }

    /** The named linears of every block, block by block, with their [out, in] shapes. */
    private Map<String, long[]> blockLinears(String... names) {
        Map<String, long[]> m = new LinkedHashMap<>();
        for (int i = 0; i < cfg.depth(); i++)
            for (String n : names) {
                String t = "blocks." + i + "." + n;
                m.put(t, Tensors.shape(base.get(t + ".weight")));
            }
        return m;
    }

    private Tensor lin(String m, Tensor x, LoraAdapter lora) {
        return Layers.linear(base, m, x, lora);
    }

    // ---- the EditingModel contract

    /** Names where the weights came from (the embedded checkpoint, a file), for {@link #describe()}. */
    public EditDiT withWeightsDescription(String w) {
        this.weights = w;
        return this;
    }

    @Override
    public String describe() {
        return "builtin EditDiT (width " + cfg.width() + ", depth " + cfg.depth() + ", " + cfg.heads() + " heads, patch "
                + cfg.patch() + ", " + base.count() + " parameters, " + cfg.imageSize() + "² pixels; " + weights + ")";
    }

    @Override
    public int resolution() {
        return cfg.imageSize();
    }

    @Override
    public long[] latentShape() {
        return new long[] {3, cfg.imageSize(), cfg.imageSize()};
    }

    @Override
    public long imageTokens() {
        return cfg.imageTokens();
    }

    @Override
    public LatentCodec codec() {
        return LatentCodec.identity();
    }

    @Override
    public ParamStore base() {
        return base;
    }

    @Override
    public LoraSets lora() {
        return lora;
    }

    @Override
    public void attachLora(LoraSets sets) {
        sets.to(device);
        this.lora = sets;
    }

    @Override
    public Conditioning condition(EditItem item, String sourceDigest, Tensor sourceLatents) {
        int[] ids = vocab.encode(item.prompt());
        long[] l = new long[ids.length];
        for (int i = 0; i < l.length; i++) l[i] = ids[i];
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("source", sourceLatents.to(dtype.scalarType));
        m.put("text_ids", Tensors.fromLongs(l, device).reshape(1, l.length));
        return new Conditioning(m);
    }

    @Override
    public Conditioning unconditional(Conditioning c) {
        return c.with("text_ids", torch.zeros_like(c.get("text_ids")));   // all padding (Vocabulary.PAD = 0)
    }

    @Override
    public Tensor velocity(Tensor xt, Tensor t, Conditioning c, Adapter adapter) {
        LoraAdapter a = adapter == Adapter.OFF ? null : requireLora(adapter);
        return velocity(xt, c.get("source"), c.get("text_ids"), t, a);
    }

    private LoraAdapter requireLora(Adapter adapter) {
        if (lora == null) throw new IllegalStateException("no LoRA adapters attached; " + adapter + " needs them");
        return lora.get(adapter);
    }

    /**
     * Per token and block: a training forward leaves about 18 width-sized tensors for backward
     * (measured: the slope of the epoch's peak against the kept samples on the embedded default;
     * autograd saves only what the gradients of LoRA and of the activations need, not the inputs of
     * the frozen linears); a block's no-grad forward holds everything it creates until the block's
     * scope closes: about 26 widths (the input, two norms and modulations, qkv (3), the attention output
     * and its copy, the projection, the gated residual, fc1's and GELU's outputs (4 each), fc2, …).
     * Measured with an f32 base; a bf16 base uses the same counts (not measured: on this CPU a bf16
     * epoch is ~6× slower, and the built-in model is not what memory sizing is for).
     */
    @Override
    public MemoryProfile memoryProfile() {
        long perRank = 0;
        for (long[] s : loraTargets().values()) perRank += s[0] + s[1];
        return new MemoryProfile(base.count(), perRank, cfg.depth(), 2L * cfg.imageTokens() + cfg.textLen(), cfg.width(), 18, 26,
                3L * cfg.imageSize() * cfg.imageSize());
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public void to(Device d, DType dt) {
        base.to(d, dt);
        freqs = freqs.to(d, freqs.scalar_type());                   // the time embedding is computed in f32
        posImage = posImage.to(d, dt.scalarType);
        if (lora != null) lora.to(d);
        this.device = d;
        this.dtype = dt;
    }

    /** [B, 3, S, S] → [B, N, 3·P·P] */
    Tensor patchify(Tensor img) {
        long b = img.size(0);
        int s = cfg.imageSize(), p = cfg.patch(), g = s / p;
        return img.reshape(b, 3, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(b, (long) g * g, 3L * p * p);
    }

    /** [B, N, 3·P·P] → [B, 3, S, S] */
    Tensor unpatchify(Tensor tokens) {
        long b = tokens.size(0);
        int s = cfg.imageSize(), p = cfg.patch(), g = s / p;
        return tokens.reshape(b, g, g, 3, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, 3, s, s);
    }

    /** The sinusoidal time embedding, computed in f32 and cast to the model's dtype. [B, F] */
    Tensor timeEmbedding(Tensor t) {
        Tensor arg = t.to(torch.ScalarType.Float).reshape(-1, 1).mul(new Scalar(1000.0)).mul(freqs);   // [B, F/2]
        return torch.cat(new TensorVector(arg.sin(), arg.cos()), 1).to(dtype.scalarType);
    }

    private static Tensor modulate(Tensor x, Tensor shift, Tensor scale) {
        return x.mul(scale.add(new Scalar(1.0))).add(shift);
    }

    private Tensor layerNorm(Tensor x) {
        return torch.layer_norm(x, new long[] {cfg.width()}, new org.bytedeco.pytorch.TensorOptional(),
                new org.bytedeco.pytorch.TensorOptional(), 1e-6, false);
    }

    /**
     * The velocity v(x_t, t | source, instruction) with an explicit adapter (null: the base). Each
     * block runs in its own scope that keeps only its output: without a graph (sampling, the old and
     * reference forwards) a block's intermediates die with the block; with one, autograd holds what
     * backward needs and nothing else stays.
     */
    public Tensor velocity(Tensor xt, Tensor source, Tensor textIds, Tensor t, LoraAdapter lora) {
        Stem s = Scopes.keep(() -> stem(xt, source, textIds, t), st -> new Tensor[] {st.h(), st.cAct()});
        Tensor h = s.h();
        for (int i = 0; i < cfg.depth(); i++) {
            final int b = i;
            final Tensor in = h;
            h = Scopes.keep(() -> block(b, in, s.cAct(), lora));
            in.releaseReference();   // the block's input: freed now, unless the graph saved it for backward
        }
        return head(h, s.cAct());
    }

    /** The token sequence [target, source, text] [B, T, W] before the blocks, and silu(c) [B, 1, W]. */
    private record Stem(Tensor h, Tensor cAct) {}

    private Stem stem(Tensor xt, Tensor source, Tensor textIds, Tensor t) {
        Tensor hx = lin("x_embed", patchify(xt.to(dtype.scalarType)), null).add(posImage).add(base.get("type_x"));
        Tensor hs = lin("src_embed", patchify(source.to(dtype.scalarType)), null).add(posImage).add(base.get("type_src"));
        Tensor ht = torch.embedding(base.get("txt_embed.weight"), textIds).add(base.get("pos_txt"));
        Tensor h = torch.cat(new TensorVector(hx, hs, ht), 1);                        // [B, T, W]
        Tensor c = lin("t_mlp.2", torch.silu(lin("t_mlp.0", timeEmbedding(t), null)), null);
        return new Stem(h, torch.silu(c).unsqueeze(1));                               // [B, 1, W]
    }

    /** Block i: adaLN-Zero, joint self-attention (LoRA on qkv and proj), MLP. [B, T, W] → [B, T, W] */
    private Tensor block(int i, Tensor h, Tensor cAct, LoraAdapter lora) {
        long b = h.size(0), tokens = h.size(1);
        int w = cfg.width(), heads = cfg.heads(), dh = w / heads;
        String p = "blocks." + i;
        Tensor[] mod = Tensors.owned(lin(p + ".ada", cAct, null).chunk(6, 2));
        Tensor x = modulate(layerNorm(h), mod[0], mod[1]);
        Tensor qkv = lin(p + ".attn.qkv", x, lora).reshape(b, tokens, 3, heads, dh).permute(2, 0, 3, 1, 4);
        Tensor[] qkvs = Tensors.owned(qkv.unbind(0));
        Tensor a = torch.scaled_dot_product_attention(qkvs[0], qkvs[1], qkvs[2]);   // [B, H, T, dh]
        NativeMemory.mark();
        a = lin(p + ".attn.proj", a.permute(0, 2, 1, 3).reshape(b, tokens, w), lora);
        h = h.add(a.mul(mod[2]));
        Tensor y = modulate(layerNorm(h), mod[3], mod[4]);
        Tensor hidden = torch.gelu(lin(p + ".mlp.fc1", y, lora));   // (adapted only when the adapter targets it)
        NativeMemory.mark();   // the block's high-water point: fc1's and GELU's outputs (4 widths each) are alive
        y = lin(p + ".mlp.fc2", hidden, lora);
        Tensor out = h.add(y.mul(mod[5]));
        NativeMemory.mark();   // the block's end: in a scoped forward every intermediate above is still alive
        return out;
    }

    /** The final adaLN and linear on the target's tokens, unpatchified: [B, T, W] → [B, 3, S, S]. */
    private Tensor head(Tensor h, Tensor cAct) {
        Tensor[] fm = Tensors.owned(lin("final.ada", cAct, null).chunk(2, 2));
        Tensor out = lin("final.linear", modulate(layerNorm(h.narrow(1, 0, cfg.imageTokens())), fm[0], fm[1]), null);
        return unpatchify(out);
    }

    /**
     * Gradient checkpointing per block: the forward runs without a graph and keeps only each block's
     * input [B, T, W]; backward recomputes one block at a time from its input (with grad), backs the
     * incoming gradient through it into the adapter, and hands the gradient of its input to the
     * block before. Memory: depth × one [B, T, W] tensor plus one block's activations, instead of
     * every block's; cost: one extra forward of the blocks. Only the blocks carry LoRA, so the stem
     * (frozen) runs once without a graph and needs no gradient.
     */
    @Override
    public TrainingForward velocityForTraining(Tensor xt, Tensor t, Conditioning c, Adapter adapter, boolean checkpoint) {
        if (!checkpoint) return EditingModel.super.velocityForTraining(xt, t, c, adapter, checkpoint);
        LoraAdapter lora = adapter == Adapter.OFF ? null : requireLora(adapter);
        Tensor[] inputs = new Tensor[cfg.depth()];
        Stem s;
        Tensor hLast;
        try (NoGradGuard g = new NoGradGuard()) {
            // each piece in its own scope keeping only its output: without a graph, the Java handles
            // are all that hold a block's intermediates, and they must not outlive the block
            s = Scopes.keep(() -> stem(xt, c.get("source"), c.get("text_ids"), t), st -> new Tensor[] {st.h(), st.cAct()});
            Tensor h = s.h();
            for (int i = 0; i < cfg.depth(); i++) {
                inputs[i] = h;
                final int b = i;
                final Tensor in = h;
                h = Scopes.keep(() -> block(b, in, s.cAct(), lora));
            }
            hLast = h;
        }
        Tensor leaf = hLast.detach().set_requires_grad(true);
        Tensor v = head(leaf, s.cAct());
        Stem stem = s;
        return new TrainingForward(v, grad -> {
            backward(v, grad);
            Tensor g = leaf.grad(), owned = null;   // owned: a block's input gradient kept past its scope
            for (int i = cfg.depth() - 1; i >= 0; i--) {
                Tensor next = null;
                try (PointerScope scope = new PointerScope()) {
                    boolean needInputGrad = i > 0;   // the stem is frozen: block 0's input needs no gradient
                    Tensor in = inputs[i].detach().set_requires_grad(needInputGrad);
                    final int b = i;
                    // keep only the output: the graph holds what backward needs, the rest dies now
                    Tensor out = Scopes.keep(() -> block(b, in, stem.cAct(), lora));
                    NativeMemory.mark();   // one block's saved activations: the checkpointed backward's peak
                    backward(out, g);
                    if (needInputGrad) {
                        // grad() is a view of the field inside `in`, which dies with this scope:
                        // detach() makes a handle of our own to the same storage
                        next = in.grad().detach();
                        next.retainReference();
                    }
                }
                if (owned != null) owned.releaseReference();   // consumed by this block's backward
                owned = next;
                g = next;
            }
        });
    }

    private static void backward(Tensor out, Tensor grad) {
        out.backward(grad, new org.bytedeco.pytorch.BoolOptional(), false, new org.bytedeco.pytorch.TensorArrayRefOptional());
    }
}
