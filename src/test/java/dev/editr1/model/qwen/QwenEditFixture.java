package dev.editr1.model.qwen;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.io.ConditioningCache;
import dev.editr1.model.io.DiffusersFixture;

/**
 * A tiny Qwen-Image-Edit in diffusers' layout with random weights (transformer sharded in two with its
 * index, VAE in one file) and a tiny Edit-R1 dataset of 16×16 images with its conditioning cache:
 * random prompt embeddings of 3 to {@link #TEXT_TOKENS} tokens per item with an all-ones mask, as
 * tools/cache_conditioning.py writes them, standing in for Qwen2.5-VL's (test data, said so here).
 * Shapes follow diffusers' configs: 4 latent channels packed 2×2 into 16-channel tokens, 2 blocks,
 * 2 heads of 16, RoPE axes (4, 6, 6); a VAE with one downsampling level (×2) and non-trivial
 * latents_mean / latents_std.
 */
public final class QwenEditFixture {
    public static final int RESOLUTION = 16, TEXT_TOKENS = 8, TEXT_WIDTH = 24;

    private QwenEditFixture() {}

    static String transformerConfig(boolean zeroCondT) {
        return transformerConfig(zeroCondT, 2, 2);
    }

    /** The tiny transformer's config with more blocks or heads (of 16: the width is 16 × heads). */
    static String transformerConfig(boolean zeroCondT, int layers, int heads) {
        JsonObject o = new JsonObject();
        o.addProperty("_class_name", "QwenImageTransformer2DModel");
        o.addProperty("patch_size", 2);
        o.addProperty("in_channels", 16);
        o.addProperty("out_channels", 4);
        o.addProperty("num_layers", layers);
        o.addProperty("attention_head_dim", 16);
        o.addProperty("num_attention_heads", heads);
        o.addProperty("joint_attention_dim", TEXT_WIDTH);
        o.addProperty("guidance_embeds", false);
        JsonArray axes = new JsonArray();
        for (int a : new int[] {4, 6, 6}) axes.add(a);
        o.add("axes_dims_rope", axes);
        o.addProperty("zero_cond_t", zeroCondT);
        return o.toString();
    }

    static String vaeConfig() {
        return "{\"_class_name\": \"AutoencoderKLQwenImage\", \"base_dim\": 4, \"z_dim\": 4, \"dim_mult\": [1, 2], \"num_res_blocks\": 1, "
                + "\"attn_scales\": [], \"temperal_downsample\": [false], \"dropout\": 0.0, "
                + "\"latents_mean\": [0.1, -0.2, 0.3, 0.05], \"latents_std\": [1.5, 0.8, 1.2, 2.0]}";
    }

    /** A model folder: transformer/ (2 shards + index; zero_cond_t as given: 2511, else 2509) and vae/ (one file). */
    public static Path model(Path dir, long seed, boolean zeroCondT) throws IOException {
        return model(dir, seed, zeroCondT, 2, 2);
    }

    /** A model folder with {@code layers} blocks of {@code heads} heads of 16. */
    public static Path model(Path dir, long seed, boolean zeroCondT, int layers, int heads) throws IOException {
        String json = transformerConfig(zeroCondT, layers, heads);
        QwenImageConfig cfg = QwenImageConfig.fromJson(json);
        Files.createDirectories(dir.resolve("transformer"));
        Files.writeString(dir.resolve("transformer/config.json"), json);
        DiffusersFixture.sharded(dir.resolve("transformer"), DiffusersFixture.random(QwenImageTransformer.parameterShapes(cfg), seed, 0.08), 2);
        QwenImageVaeConfig v = QwenImageVaeConfig.fromJson(vaeConfig());
        DiffusersFixture.single(dir.resolve("vae"), vaeConfig(), DiffusersFixture.random(AutoencoderKLQwenImage.parameterShapes(v), seed + 1, 0.1));
        return dir;
    }

    /** A dataset folder (train then test lines, 16×16 PNGs) and its conditioning cache for qwen-image-edit. */
    public static Path dataset(Path dir, int train, int test, long seed) throws IOException {
        return dataset(dir, train, test, seed, RESOLUTION);
    }

    /** The same with side×side images (train at resolution = side). */
    public static Path dataset(Path dir, int train, int test, long seed, int side) throws IOException {
        ConditioningCache cache = new ConditioningCache(dir.resolve("conditioning").resolve(QwenImageEditModel.KIND), QwenImageEditModel.KIND,
                QwenImageEditModel.cacheShapes(QwenImageConfig.fromJson(transformerConfig(false))), TEXT_TOKENS);
        return DiffusersFixture.dataset(dir, train, test, seed, side, cache, rng -> {
            int l = 3 + rng.nextInt(TEXT_TOKENS - 2);   // 3..8 tokens, as the prompt and image tokenize
            Map<String, Tensor> t = new LinkedHashMap<>();
            t.put(QwenImageEditModel.PROMPT_EMBEDS, DiffusersFixture.gaussian(rng, l, TEXT_WIDTH));
            float[] ones = new float[l];
            java.util.Arrays.fill(ones, 1f);
            t.put(QwenImageEditModel.PROMPT_MASK, Tensors.fromFloats(ones, l));
            return t;
        });
    }
}
