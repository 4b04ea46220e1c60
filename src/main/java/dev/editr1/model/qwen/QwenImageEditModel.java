package dev.editr1.model.qwen;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import dev.editr1.data.EditDataset;
import dev.editr1.data.EditItem;
import dev.editr1.kernels.DType;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditingModel;
import dev.editr1.model.LatentCodec;
import dev.editr1.model.LoraAdapter;
import dev.editr1.model.LoraSets;
import dev.editr1.model.ParamStore;
import dev.editr1.model.io.ConditioningCache;
import dev.editr1.model.io.WeightFolder;

/**
 * Qwen-Image-Edit-2509 and -2511 as an editing model, from a diffusers model folder:
 * {@code transformer/} (diffusers' {@code QwenImageTransformer2DModel}, {@link QwenImageTransformer};
 * its {@code config.json}'s {@code zero_cond_t} tells 2511, true, from 2509) and {@code vae/}
 * ({@code AutoencoderKLQwenImage}, {@link AutoencoderKLQwenImage}), each a {@code config.json} beside one
 * safetensors file or shards listed by an index, read with {@link WeightFolder}.
 *
 * <p>Latents: [B, z, h, w] (z = 16 latent channels, h = w = resolution / 8), normalised with the VAE's
 * {@code latents_mean} / {@code latents_std} as the Edit pipelines do ({@link AutoencoderKLQwenImage#encodeImage});
 * the VAE runs in f32, one sample at a time. A velocity call packs x_t 2×2 into tokens
 * ({@link QwenLatentPacking}), appends the source image's tokens, passes {@code img_shapes} = [target,
 * source] (each (1, h/2, w/2), so the source sits on frame 1 of the RoPE), and keeps the output's
 * target tokens, unpacked: the velocity of SPEC §1 (ε − x0, t = σ), as
 * {@code QwenImageEditPlusPipeline} computes {@code noise_pred[:, :latents.size(1)]}.
 *
 * <p>{@link Conditioning}: {@code prompt_embeds} [B, textTokens, 3584] and {@code prompt_embeds_mask}
 * [B, textTokens] (1 = token, 0 = padding) — Qwen2.5-VL's last hidden states for the 2509 pipeline's
 * prompt template with the condition image, computed offline by {@code tools/cache_conditioning.py} and
 * read from the {@link ConditioningCache} (their length varies by item; they are zero-padded to
 * textTokens here) — and {@code source_tokens} [B, N, 64] (the packed source latents). Each call trims
 * the text to the batch's longest prompt, as the pipelines pad a batch; how the padding is treated is
 * {@link QwenImageTransformer.TextMask} (default: removed as attention keys, current diffusers; or
 * ignored, as diffusers ≤ 0.36.0 and so Edit-R1's training did). The unconditional branch of CFG
 * zeroes the prompt embeddings (the pipeline would encode a negative prompt instead).
 *
 * <p>LoRA: Edit-R1's eight attention projections per block ({@code attn.to_q, to_k, to_v, to_out.0,
 * add_q_proj, add_k_proj, add_v_proj, to_add_out}), Gaussian init of A, except two modules of the last
 * block ({@link #trainableLoraTargets}): only the image stream leaves the last block, so its
 * {@code to_add_out} (text attention output) and {@code add_q_proj} (text queries, which only make text
 * rows) cannot change the velocity; their gradients are exactly zero and an adapter on them would stay
 * at its init (B = 0) while costing optimizer state. Exported in the form diffusers'
 * {@code load_lora_weights} reads ({@link Checkpoints#saveDiffusersAdapter}).
 */
public final class QwenImageEditModel implements EditingModel {
    /** The names of the conditioning tensors. */
    public static final String PROMPT_EMBEDS = "prompt_embeds", PROMPT_MASK = "prompt_embeds_mask", SOURCE = "source_tokens";
    /** The model kind's label in caches and files. */
    public static final String KIND = "qwen-image-edit";

    private final QwenImageConfig cfg;
    private final QwenImageVaeConfig vaeCfg;
    private final QwenImageTransformer transformer;
    private AutoencoderKLQwenImage vae;
    private final int resolution;
    private final long latentSide;
    private final int textTokens;
    private final ConditioningCache cache;
    private final String weights;
    private final List<ImageShape> imgShapes;
    private LoraSets lora;
    private Device device;
    private DType dtype;

