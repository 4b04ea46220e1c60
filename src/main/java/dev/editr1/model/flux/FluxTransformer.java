package dev.editr1.model.flux;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.Scopes;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Layers;
import dev.editr1.model.LoraAdapter;
import dev.editr1.model.ParamStore;

/**
 * The FLUX.1 transformer (diffusers' {@code FluxTransformer2DModel}, which FLUX.1-Kontext uses
 * unchanged), written on libtorch ops with diffusers' parameter names, so a diffusers
 * {@code state_dict} loads as is and a PEFT LoRA on any of its Linear layers applies.
 *
 * <p>The computation, in diffusers' order (each step computes what diffusers computes, op for op
 * where rounding could differ):
 * <ol>
 * <li>x_embedder on the image tokens, context_embedder on the text tokens;</li>
 * <li>temb = timestep_embedder(sinusoid(1000·t)) + guidance_embedder(sinusoid(1000·g)) +
 *     text_embedder(pooled): 256-channel sinusoids [cos, sin], freq_k = exp(−ln(10⁴)·k/128), in f32;</li>
 * <li>RoPE tables from the position ids cat([txt_ids, img_ids]) (theta 10⁴, per-axis widths
 *     axes_dims_rope, each frequency used by the adjacent pair (2k, 2k+1));</li>
 * <li>double-stream blocks: adaLN-Zero per stream (shift, scale, gate for attention; shift, scale,
 *     gate for the MLP), q/k/v per stream, RMSNorm on q and k per head, joint attention over
 *     [text, image], separate output projections and GELU-tanh MLPs;</li>
 * <li>single-stream blocks over cat([text, image]): adaLN-Zero (shift, scale, gate), attention
 *     and MLP in parallel from the same normed input, proj_out(cat([attn, mlp]));</li>
 * <li>norm_out on the image tokens (adaLN, chunk order scale THEN shift) and proj_out.</li>
 * </ol>
 *
 * <p>Every tensor stays on the device and in the dtype of the weights and inputs (f32 or bf16; the
 * RoPE rotation is computed in f32 and cast back, as diffusers does). The weights are held, not
 * copied: the tensors of the map passed in are the model's parameters.
 */
public final class FluxTransformer {
    /** Width of the sinusoidal timestep/guidance embedding (diffusers' Timesteps(num_channels=256)). */
    public static final int TIME_PROJ_DIM = 256;
    /** RoPE base (FluxPosEmbed(theta=10000)). */
    public static final double ROPE_THETA = 10000.0;
    private static final double EPS = 1e-6;

    public final FluxConfig cfg;
    /** The weights under diffusers' names (e.g. {@code transformer_blocks.0.attn.to_q.weight}). */
    public final ParamStore base;

    /**
     * A transformer over the given weights (a diffusers {@code state_dict}; all tensors on one device,
     * one floating dtype).
     *
     * @throws IllegalArgumentException naming the key when a tensor is missing, unexpected or of the
     *                                  wrong shape for {@code cfg}
     */
    public FluxTransformer(FluxConfig cfg, Map<String, Tensor> weights) {
        this.cfg = cfg;
        this.base = Weights.checked(expectedShapes(cfg), weights, "FluxTransformer2DModel");
    }

