package dev.editr1.model.flux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import com.google.gson.JsonObject;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.model.Safetensors;
import dev.editr1.model.io.ConditioningCache;
import dev.editr1.model.io.DiffusersFixture;

/**
 * A tiny FLUX.1-Kontext in diffusers' layout with random weights (transformer sharded in two with
 * its index, VAE in one file), and a tiny Edit-R1 dataset of 16×16 images with its conditioning
 * cache (random prompt embeddings standing in for T5/CLIP's, which need Python and the real
 * encoders: test data, said so here); both written by {@link DiffusersFixture}. The shapes follow
 * diffusers' configs: 4 latent channels packed 2×2 into 16-channel tokens, 2 heads of 16, RoPE axes
 * (4, 4, 8).
 */
public final class KontextFixture {
    public static final int RESOLUTION = 16, TEXT_TOKENS = 8, TEXT_WIDTH = 32;

    private KontextFixture() {}

    static String transformerConfig() {
        return transformerConfig(1, 1, 2);
    }

    /** The tiny transformer's config with more blocks or heads (of 16: the width is 16 × heads). */
    static String transformerConfig(int layers, int singleLayers, int heads) {
        JsonObject o = new JsonObject();
        o.addProperty("_class_name", "FluxTransformer2DModel");
        o.addProperty("patch_size", 1);
        o.addProperty("in_channels", 16);
        o.add("out_channels", null);
        o.addProperty("num_layers", layers);
        o.addProperty("num_single_layers", singleLayers);
        o.addProperty("attention_head_dim", 16);
        o.addProperty("num_attention_heads", heads);
        o.addProperty("joint_attention_dim", TEXT_WIDTH);
        o.addProperty("pooled_projection_dim", TEXT_WIDTH);
        o.addProperty("guidance_embeds", true);
        com.google.gson.JsonArray axes = new com.google.gson.JsonArray();
        for (int a : new int[] {4, 4, 8}) axes.add(a);
        o.add("axes_dims_rope", axes);
        return o.toString();
    }

    static String vaeConfig() {
        return "{\"_class_name\": \"AutoencoderKL\", \"in_channels\": 3, \"out_channels\": 3, "
                + "\"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\"], "
                + "\"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\"], \"block_out_channels\": [8, 16], "
                + "\"layers_per_block\": 1, \"act_fn\": \"silu\", \"latent_channels\": 4, \"norm_num_groups\": 4, "
                + "\"scaling_factor\": 1.5035, \"shift_factor\": 0.0609, \"use_quant_conv\": false, \"use_post_quant_conv\": false, "
                + "\"mid_block_add_attention\": true}";
    }

    static Map<String, Tensor> random(Map<String, long[]> shapes, long seed, double std) {
        return DiffusersFixture.random(shapes, seed, std);
    }

    static void sharded(Path dir, Map<String, Tensor> tensors, int shards) throws IOException {
        DiffusersFixture.sharded(dir, tensors, shards);
    }

    /** A model folder: transformer/ (2 shards + index) and vae/ (one file). */
    public static Path model(Path dir, long seed) throws IOException {
        return model(dir, seed, 1, 1, 2);
    }

    /** A model folder with {@code layers} double and {@code singleLayers} single blocks of {@code heads} heads of 16. */
    public static Path model(Path dir, long seed, int layers, int singleLayers, int heads) throws IOException {
        String json = transformerConfig(layers, singleLayers, heads);
        FluxConfig cfg = FluxConfig.fromJson(json);
        Files.createDirectories(dir.resolve("transformer"));
        Files.writeString(dir.resolve("transformer/config.json"), json);
        sharded(dir.resolve("transformer"), random(FluxTransformer.expectedShapes(cfg), seed, 0.08), 2);
        VaeConfig v = VaeConfig.fromJson(vaeConfig());
        Files.createDirectories(dir.resolve("vae"));
        Files.writeString(dir.resolve("vae/config.json"), vaeConfig());
        Safetensors.write(dir.resolve("vae/diffusion_pytorch_model.safetensors"), random(AutoencoderKL.expectedShapes(v), seed + 1, 0.1),
                Map.of("format", "pt"));
        return dir;
    }

    /** A dataset folder (train then test lines, 16×16 PNGs) and its conditioning cache for flux-kontext. */
    public static Path dataset(Path dir, int train, int test, long seed) throws IOException {
        return dataset(dir, train, test, seed, RESOLUTION);
    }

    /** The same with side×side images (train at resolution = side). */
    public static Path dataset(Path dir, int train, int test, long seed, int side) throws IOException {
        ConditioningCache cache = new ConditioningCache(dir.resolve("conditioning").resolve(FluxKontextModel.KIND), FluxKontextModel.KIND,
                Map.of(FluxKontextModel.PROMPT_EMBEDS, new long[] {TEXT_TOKENS, TEXT_WIDTH}, FluxKontextModel.POOLED, new long[] {TEXT_WIDTH}));
        return DiffusersFixture.dataset(dir, train, test, seed, side, cache, rng -> {
            Map<String, Tensor> t = new LinkedHashMap<>();
            t.put(FluxKontextModel.PROMPT_EMBEDS, DiffusersFixture.gaussian(rng, TEXT_TOKENS, TEXT_WIDTH));
            t.put(FluxKontextModel.POOLED, DiffusersFixture.gaussian(rng, TEXT_WIDTH));
            return t;
        });
    }
}
