package dev.editr1.model.io;

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
import java.util.function.Function;

import javax.imageio.ImageIO;

import com.google.gson.JsonObject;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.data.Digests;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Safetensors;

/**
 * What the end-to-end tests of diffusers-folder models share: random weights written in diffusers'
 * layout (one file, or shards with their index) and a tiny Edit-R1 dataset folder of PNGs with its
 * conditioning cache (random tensors standing in for the frozen text encoders' outputs, which need
 * Python and the real encoders: test data, said so here).
 */
public final class DiffusersFixture {
    private DiffusersFixture() {}

    /** Random weights for these names and shapes: norms' weights 1, biases 0, the rest N(0, std). */
    public static Map<String, Tensor> random(Map<String, long[]> shapes, long seed, double std) {
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long n = 1;
            for (long s : e.getValue()) n *= s;
            float[] f = new float[(int) n];
            boolean norm = (e.getKey().contains("norm") || e.getKey().endsWith(".gamma")) && !e.getKey().endsWith(".bias")
                    && !isMatrix(e.getValue());
            boolean bias = e.getKey().endsWith(".bias");
            for (int i = 0; i < f.length; i++)
                f[i] = norm ? 1f : bias ? 0f : (float) (std * gaussian(rng));
            m.put(e.getKey(), Tensors.fromFloats(f, e.getValue()));
        }
        return m;
    }

    /** A norm's weight is a vector (or a [C, 1, 1(, 1)] gamma): not a matrix or a conv kernel. */
    private static boolean isMatrix(long[] shape) {
        int big = 0;
        for (long s : shape) if (s > 1) big++;
        return big > 1;
    }

    /** Writes {@code <dir>/diffusion_pytorch_model-0000k-of-0000n.safetensors} and the index. */
    public static void sharded(Path dir, Map<String, Tensor> tensors, int shards) throws IOException {
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

    /** Writes {@code <dir>/diffusion_pytorch_model.safetensors} and {@code <dir>/config.json}. */
    public static void single(Path dir, String configJson, Map<String, Tensor> tensors) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), configJson);
        Safetensors.write(dir.resolve("diffusion_pytorch_model.safetensors"), tensors, Map.of("format", "pt"));
    }

    public static final String[] PROMPTS = {"make the square red", "move the square left", "add a blue dot", "make the background white",
            "remove the square", "make it brighter"};

    /**
     * A dataset folder (train then test lines, side×side PNGs of a square on a background) with an
     * entry per item in {@code cache}, its tensors from {@code conditioning} (given the run's random
     * stream and the prompt).
     */
    public static Path dataset(Path dir, int train, int test, long seed, int side, ConditioningCache cache,
                               Function<SplittableRandom, Map<String, Tensor>> conditioning) throws IOException {
        Files.createDirectories(dir.resolve("images"));
        SplittableRandom rng = new SplittableRandom(seed);
        for (String split : new String[] {"train", "test"}) {
            int n = split.equals("train") ? train : test;
            StringBuilder lines = new StringBuilder();
            for (int i = 0; i < n; i++) {
                BufferedImage im = new BufferedImage(side, side, BufferedImage.TYPE_INT_RGB);
                int bg = rng.nextInt(1 << 24), fg = rng.nextInt(1 << 24), x0 = rng.nextInt(side / 2), y0 = rng.nextInt(side / 2);
                int w = Math.max(2, side * 3 / 8);
                for (int y = 0; y < side; y++)
                    for (int x = 0; x < side; x++) im.setRGB(x, y, x >= x0 && x < x0 + w && y >= y0 && y < y0 + w ? fg : bg);
                String rel = "images/" + split + "_" + i + ".png";
                ImageIO.write(im, "png", dir.resolve(rel).toFile());
                String prompt = PROMPTS[rng.nextInt(PROMPTS.length)];
                JsonObject o = new JsonObject();
                o.addProperty("prompt", prompt);
                o.addProperty("image", rel);
                o.addProperty("requirement", "the edit follows the instruction");
                lines.append(o).append('\n');
                cache.write(prompt, Digests.sha256(dir.resolve(rel)), conditioning.apply(rng));
            }
            Files.writeString(dir.resolve(split + "_metadata.jsonl"), lines.toString(), StandardCharsets.UTF_8);
        }
        return dir;
    }

    /** N(0, 1) floats of a shape. */
    public static Tensor gaussian(SplittableRandom rng, long... shape) {
        long n = 1;
        for (long s : shape) n *= s;
        float[] f = new float[(int) n];
        for (int i = 0; i < f.length; i++) f[i] = (float) gaussian(rng);
        return Tensors.fromFloats(f, shape);
    }

    static double gaussian(SplittableRandom rng) {
        return Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble());
    }
}