    /** Every parameter name of a diffusers FluxTransformer2DModel with this config, with its shape. */
    public static Map<String, long[]> expectedShapes(FluxConfig c) {
        long d = c.innerDim(), mlp = c.mlpHiddenDim(), hd = c.attentionHeadDim();
        Map<String, long[]> m = new LinkedHashMap<>();
        Weights.linear(m, "time_text_embed.timestep_embedder.linear_1", d, TIME_PROJ_DIM);
        Weights.linear(m, "time_text_embed.timestep_embedder.linear_2", d, d);
        if (c.guidanceEmbeds()) {
            Weights.linear(m, "time_text_embed.guidance_embedder.linear_1", d, TIME_PROJ_DIM);
            Weights.linear(m, "time_text_embed.guidance_embedder.linear_2", d, d);
        }
        Weights.linear(m, "time_text_embed.text_embedder.linear_1", d, c.pooledProjectionDim());
        Weights.linear(m, "time_text_embed.text_embedder.linear_2", d, d);
        Weights.linear(m, "context_embedder", d, c.jointAttentionDim());
        Weights.linear(m, "x_embedder", d, c.inChannels());
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "transformer_blocks." + i;
            Weights.linear(m, p + ".norm1.linear", 6 * d, d);
            Weights.linear(m, p + ".norm1_context.linear", 6 * d, d);
            for (String n : new String[] {"norm_q", "norm_k", "norm_added_q", "norm_added_k"})
                m.put(p + ".attn." + n + ".weight", new long[] {hd});
            for (String n : new String[] {"to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"})
                Weights.linear(m, p + ".attn." + n, d, d);
            for (String ff : new String[] {".ff", ".ff_context"}) {
                Weights.linear(m, p + ff + ".net.0.proj", mlp, d);
                Weights.linear(m, p + ff + ".net.2", d, mlp);
            }
        }
        for (int i = 0; i < c.numSingleLayers(); i++) {
            String p = "single_transformer_blocks." + i;
            Weights.linear(m, p + ".norm.linear", 3 * d, d);
            Weights.linear(m, p + ".proj_mlp", mlp, d);
            Weights.linear(m, p + ".proj_out", d, d + mlp);
            m.put(p + ".attn.norm_q.weight", new long[] {hd});
            m.put(p + ".attn.norm_k.weight", new long[] {hd});
            for (String n : new String[] {"to_q", "to_k", "to_v"}) Weights.linear(m, p + ".attn." + n, d, d);
        }
        Weights.linear(m, "norm_out.linear", 2 * d, d);
        Weights.linear(m, "proj_out", c.outTokenDim(), d);
        return m;
    }

    /**
     * Edit-R1's default LoRA targets: every attention projection of the double-stream blocks
     * ({@code transformer_blocks.{i}.attn.{to_q,to_k,to_v,to_out.0,add_q_proj,add_k_proj,add_v_proj,to_add_out}})
     * and the q/k/v of the single-stream blocks ({@code single_transformer_blocks.{i}.attn.{to_q,to_k,to_v}}),
     * each with the [out, in] shape of its weight, in that order; usable with {@link LoraAdapter#create}.
     */
    public static Map<String, long[]> defaultLoraTargets(FluxConfig c) {
        long d = c.innerDim();
        Map<String, long[]> m = new LinkedHashMap<>();
        for (int i = 0; i < c.numLayers(); i++)
            for (String n : new String[] {"to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"})
                m.put("transformer_blocks." + i + ".attn." + n, new long[] {d, d});
        for (int i = 0; i < c.numSingleLayers(); i++)
            for (String n : new String[] {"to_q", "to_k", "to_v"})
                m.put("single_transformer_blocks." + i + ".attn." + n, new long[] {d, d});
        return m;
    }

    /** {@link #defaultLoraTargets(FluxConfig)} of this model's config. */
    public Map<String, long[]> defaultLoraTargets() {
        return defaultLoraTargets(cfg);
    }

    /** {@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, LoraAdapter, Map)} without a trace. */
    public Tensor forward(Tensor hidden, Tensor encoderHidden, Tensor pooled, Tensor timestep, Tensor imgIds,
                          Tensor txtIds, Tensor guidance, LoraAdapter lora) {
        return forward(hidden, encoderHidden, pooled, timestep, imgIds, txtIds, guidance, lora, null);
    }

    /**
     * The transformer's output for image tokens {@code hidden} given the text, what diffusers'
     * {@code FluxTransformer2DModel.forward(...)[0]} returns. All float tensors in the weights' dtype
     * (f32 or bf16) and on their device, except where noted. B = batch, N = image tokens (for Kontext:
     * target tokens then reference tokens), L = text tokens.
     *
     * @param hidden        [B, N, in_channels] image tokens (Kontext: cat([packed x_t, packed reference], 1))
     * @param encoderHidden [B, L, joint_attention_dim] text encoder (T5) hidden states
     * @param pooled        [B, pooled_projection_dim] pooled text embedding (CLIP)
     * @param timestep      [B] the flow time σ in [0, 1] (the pipeline's t/1000); multiplied by 1000 here,
     *                      after a cast to the hidden dtype, as diffusers does
     * @param imgIds        [N, 3] position ids of the image tokens (any float or integer dtype, any
     *                      device); see {@link KontextLatents#imageIds}. A [1, N, 3] tensor is read as its
     *                      first row, as diffusers does (deprecated there)
     * @param txtIds        [L, 3] position ids of the text tokens (zeros for Flux)
     * @param guidance      [B] the raw guidance scale (e.g. 2.5; multiplied by 1000 here), required iff
     *                      the config has guidance_embeds, else null
     * @param lora          adapter added to every Linear it targets, or null for the base model
     * @param trace         when non-null, receives the intermediates under the names of the golden
     *                      files: {@code x_embedder}, {@code context_embedder}, {@code temb},
     *                      {@code rope.0} (cos) / {@code rope.1} (sin) [L+N, head_dim] f32,
     *                      {@code transformer_blocks.{i}.0/.1} and {@code single_transformer_blocks.{i}.0/.1}
     *                      (text / image stream after the block), {@code norm_out}
     * @return [B, N, patch²·out_channels]; for Kontext only the first (target) tokens are the velocity
     */
    public Tensor forward(Tensor hidden, Tensor encoderHidden, Tensor pooled, Tensor timestep, Tensor imgIds,
                          Tensor txtIds, Tensor guidance, LoraAdapter lora, Map<String, Tensor> trace) {
        if (trace != null) {   // every intermediate kept for the caller: no scopes
            Stem s = stem(hidden, encoderHidden, pooled, timestep, imgIds, txtIds, guidance, lora, trace);
            Tensor c = s.c(), h = s.h();
            for (int i = 0; i < cfg.numLayers(); i++) {
                Tensor[] ch = doubleBlock("transformer_blocks." + i, c, h, s.tembAct(), s.rope(), lora);
                c = ch[0];
                h = ch[1];
                put(trace, "transformer_blocks." + i + ".0", c);
                put(trace, "transformer_blocks." + i + ".1", h);
            }
            long l = c.size(1), n = h.size(1);
            if (cfg.numSingleLayers() > 0) {
                Tensor x = torch.cat(new TensorVector(c, h), 1);
                for (int i = 0; i < cfg.numSingleLayers(); i++) {
                    x = singleBlock("single_transformer_blocks." + i, x, s.tembAct(), s.rope(), lora);
                    put(trace, "single_transformer_blocks." + i + ".0", x.narrow(1, 0, l));
                    put(trace, "single_transformer_blocks." + i + ".1", x.narrow(1, l, n));
                }
                h = x.narrow(1, l, n);
            }
            return head(h, s, lora, trace);
        }
        // each block in its own scope that keeps only its outputs; a block's inputs are released once
        // it has run (without a graph they die then; with one, autograd keeps what backward needs)
        Stem s = Scopes.keep(() -> stem(hidden, encoderHidden, pooled, timestep, imgIds, txtIds, guidance, lora, null), Stem::tensors);
        Tensor h = blocks(s, lora);
        return head(h, s, lora, null);
    }

    /** The blocks of a scoped forward: double-stream, then single-stream; returns the image stream [B, N, D]. */
    private Tensor blocks(Stem s, LoraAdapter lora) {
        Tensor c = s.c(), h = s.h();
        for (int i = 0; i < cfg.numLayers(); i++) {
            final String p = "transformer_blocks." + i;
            final Tensor ci = c, hi = h;
            Tensor[] ch = Scopes.keep(() -> doubleBlock(p, ci, hi, s.tembAct(), s.rope(), lora), r -> r);
            Scopes.release(ci, hi);
            c = ch[0];
            h = ch[1];
        }
        if (cfg.numSingleLayers() == 0) return h;
        long l = c.size(1), n = h.size(1);
        final Tensor c0 = c, h0 = h;
        Tensor x = Scopes.keep(() -> torch.cat(new TensorVector(c0, h0), 1));
        Scopes.release(c0, h0);
        for (int i = 0; i < cfg.numSingleLayers(); i++) {
            final String p = "single_transformer_blocks." + i;
            final Tensor xi = x;
            x = Scopes.keep(() -> singleBlock(p, xi, s.tembAct(), s.rope(), lora));
            Scopes.release(xi);
        }
        return x.narrow(1, l, n);
    }

    /** The streams after the embedders, silu(temb) and the RoPE tables: what every block reads. */
    record Stem(Tensor c, Tensor h, Tensor tembAct, Rope rope) {
        Tensor[] tensors() {
            return new Tensor[] {c, h, tembAct, rope.cos, rope.sin, rope.cosB, rope.sinSignedB};
        }
    }

    private Stem stem(Tensor hidden, Tensor encoderHidden, Tensor pooled, Tensor timestep, Tensor imgIds, Tensor txtIds,
                      Tensor guidance, LoraAdapter lora, Map<String, Tensor> trace) {
        if (imgIds.dim() == 3) imgIds = imgIds.select(0, 0);
        if (txtIds.dim() == 3) txtIds = txtIds.select(0, 0);
        long b = hidden.size(0), n = hidden.size(1), l = encoderHidden.size(1);
        requireShape("hidden", hidden, b, n, cfg.inChannels());
        requireShape("encoderHidden", encoderHidden, b, l, cfg.jointAttentionDim());
        requireShape("pooled", pooled, b, cfg.pooledProjectionDim());
        requireShape("timestep", timestep, b);
        requireShape("imgIds", imgIds, n, cfg.axesDimsRope().size());
        requireShape("txtIds", txtIds, l, cfg.axesDimsRope().size());
        if (cfg.guidanceEmbeds() != (guidance != null))
            throw new IllegalArgumentException(cfg.guidanceEmbeds()
                    ? "this model embeds a guidance scale: guidance [B] is required"
                    : "this model has no guidance embedding: pass guidance = null");
        if (guidance != null) requireShape("guidance", guidance, b);

        Tensor h = lin("x_embedder", hidden, lora);                                   // [B, N, D]
        ScalarType dt = h.scalar_type().intern();
        // diffusers: timestep.to(hidden_states.dtype) * 1000 (so in bf16 the time is rounded to bf16 first)
        Tensor temb = timeEmbedder("time_text_embed.timestep_embedder",
                timestep.to(dt).mul(new Scalar(1000.0)), pooled, lora);
        if (guidance != null)
            temb = temb.add(timeEmbedder("time_text_embed.guidance_embedder",
                    guidance.to(dt).mul(new Scalar(1000.0)), pooled, lora));
        Tensor pooledEmb = lin("time_text_embed.text_embedder.linear_2",
                torch.silu(lin("time_text_embed.text_embedder.linear_1", pooled, lora)), lora);
        temb = temb.add(pooledEmb);                                                   // [B, D]
        Tensor c = lin("context_embedder", encoderHidden, lora);                     // [B, L, D]
        put(trace, "x_embedder", h);
        put(trace, "context_embedder", c);
        put(trace, "temb", temb);

        Rope rope = ropeTables(torch.cat(new TensorVector(txtIds, imgIds), 0), cfg.axesDimsRope(), h.device());
        put(trace, "rope.0", rope.cos);
        put(trace, "rope.1", rope.sin);
        // Every adaLN module applies SiLU to temb before its Linear; computed once here.
        return new Stem(c, h, torch.silu(temb), rope);
    }

    /** norm_out (AdaLayerNormContinuous: linear(silu(temb)) → (scale, shift), in that order) and proj_out. */
    private Tensor head(Tensor h, Stem s, LoraAdapter lora, Map<String, Tensor> trace) {
        Tensor[] so = Tensors.owned(lin("norm_out.linear", s.tembAct().to(h.scalar_type().intern()), lora).chunk(2, 1));
        Tensor normed = modulate(layerNorm(h), so[1], so[0]);
        put(trace, "norm_out", normed);
        return lin("proj_out", normed, lora);
    }

    /**
     * The forward with per-block gradient checkpointing, and its backward. The forward runs without
     * a graph, keeping each block's inputs (double-stream: the text and image streams; single-stream:
     * the joint stream); backward recomputes the blocks one at a time from the last, backs the
     * incoming gradient through each into the adapter, and hands the gradients of its inputs to the
     * block before. Memory: one stored input per block plus one block's graph, instead of every
     * block's; cost: one extra forward of the blocks. The adapter must target blocks only (Edit-R1's
     * targets do): the embedders and the output layers run without a graph, except the output
     * layers' own (small) one.
     *
     * @return the output [B, N, out] (as {@link #forward}) and the backward that takes its gradient
     */
    public dev.editr1.model.EditingModel.TrainingForward forwardCheckpointed(Tensor hidden, Tensor encoderHidden, Tensor pooled,
            Tensor timestep, Tensor imgIds, Tensor txtIds, Tensor guidance, LoraAdapter lora) {
        if (lora != null)
            for (String k : lora.params.asMap().keySet())
                if (!k.startsWith("transformer_blocks.") && !k.startsWith("single_transformer_blocks."))
                    throw new IllegalArgumentException("gradient checkpointing needs LoRA on the blocks only; the adapter targets "
                            + k.substring(0, k.indexOf(".lora_")));
        int nd = cfg.numLayers(), ns = cfg.numSingleLayers();
        Tensor[][] doubleIn = new Tensor[nd][];
        Tensor[] singleIn = new Tensor[ns];
        Stem s;
        Tensor hLast;
        long l = encoderHidden.size(1), n = hidden.size(1);
        try (NoGradGuard g = new NoGradGuard()) {
            s = Scopes.keep(() -> stem(hidden, encoderHidden, pooled, timestep, imgIds, txtIds, guidance, lora, null), Stem::tensors);
            Tensor c = s.c(), h = s.h();
            for (int i = 0; i < nd; i++) {
                doubleIn[i] = new Tensor[] {c, h};
                final String p = "transformer_blocks." + i;
                final Tensor ci = c, hi = h;
                Tensor[] ch = Scopes.keep(() -> doubleBlock(p, ci, hi, s.tembAct(), s.rope(), lora), r -> r);
                c = ch[0];
                h = ch[1];
            }
            hLast = h;
            if (ns > 0) {
                final Tensor c0 = c, h0 = h;
                Tensor x = Scopes.keep(() -> torch.cat(new TensorVector(c0, h0), 1));
                for (int i = 0; i < ns; i++) {
                    singleIn[i] = x;
                    final String p = "single_transformer_blocks." + i;
                    final Tensor xi = x;
                    x = Scopes.keep(() -> singleBlock(p, xi, s.tembAct(), s.rope(), lora));
                }
                hLast = x.narrow(1, l, n);
            }
        }
        Tensor leaf = hLast.detach().set_requires_grad(true);
        Tensor out = head(leaf, s, lora, null);
        return new dev.editr1.model.EditingModel.TrainingForward(out, grad -> {
            backward(new Tensor[] {out}, new Tensor[] {grad});
            Tensor gh = leaf.grad().detach(), gc = null;
            List<Tensor> owned = new ArrayList<>();   // gradients kept past their block's scope
            if (ns > 0) {
                Tensor gx = torch.cat(new TensorVector(torch.zeros_like(s.c()), gh), 1);
                for (int i = ns - 1; i >= 0; i--) {
                    final String p = "single_transformer_blocks." + i;
                    Tensor next;
                    try (PointerScope scope = new PointerScope()) {
                        Tensor in = singleIn[i].detach().set_requires_grad(true);
                        Tensor o = Scopes.keep(() -> singleBlock(p, in, s.tembAct(), s.rope(), lora));
                        NativeMemory.mark();
                        backward(new Tensor[] {o}, new Tensor[] {gx});
                        next = in.grad().detach();   // grad() is a view of `in`'s field: a handle of our own
                        next.retainReference();
                    }
                    owned.add(next);
                    gx = next;
                }
                gc = gx.narrow(1, 0, l);
                gh = gx.narrow(1, l, n);
            }
            for (int i = nd - 1; i >= 0; i--) {
                final String p = "transformer_blocks." + i;
                boolean needInput = i > 0;   // the embedders are frozen: block 0's inputs need no gradient
                Tensor gcNext = null, ghNext = null;
                try (PointerScope scope = new PointerScope()) {
                    Tensor ci = doubleIn[i][0].detach().set_requires_grad(needInput), hi = doubleIn[i][1].detach().set_requires_grad(needInput);
                    Tensor[] o = Scopes.keep(() -> doubleBlock(p, ci, hi, s.tembAct(), s.rope(), lora), r -> r);
                    NativeMemory.mark();
                    if (gc == null) backward(new Tensor[] {o[1]}, new Tensor[] {gh});   // no single blocks: the text stream's output is unused
                    else backward(o, new Tensor[] {gc, gh});
                    if (needInput) {
                        gcNext = ci.grad().detach();
                        ghNext = hi.grad().detach();
                        gcNext.retainReference();
                        ghNext.retainReference();
                    }
                }
                if (gcNext != null) {
                    owned.add(gcNext);
                    owned.add(ghNext);
                }
                gc = gcNext;
                gh = ghNext;
            }
            for (Tensor t : owned) t.releaseReference();
        });
    }

    private static void backward(Tensor[] outputs, Tensor[] grads) {
        torch.backward(new TensorVector(outputs), new TensorVector(grads), new org.bytedeco.pytorch.BoolOptional(), false,
                new TensorVector());
    }

    // ---- blocks ---------------------------------------------------------------------------------

    /** FluxTransformerBlock: returns {text, image}. c [B, L, D], h [B, N, D]. */
    private Tensor[] doubleBlock(String p, Tensor c, Tensor h, Tensor tembAct, Rope rope, LoraAdapter lora) {
        // AdaLayerNormZero chunk order: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp
        Tensor[] m = Tensors.owned(lin(p + ".norm1.linear", tembAct, lora).chunk(6, 1));
        Tensor[] mc = Tensors.owned(lin(p + ".norm1_context.linear", tembAct, lora).chunk(6, 1));
        Tensor nh = modulate(layerNorm(h), m[0], m[1]);
        Tensor nc = modulate(layerNorm(c), mc[0], mc[1]);

        String a = p + ".attn";
        Tensor q = torch.cat(new TensorVector(
                headsRms(lin(a + ".add_q_proj", nc, lora), a + ".norm_added_q"),
                headsRms(lin(a + ".to_q", nh, lora), a + ".norm_q")), 1);            // [B, L+N, H, hd]
        Tensor k = torch.cat(new TensorVector(
                headsRms(lin(a + ".add_k_proj", nc, lora), a + ".norm_added_k"),
                headsRms(lin(a + ".to_k", nh, lora), a + ".norm_k")), 1);
        Tensor v = torch.cat(new TensorVector(
                heads(lin(a + ".add_v_proj", nc, lora)),
                heads(lin(a + ".to_v", nh, lora))), 1);
        Tensor o = attention(rope.apply(q), rope.apply(k), v);                       // [B, L+N, D]
        long l = c.size(1), n = h.size(1);
        Tensor oc = lin(a + ".to_add_out", o.narrow(1, 0, l), lora);
        Tensor oh = lin(a + ".to_out.0", o.narrow(1, l, n), lora);

        h = h.add(gate(m[2]).mul(oh));
        Tensor ff = feedForward(p + ".ff", modulate(layerNorm(h), m[3], m[4]), lora);
        h = h.add(gate(m[5]).mul(ff));

        c = c.add(gate(mc[2]).mul(oc));
        Tensor ffc = feedForward(p + ".ff_context", modulate(layerNorm(c), mc[3], mc[4]), lora);
        c = c.add(gate(mc[5]).mul(ffc));
        NativeMemory.mark();   // the block's high-water point: in a scoped forward every intermediate above is still alive
        return new Tensor[] {clipFp16(c), h};
    }

    /** FluxSingleTransformerBlock over the joint stream x [B, L+N, D]. */
    private Tensor singleBlock(String p, Tensor x, Tensor tembAct, Rope rope, LoraAdapter lora) {
        // AdaLayerNormZeroSingle chunk order: shift, scale, gate
        Tensor[] m = Tensors.owned(lin(p + ".norm.linear", tembAct, lora).chunk(3, 1));
        Tensor nx = modulate(layerNorm(x), m[0], m[1]);
        Tensor mlp = torch.gelu(lin(p + ".proj_mlp", nx, lora), "tanh");
        String a = p + ".attn";
        Tensor q = headsRms(lin(a + ".to_q", nx, lora), a + ".norm_q");
        Tensor k = headsRms(lin(a + ".to_k", nx, lora), a + ".norm_k");
        Tensor v = heads(lin(a + ".to_v", nx, lora));
        Tensor o = attention(rope.apply(q), rope.apply(k), v);                       // [B, L+N, D]
        Tensor y = lin(p + ".proj_out", torch.cat(new TensorVector(o, mlp), 2), lora);
        Tensor out = x.add(gate(m[2]).mul(y));
        NativeMemory.mark();   // the block's high-water point: in a scoped forward every intermediate above is still alive
        return clipFp16(out);
    }

    /** FeedForward(activation_fn="gelu-approximate"): net.0.proj → GELU(tanh) → net.2. */
    private Tensor feedForward(String p, Tensor x, LoraAdapter lora) {
        return lin(p + ".net.2", torch.gelu(lin(p + ".net.0.proj", x, lora), "tanh"), lora);
    }

    // ---- pieces ---------------------------------------------------------------------------------

    private Tensor lin(String module, Tensor x, LoraAdapter lora) {
        return Layers.linear(base, module, x, lora);
    }

    /** TimestepEmbedding(256 → D): linear_1 → SiLU → linear_2 on the sinusoid of t (already ×1000). */
    private Tensor timeEmbedder(String p, Tensor t, Tensor pooled, LoraAdapter lora) {
        Tensor proj = timestepSinusoid(t, TIME_PROJ_DIM).to(pooled.scalar_type().intern());
        return lin(p + ".linear_2", torch.silu(lin(p + ".linear_1", proj, lora)), lora);
    }

    /**
     * diffusers' {@code get_timestep_embedding(t, dim, flip_sin_to_cos=True, downscale_freq_shift=0)}:
     * [B] → [B, dim] f32 = [cos(t·f_k), sin(t·f_k)], f_k = exp(−ln(10⁴)·k/(dim/2)), k < dim/2.
     * Computed with diffusers' f32 ops in diffusers' order: t reaches 1000 and the arguments ~10³
     * rad, so a double-precision sinusoid differs from diffusers' by ~1e-5 — visible in the gradients.
     */
    static Tensor timestepSinusoid(Tensor t, int dim) {
        int half = dim / 2;
        Tensor k = torch.arange(new Scalar(0), new Scalar(half), Tensors.options(ScalarType.Float, t.device()));
        Tensor freqs = k.mul(new Scalar(-Math.log(10000.0))).div(new Scalar((double) half)).exp();
        Tensor arg = t.to(ScalarType.Float).unsqueeze(1).mul(freqs.unsqueeze(0));   // [B, half]
        return torch.cat(new TensorVector(arg.cos(), arg.sin()), 1);
    }

    /** norm(x)·(1 + scale) + shift, with scale and shift [B, D] broadcast over tokens. */
    private static Tensor modulate(Tensor normed, Tensor shift, Tensor scale) {
        return normed.mul(scale.add(new Scalar(1.0)).unsqueeze(1)).add(shift.unsqueeze(1));
    }

    private static Tensor gate(Tensor g) {
        return g.unsqueeze(1);
    }

    /** LayerNorm over the last dim, eps 1e-6, no affine. */
    private static Tensor layerNorm(Tensor x) {
        return torch.layer_norm(x, new long[] {x.size(x.dim() - 1)}, new TensorOptional(), new TensorOptional(), EPS, true);
    }

    /** [B, S, H·hd] → [B, S, H, hd] (a view). */
    private Tensor heads(Tensor x) {
        return x.unflatten(-1, -1, cfg.attentionHeadDim());
    }

    /** {@link #heads} then torch RMSNorm over hd (eps 1e-6, weight {@code norm.weight}). */
    private Tensor headsRms(Tensor x, String norm) {
        return torch.rms_norm(heads(x), new long[] {cfg.attentionHeadDim()},
                new TensorOptional(base.get(norm + ".weight")), new DoubleOptional(EPS));
    }

    /** scaled_dot_product_attention over q, k, v [B, S, H, hd] (scale 1/√hd, no mask) → [B, S, H·hd]. */
    private static Tensor attention(Tensor q, Tensor k, Tensor v) {
        Tensor o = torch.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2));
        return o.transpose(1, 2).flatten(2, 3);
    }

    /** diffusers clips the streams to the float16 range after each block when running in float16. */
    private static Tensor clipFp16(Tensor x) {
        if (x.scalar_type().intern() != ScalarType.Half) return x;
        return x.clip(new ScalarOptional(new Scalar(-65504.0)), new ScalarOptional(new Scalar(65504.0)));
    }

    private static void put(Map<String, Tensor> trace, String name, Tensor t) {
        if (trace != null) trace.put(name, t);
    }

    private static void requireShape(String what, Tensor t, long... shape) {
        boolean ok = t.dim() == shape.length;
        for (int i = 0; ok && i < shape.length; i++) ok = t.size(i) == shape[i];
        if (!ok)
            throw new IllegalArgumentException("FluxTransformer.forward: " + what + " has shape "
                    + java.util.Arrays.toString(Tensors.shape(t)) + ", expected " + java.util.Arrays.toString(shape));
    }

    // ---- RoPE -----------------------------------------------------------------------------------

    /**
     * The rotary tables of one forward pass: cos and sin [S, hd] f32 (the golden {@code rope.0/1}),
     * plus the sign-folded sin laid out for the [B, S, H, hd] attention inputs.
     */
    static final class Rope {
        final Tensor cos, sin;
        final Tensor cosB, sinSignedB; // [S, 1, hd]: broadcast over batch and heads, never materialized per head

        Rope(Tensor cos, Tensor sin) {
            this.cos = cos;
            this.sin = sin;
            long hd = cos.size(1);
            // x_rotated = [−x₁, x₀, −x₃, x₂, …]; folding the signs into sin (negation is exact) leaves
            // only a pair swap of x: sinSigned = [−s₀, s₀, −s₁, s₁, …]
            Tensor pairs = sin.unflatten(-1, hd / 2, 2);
            Tensor signed = torch.stack(new TensorVector(pairs.select(-1, 0).neg(), pairs.select(-1, 1)), -1).flatten(-2, -1);
            this.cosB = cos.unsqueeze(1);
            this.sinSignedB = signed.unsqueeze(1);
        }

        /**
         * diffusers' apply_rotary_emb(use_real, unbind_dim −1, sequence_dim 1) on x [B, S, H, hd]:
         * out = x·cos + x_rotated·sin, computed in f32 (bf16 inputs promote exactly) and cast back to
         * x's dtype.
         */
        Tensor apply(Tensor x) {
            long hd = x.size(3);
            Tensor swapped = x.unflatten(-1, hd / 2, 2).flip(-1).flatten(-2, -1);  // [x₁, x₀, x₃, x₂, …]
            Tensor out = x.mul(cosB).add(swapped.mul(sinSignedB));                 // f32 by type promotion
            return out.to(x.scalar_type().intern());
        }
    }

    /**
     * FluxPosEmbed: for each id column i, freqs = 1/θ^(2k/d_i) (f64, k < d_i/2), angles = pos·freqs
     * (f64), cos and sin each repeated twice in place (pair layout), cast to f32, and the axes
     * concatenated: [S, Σd_i]. Computed on the ids' device, then moved to {@code device}.
     */
    static Rope ropeTables(Tensor ids, List<Integer> axes, Device device) {
        Tensor pos = ids.to(ScalarType.Float);                 // diffusers: ids.float()
        List<Tensor> cos = new ArrayList<>(), sin = new ArrayList<>();
        for (int i = 0; i < axes.size(); i++) {
            int d = axes.get(i);
            Tensor k = torch.arange(new Scalar(0), new Scalar(d), new Scalar(2), Tensors.options(ScalarType.Double, ids.device()));
            Tensor freqs = torch.pow(new Scalar(ROPE_THETA), k.div(new Scalar((double) d))).reciprocal();
            Tensor ang = torch.outer(pos.select(1, i), freqs);  // f32 × f64 → f64, as torch.outer promotes
            cos.add(ang.cos().repeat_interleave(2, new LongOptional(1), new LongOptional()).to(ScalarType.Float));
            sin.add(ang.sin().repeat_interleave(2, new LongOptional(1), new LongOptional()).to(ScalarType.Float));
        }
        Tensor c = torch.cat(new TensorVector(cos.toArray(new Tensor[0])), 1);
        Tensor s = torch.cat(new TensorVector(sin.toArray(new Tensor[0])), 1);
        return new Rope(c.to(device, ScalarType.Float), s.to(device, ScalarType.Float));
    }
}