    QwenImageEditModel(QwenImageConfig cfg, QwenImageVaeConfig vaeCfg, QwenImageTransformer transformer, AutoencoderKLQwenImage vae,
                       int resolution, int textTokens, ConditioningCache cache, String weights, Device device, DType dtype) {
        this.cfg = cfg;
        this.vaeCfg = vaeCfg;
        this.transformer = transformer;
        this.vae = vae;
        this.resolution = resolution;
        int f = vaeCfg.spatialScale();
        this.latentSide = resolution / f;
        this.textTokens = textTokens;
        this.cache = cache;
        this.weights = weights;
        this.device = device;
        this.dtype = dtype;
        if (resolution % (2 * f) != 0)
            throw new IllegalArgumentException("Qwen-Image-Edit edits images whose side is a multiple of " + 2 * f + " pixels; resolution "
                    + resolution + " is not");
        if (cfg.patchSize() != 2)
            throw new IllegalArgumentException("Qwen-Image-Edit packs latents 2×2; the transformer's patch_size is " + cfg.patchSize());
        if (4 * vaeCfg.zDim() != cfg.inChannels() || cfg.outChannels() != vaeCfg.zDim())
            throw new IllegalArgumentException("the transformer takes " + cfg.inChannels() + "-channel tokens and predicts "
                    + cfg.outChannels() + " latent channels, but the VAE's " + vaeCfg.zDim() + " latent channels pack into "
                    + 4 * vaeCfg.zDim());
        ImageShape grid = QwenLatentPacking.tokenGrid(latentSide, latentSide);
        this.imgShapes = List.of(grid, grid);   // target, then the source image (the same size here)
    }

    /**
     * Loads a diffusers model folder.
     *
     * @param dir        holds {@code transformer/} and {@code vae/}
     * @param resolution the side of the (square) images edited, in pixels (a multiple of 16)
     * @param textTokens the longest prompt embedding taken from the cache (entries are padded to it)
     * @param textMask   how the transformer treats the prompt's padding
     * @param cacheDir   the conditioning cache's folder
     * @throws IOException naming the file and key of any problem (missing, unexpected or mis-shaped
     *                     tensor, truncated shard, bad config)
     */
    public static QwenImageEditModel load(Path dir, int resolution, int textTokens, QwenImageTransformer.TextMask textMask, Path cacheDir,
                                          Device device, DType dtype) throws IOException {
        if (!Files.isDirectory(dir)) throw new IOException("Qwen-Image-Edit weights: " + dir + " is not a folder");
        QwenImageConfig cfg = config(dir.resolve("transformer/config.json"), QwenImageConfig::fromJson);
        QwenImageVaeConfig vcfg = config(dir.resolve("vae/config.json"), QwenImageVaeConfig::fromJson);
        Map<String, Tensor> t = WeightFolder.loadAll(dir.resolve("transformer"), "diffusion_pytorch_model",
                QwenImageTransformer.parameterShapes(cfg), "QwenImageTransformer2DModel", device, dtype);
        // the VAE in f32: it runs once per source and once per judged rollout, without a graph
        Map<String, Tensor> v = WeightFolder.loadAll(dir.resolve("vae"), "diffusion_pytorch_model",
                AutoencoderKLQwenImage.parameterShapes(vcfg), "AutoencoderKLQwenImage", device, DType.F32);
        return new QwenImageEditModel(cfg, vcfg, new QwenImageTransformer(cfg, t, textMask), new AutoencoderKLQwenImage(vcfg, v),
                resolution, textTokens, new ConditioningCache(cacheDir, KIND, cacheShapes(cfg), textTokens), dir.toString(), device,
                dtype);
    }

