package dev.editr1.model.flux;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import javax.imageio.ImageIO;

import com.google.gson.JsonObject;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.data.Digests;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Safetensors;
import dev.editr1.model.io.ConditioningCache;

/**
 * A tiny FLUX.1-Kontext in diffusers' layout with random weights (transformer sharded in two with
 * its index, VAE in one file), and a tiny Edit-R1 dataset of 16×16 images with its conditioning
 * cache (random prompt embeddings standing in for T5/CLIP's, which need Python and the real
 * encoders: test data, said so here). The shapes follow diffusers' configs: 4 latent channels
 * packed 2×2 into 16-channel tokens, 2 heads of 16, RoPE axes (4, 4, 8).
 */
public final class KontextFixture {
    public static final int RESOLUTION = 16, TEXT_TOKENS = 8, TEXT_WIDTH = 32;

    private KontextFixture() {}

    static String transformerConfig() {
        JsonObject o = new JsonObject();
        o.addProperty("_class_name", "FluxTransformer2DModel");
        o.addProperty("patch_size", 1);
        o.addProperty("in_channels", 16);
        o.add("out_channels", null);
        o.addProperty("num_layers", 1);
        o.addProperty("num_single_layers", 1);
        o.addProperty("attention_head_dim", 16);
        o.addProperty("num_attention_heads", 2);
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

    /** Random weights for these names and shapes: norms' weights 1, biases 0, the rest N(0, std). */
    static Map<String, Tensor> random(Map<String, long[]> shapes, long seed, double std) {
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long n = 1;
            for (long s : e.getValue()) n *= s;
            float[] f = new float[(int) n];
            boolean norm = e.getKey().contains("norm") && e.getValue().length == 1;
            boolean bias = e.getKey().endsWith(".bias");
            for (int i = 0; i < f.length; i++)
                f[i] = norm && !bias ? 1f : bias ? 0f : (float) (std * Math.sqrt(-2 * Math.log(1 - rng.nextDouble()))
                        * Math.cos(2 * Math.PI * rng.nextDouble()));
            m.put(e.getKey(), Tensors.fromFloats(f, e.getValue()));
        }
        return m;
    }

    /** Writes {@code <dir>/diffusion_pytorch_model-0000k-of-0000n.safetensors} and the index. */
    static void sharded(Path dir, Map<String, Tensor> tensors, int shards) throws IOException {
        Files.createDirectories(dir);
        List<String> names = new ArrayList<>(tensors.keySet());
        JsonObject map = new JsonObject();
        for (int s = 0; s < shards; s++) {
            String file = String.format("diffusion_pytorch_model-%05d-of-%05d.safetensors", s + 1, shards);
            Map<String, Tensor> part = new LinkedHashMap<>();
            for (int i = s; i < names.size(); i += shards) {
                part.put(names.get(i), tensors.get(names.get(i)));
                map.addProperty(names.get(i), file);
            }
            Safetensors.write(dir.resolve(file), part, Map.of("format", "pt"));
        }
        JsonObject index = new JsonObject();
        index.add("metadata", new JsonObject());
        index.add("weight_map", map);
        Files.writeString(dir.resolve("diffusion_pytorch_model.safetensors.index.json"), index.toString());
    }

    /** A model folder: transformer/ (2 shards + index) and vae/ (one file). */
    public static Path model(Path dir, long seed) throws IOException {
        FluxConfig cfg = FluxConfig.fromJson(transformerConfig());
        Files.createDirectories(dir.resolve("transformer"));
        Files.writeString(dir.resolve("transformer/config.json"), transformerConfig());
        sharded(dir.resolve("transformer"), random(FluxTransformer.expectedShapes(cfg), seed, 0.08), 2);
        VaeConfig v = VaeConfig.fromJson(vaeConfig());
        Files.createDirectories(dir.resolve("vae"));
        Files.writeString(dir.resolve("vae/config.json"), vaeConfig());
        Safetensors.write(dir.resolve("vae/diffusion_pytorch_model.safetensors"), random(AutoencoderKL.expectedShapes(v), seed + 1, 0.1),
                Map.of("format", "pt"));
        return dir;
    }

    static final String[] PROMPTS = {"make the square red", "move the square left", "add a blue dot", "make the background white",
            "remove the square", "make it brighter"};

    /** A dataset folder (train then test lines, 16×16 PNGs) and its conditioning cache for flux-kontext. */
    public static Path dataset(Path dir, int train, int test, long seed) throws IOException {
        Files.createDirectories(dir.resolve("images"));
        SplittableRandom rng = new SplittableRandom(seed);
        ConditioningCache cache = new ConditioningCache(dir.resolve("conditioning").resolve(FluxKontextModel.KIND), FluxKontextModel.KIND,
                Map.of(FluxKontextModel.PROMPT_EMBEDS, new long[] {TEXT_TOKENS, TEXT_WIDTH}, FluxKontextModel.POOLED, new long[] {TEXT_WIDTH}));
        for (String split : new String[] {"train", "test"}) {
            int n = split.equals("train") ? train : test;
            StringBuilder lines = new StringBuilder();
            for (int i = 0; i < n; i++) {
                BufferedImage im = new BufferedImage(RESOLUTION, RESOLUTION, BufferedImage.TYPE_INT_RGB);
                int bg = rng.nextInt(1 << 24), fg = rng.nextInt(1 << 24), x0 = rng.nextInt(8), y0 = rng.nextInt(8);
                for (int y = 0; y < RESOLUTION; y++)
                    for (int x = 0; x < RESOLUTION; x++) im.setRGB(x, y, x >= x0 && x < x0 + 6 && y >= y0 && y < y0 + 6 ? fg : bg);
                String rel = "images/" + split + "_" + i + ".png";
                ImageIO.write(im, "png", dir.resolve(rel).toFile());
                String prompt = PROMPTS[rng.nextInt(PROMPTS.length)];
                JsonObject o = new JsonObject();
                o.addProperty("prompt", prompt);
                o.addProperty("image", rel);
                o.addProperty("requirement", "the edit follows the instruction");
                lines.append(o).append('\n');
                Map<String, Tensor> t = new LinkedHashMap<>();
                t.put(FluxKontextModel.PROMPT_EMBEDS, gaussian(rng, TEXT_TOKENS, TEXT_WIDTH));
                t.put(FluxKontextModel.POOLED, gaussian(rng, TEXT_WIDTH));
                cache.write(prompt, Digests.sha256(dir.resolve(rel)), t);
            }
            Files.writeString(dir.resolve(split + "_metadata.jsonl"), lines.toString(), StandardCharsets.UTF_8);
        }
        return dir;
    }

    static Tensor gaussian(SplittableRandom rng, long... shape) {
        long n = 1;
        for (long s : shape) n *= s;
        float[] f = new float[(int) n];
        for (int i = 0; i < f.length; i++) f[i] = (float) (Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble()));
        return Tensors.fromFloats(f, shape);
    }
}
