package dev.editr1.model.qwen;

import static dev.editr1.model.qwen.QwenGolden.close;
import static dev.editr1.model.qwen.QwenGolden.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The VAE against diffusers' {@code AutoencoderKLQwenImage} on single frames: vae_tiny_1 (the
 * Edit-Plus pipeline-test topology) and vae_tiny_2 (the released topology at tiny width, the real
 * latents_mean/std). atol 5e-5 (golden README); decode is clamped, so the pre-clamp decoder output
 * and every sub-module output are compared too.
 */
class AutoencoderKLQwenImageGoldenTest {
    static final double ATOL = 5e-5;

    record Case(AutoencoderKLQwenImage vae, Map<String, Tensor> io) {}

    static Case load(String name) {
        QwenImageVaeConfig cfg = QwenImageVaeConfig.fromJson(QwenGolden.text(name + ".config.json"));
        return new Case(new AutoencoderKLQwenImage(cfg, QwenGolden.read(name + ".weights.safetensors")),
                QwenGolden.read(name + ".io.safetensors"));
    }

    /** Compares every golden inter/&lt;prefix&gt;/* tensor with what the probe saw; returns how many. */
    static int intermediates(String name, Case c, String prefix, Map<String, Tensor> seen) {
        int n = 0;
        for (String k : new TreeSet<>(c.io().keySet())) {
            if (!k.startsWith("inter/" + prefix + "/")) continue;
            String m = k.substring(("inter/" + prefix + "/").length());
            Tensor ours = seen.get(m);
            if (ours == null) fail(name + ": no intermediate " + m + " was recorded");
            close(name + " " + k, c.io().get(k), ours, ATOL);
            n++;
        }
        return n;
    }

    @ParameterizedTest
    @ValueSource(strings = {"vae_tiny_1", "vae_tiny_2"})
    void decodeAndEveryDecoderStageMatchDiffusers(String name) {
        Case c = load(name);
        Map<String, Tensor> seen = new LinkedHashMap<>();
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor out = c.vae().decode(get(c.io(), "in/z"), seen::put);
            int n = intermediates(name, c, "dec", seen);
            assertEquals(4 + c.vae().cfg.dimMult().length, n, "decoder intermediates compared");
            close(name + " out/decode", get(c.io(), "out/decode"), out, ATOL);
            // the clamp is where diffusers puts it: some pixels of these goldens exceed [-1, 1] before it
            assertTrue(QwenGolden.maxAbs(get(c.io(), "inter/dec/decoder")) > 1.0, "golden decoder output is clamped somewhere");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"vae_tiny_1", "vae_tiny_2"})
    void encodeAndEveryEncoderStageMatchDiffusers(String name) {
        Case c = load(name);
        Map<String, Tensor> seen = new LinkedHashMap<>();
        try (NoGradGuard g = new NoGradGuard()) {
            AutoencoderKLQwenImage.Moments m = c.vae().encode(get(c.io(), "in/x"), seen::put);
            int n = intermediates(name, c, "enc", seen);
            assertTrue(n >= 4, "encoder intermediates compared: " + n);
            close(name + " out/encode_mean", get(c.io(), "out/encode_mean"), m.mean(), ATOL);
            close(name + " out/encode_logvar", get(c.io(), "out/encode_logvar"), m.logvar(), ATOL);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"vae_tiny_1", "vae_tiny_2"})
    void pipelineConventionsMatchDiffusers(String name) {
        Case c = load(name);
        AutoencoderKLQwenImage vae = c.vae();
        try (NoGradGuard g = new NoGradGuard()) {
            // encode side: mode() = mean, (mean - latents_mean) / latents_std, then 2x2 packing
            Tensor x = get(c.io(), "in/x");
            Tensor latents = vae.encodeImage(x.select(2, 0));
            close(name + " out/encode_latents_pipeline", get(c.io(), "out/encode_latents_pipeline"), latents, ATOL);
            close(name + " out/encode_packed", get(c.io(), "out/encode_packed"), QwenLatentPacking.pack(latents), ATOL);

            // decode side: _unpack_latents, latents / (1/std) + mean, decode, frame 0
            Tensor decoded = get(c.io(), "out/decode_pipeline");
            long height = decoded.size(2), width = decoded.size(3);
            Tensor unpacked = QwenLatentPacking.unpackForImage(get(c.io(), "in/packed_tokens"), height, width, vae.spatialScale());
            close(name + " out/unpacked", get(c.io(), "out/unpacked"), unpacked, 0);
            close(name + " in/z_pipeline = denormalize(in/z)", get(c.io(), "in/z_pipeline"),
                    vae.denormalizeLatents(get(c.io(), "in/z")), 1e-6);
            close(name + " out/decode_pipeline", decoded, vae.decodeImage(get(c.io(), "in/z")), ATOL);
        }
    }
}
