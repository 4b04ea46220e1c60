package dev.editr1.model.flux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** AutoencoderKL against diffusers (golden files from shared/golden/flux). */
class AutoencoderKLTest {
    /** README: VAE atol 1e-5. */
    static final double ATOL = 1e-5;

    @ParameterizedTest
    @ValueSource(strings = {"vae_tiny_1", "vae_tiny_2"})
    void encodeAndDecodeMatchDiffusers(String name) {
        VaeConfig cfg = VaeConfig.fromJson(FluxGolden.text(name + ".config.json"));
        AutoencoderKL vae = new AutoencoderKL(cfg, FluxGolden.read(name + ".weights.safetensors").tensors());
        Map<String, Tensor> io = FluxGolden.read(name + ".io.safetensors").tensors();
        try (NoGradGuard g = new NoGradGuard()) {
            AutoencoderKL.Posterior p = vae.encode(io.get("in/x"));
            FluxGolden.assertClose(name + " out/encode_mean", p.mean(), io.get("out/encode_mean"), ATOL, 0);
            FluxGolden.assertClose(name + " out/encode_logvar", p.logvar(), io.get("out/encode_logvar"), ATOL, 0);
            FluxGolden.assertClose(name + " out/decode", vae.decode(io.get("in/z")), io.get("out/decode"), ATOL, 0);
            FluxGolden.assertClose(name + " out/decode_pipeline", vae.decodeLatents(io.get("in/z")),
                    io.get("out/decode_pipeline"), ATOL, 0);
            // the pipeline's latents: (mean − shift)·scale, and z/scale + shift is what the golden decoded
            Tensor want = io.get("out/encode_mean").sub(new Scalar(cfg.shiftFactor())).mul(new Scalar(cfg.scalingFactor()));
            FluxGolden.assertClose(name + " encodeLatents", vae.encodeLatents(io.get("in/x")), want, ATOL * cfg.scalingFactor(), 0);
            Tensor zp = io.get("in/z").div(new Scalar(cfg.scalingFactor())).add(new Scalar(cfg.shiftFactor()));
            FluxGolden.assertClose(name + " in/z_pipeline rule", zp, io.get("in/z_pipeline"), 1e-6, 0);
        }
    }

    @Test
    void configParsesLikeDiffusers() {
        VaeConfig c = VaeConfig.fromJson(FluxGolden.text("vae_tiny_2.config.json"));
        assertEquals(new VaeConfig(3, 3, List.of(8, 16), 1, 4, 4, 1.5035, 0.0609, false, false, true), c);
        assertEquals(2, c.scaleFactor());
        assertThrows(IllegalArgumentException.class, () -> VaeConfig.fromJson(
                "{\"block_out_channels\": [8], \"norm_num_groups\": 4, \"down_block_types\": [\"AttnDownEncoderBlock2D\"],"
                        + " \"up_block_types\": [\"UpDecoderBlock2D\"]}"));
    }

    @Test
    void weightsAreCheckedByName() {
        VaeConfig cfg = VaeConfig.fromJson(FluxGolden.text("vae_tiny_2.config.json"));
        Map<String, Tensor> w = new LinkedHashMap<>(FluxGolden.read("vae_tiny_2.weights.safetensors").tensors());
        assertEquals(AutoencoderKL.expectedShapes(cfg).keySet(), w.keySet());
        w.remove("decoder.up_blocks.1.resnets.0.conv_shortcut.bias");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new AutoencoderKL(cfg, w));
        assertTrue(e.getMessage().contains("'decoder.up_blocks.1.resnets.0.conv_shortcut.bias'"), e.getMessage());
    }
}