    private static <C> C config(Path file, java.util.function.Function<String, C> parse) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + " does not exist (a diffusers model folder has it)");
        try {
            return parse.apply(Files.readString(file));
        } catch (RuntimeException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /** What a cache entry holds: prompt_embeds [L, joint_attention_dim] and prompt_embeds_mask [L], L per item. */
    public static Map<String, long[]> cacheShapes(QwenImageConfig cfg) {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put(PROMPT_EMBEDS, new long[] {ConditioningCache.ANY, cfg.jointAttentionDim()});
        m.put(PROMPT_MASK, new long[] {ConditioningCache.ANY});
        return m;
    }

    /**
     * The LoRA targets editr1 trains: {@link QwenImageTransformer#defaultLoraTargets} (Edit-R1's) without
     * the last block's {@code attn.to_add_out} and {@code attn.add_q_proj}, which cannot affect the image
     * output (see the class comment).
     */
    public static Map<String, long[]> trainableLoraTargets(QwenImageConfig cfg) {
        Map<String, long[]> m = QwenImageTransformer.defaultLoraTargets(cfg);
        String last = "transformer_blocks." + (cfg.numLayers() - 1) + ".attn.";
        m.remove(last + "to_add_out");
        m.remove(last + "add_q_proj");
        return m;
    }

    // ---- the contract

    @Override
    public String describe() {
        return String.format(Locale.ROOT, "Qwen-Image-Edit-%s (%d blocks, width %d, %.2fB parameters, %s, %d² pixels, text mask %s; "
                        + "LoRA on %d modules: 8 attention projections per block, less the last block's to_add_out and add_q_proj, which "
                        + "cannot change the image output; %s)", cfg.zeroCondT() ? "2511 (zero_cond_t)" : "2509", cfg.numLayers(),
                cfg.innerDim(), transformer.params.count() / 1e9, dtype.label(), resolution,
                transformer.textMask.name().toLowerCase(Locale.ROOT).replace('_', '-'), loraTargets().size(), weights);
    }

    /** The transformer's configuration (zero_cond_t: Edit-2511). */
    public QwenImageConfig config() {
        return cfg;
    }

    /** The transformer (its weights, its text-mask behaviour). */
    public QwenImageTransformer transformer() {
        return transformer;
    }

    @Override
    public int resolution() {
        return resolution;
    }

    @Override
    public long[] latentShape() {
        return new long[] {vaeCfg.zDim(), latentSide, latentSide};
    }

    /** Packed target tokens: what the dynamic-shift schedule keys on (1,024 at 512²), as the pipeline's image_seq_len. */
    @Override
    public long imageTokens() {
        return imgShapes.get(0).tokens();
    }

    @Override
    public LatentCodec codec() {
        return new LatentCodec() {
            @Override
            public Tensor encode(Tensor images) {
                try (NoGradGuard g = new NoGradGuard()) {
                    return LatentCodec.perSample(images, x -> vae.encodeImage(x.to(ScalarType.Float)).select(2, 0).to(dtype.scalarType));
                }
            }

            @Override
            public Tensor decode(Tensor latents) {
                try (NoGradGuard g = new NoGradGuard()) {
                    return LatentCodec.perSample(latents, z -> vae.decodeImage(z.to(ScalarType.Float).unsqueeze(2)));
                }
            }

            @Override
            public String describe() {
                return "AutoencoderKLQwenImage (" + vaeCfg.zDim() + " latent channels, ×" + vaeCfg.spatialScale()
                        + ", latents_mean/std normalised; decode clamps to [-1, 1])";
            }
        };
    }

    @Override
    public ParamStore base() {
        return transformer.params;
    }

    @Override
    public Map<String, long[]> loraTargets() {
        return trainableLoraTargets(cfg);
    }

    @Override
    public LoraAdapter.Init loraInit() {
        return LoraAdapter.Init.GAUSSIAN;
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

    /** The cached prompt embeddings and mask, zero-padded to textTokens, and the packed source latents. */
    @Override
    public Conditioning condition(EditItem item, String sourceDigest, Tensor sourceLatents) {
        Map<String, Tensor> m;
        try {
            m = cache.load(item.prompt(), sourceDigest, device, dtype);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(new IOException(item.id() + ": " + e.getMessage(), e));
        }
        Tensor e = m.get(PROMPT_EMBEDS), mask = m.get(PROMPT_MASK);
        long pad = textTokens - e.size(1);
        if (pad > 0) {
            e = torch.cat(new TensorVector(e, torch.zeros(new long[] {1, pad, e.size(2)}, Tensors.options(e.scalar_type().intern(), device))), 1);
            mask = torch.cat(new TensorVector(mask, torch.zeros(new long[] {1, pad}, Tensors.options(mask.scalar_type().intern(), device))), 1);
        }
        Map<String, Tensor> c = new LinkedHashMap<>();
        c.put(PROMPT_EMBEDS, e);
        c.put(PROMPT_MASK, mask);
        c.put(SOURCE, QwenLatentPacking.pack(sourceLatents.to(dtype.scalarType)));
        return new Conditioning(c);
    }

    /** Every item of both splits has its conditioning cached, with the shapes this model reads. */
    @Override
    public void preflight(EditDataset data) throws IOException {
        cache.checkAll(data);
    }

    @Override
    public Conditioning unconditional(Conditioning c) {
        return c.with(PROMPT_EMBEDS, torch.zeros_like(c.get(PROMPT_EMBEDS)));
    }

    @Override
    public Tensor velocity(Tensor xt, Tensor t, Conditioning c, Adapter adapter) {
        Inputs in = inputs(xt, c);
        return target(transformer.forward(in.hidden(), in.text(), in.mask(), t, imgShapes, adapterOf(adapter)));
    }

    @Override
    public TrainingForward velocityForTraining(Tensor xt, Tensor t, Conditioning c, Adapter adapter, boolean checkpoint) {
        if (!checkpoint) return EditingModel.super.velocityForTraining(xt, t, c, adapter, false);
        Inputs in = inputs(xt, c);
        TrainingForward f = transformer.forwardCheckpointed(in.hidden(), in.text(), in.mask(), t, imgShapes, adapterOf(adapter));
        Tensor out = f.velocity();
        long n = imageTokens();
        return new TrainingForward(target(out), g -> {
            // the gradient reaches the output's target tokens only; the source tokens' rows get 0
            Tensor full = torch.zeros_like(out);
            full.narrow(1, 0, n).copy_(QwenLatentPacking.pack(g));
            f.backward().accept(full);
        });
    }

    private record Inputs(Tensor hidden, Tensor text, Tensor mask) {}

    /**
     * hidden_states = [packed x_t, source tokens]; the text and its mask cut to the batch's longest
     * prompt (the columns past it are padding in every row: with the mask applied they change nothing,
     * and with it ignored this is the padding a pipeline's batch would have had).
     */
    private Inputs inputs(Tensor xt, Conditioning c) {
        Tensor target = QwenLatentPacking.pack(xt.to(dtype.scalarType));
        Tensor hidden = torch.cat(new TensorVector(target, c.get(SOURCE)), 1);
        Tensor mask = c.get(PROMPT_MASK);
        long longest = validLength(mask);
        return new Inputs(hidden, c.get(PROMPT_EMBEDS).narrow(1, 0, longest), mask.narrow(1, 0, longest));
    }

    /** One past the last valid column of a [B, L] mask (at least 1: the transformer needs a text token). */
    static long validLength(Tensor mask) {
        try (NoGradGuard g = new NoGradGuard()) {
            float[] any = Tensors.toFloats(mask.ne(new org.bytedeco.pytorch.Scalar(0)).any(0).to(ScalarType.Float));   // [L]
            for (int i = any.length - 1; i > 0; i--) if (any[i] != 0) return i + 1;
            return 1;
        }
    }

    /** The output's target tokens, unpacked to latents [B, z, h, w]. */
    private Tensor target(Tensor out) {
        return QwenLatentPacking.unpack(out.narrow(1, 0, imageTokens()), latentSide, latentSide).select(2, 0);
    }

    private LoraAdapter adapterOf(Adapter a) {
        if (a == Adapter.OFF) return null;
        if (lora == null) throw new IllegalStateException("no LoRA adapters attached; " + a + " needs them");
        return lora.get(a);
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public void to(Device d, DType dt) {
        transformer.params.to(d, dt);
        boolean moved = !Tensors.on(vae.params.get("post_quant_conv.weight"), d);
        vae.params.to(d, DType.F32);
        if (moved) vae = new AutoencoderKLQwenImage(vaeCfg, vae.params.asMap());   // its single-frame conv taps, on the new device
        if (lora != null) lora.to(d);
        this.device = d;
        this.dtype = dt;
    }

    /**
     * Per token and block, measured on {@link QwenImageTransformer}'s block (C heap in use, tiny
     * configurations of 1 and 3 blocks, 16 samples, LoRA rank 4; bench/RESULTS.md, "memory of FLUX and
     * Qwen blocks"): 14.7 f32 or 24.1 bf16 widths saved for backward, 52 or 91 alive at once inside a
     * block's forward. Tokens: target + source + the text (textTokens, its upper bound).
     */
    @Override
    public MemoryProfile memoryProfile() {
        return memoryProfile(cfg, latentSide, textTokens, dtype);
    }

    /**
     * The profile of a configuration at a latent side (resolution / 8), text length and base dtype,
     * without loading weights (README's sizing of the released 20B model uses it).
     */
    public static MemoryProfile memoryProfile(QwenImageConfig cfg, long latentSide, int textTokens, DType dtype) {
        long base = 0;
        for (long[] s : QwenImageTransformer.parameterShapes(cfg).values()) base += Arrays.stream(s).reduce(1, (a, b) -> a * b);
        long perRank = 0;
        for (long[] s : trainableLoraTargets(cfg).values()) perRank += s[0] + s[1];
        long imageTokens = (latentSide / 2) * (latentSide / 2);
        long tokens = 2 * imageTokens + textTokens;
        boolean bf = dtype != DType.F32;
        return new MemoryProfile(base, perRank, cfg.numLayers(), tokens, cfg.innerDim(), bf ? 24.1 : 14.7, bf ? 91 : 52,
                (long) cfg.outChannels() * latentSide * latentSide);
    }

    /** The trained adapter in diffusers' form, beside the run's own checkpoint files. */
    @Override
    public void exportAdapter(LoraAdapter a, Path dir) throws IOException {
        Checkpoints.saveDiffusersAdapter(a, dir, "transformer", "gaussian");
    }
}
