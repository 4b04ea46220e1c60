package dev.editr1.model.flux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.DType;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.EditingModel.MemoryProfile;
import dev.editr1.train.MemoryModel;

/**
 * The memory profile of FLUX.1-Kontext, and the numbers README's sizing of FLUX.1-Kontext [dev] at
 * 512² (bf16 base, 512 text tokens, rank-32 LoRA) takes from {@link MemoryModel}.
 */
class FluxKontextSizingTest {
    @Test
    void aLoadedModelsProfileIsItsConfigurationsProfile(@TempDir Path tmp) throws Exception {
        FluxKontextModel m = FluxKontextModel.load(KontextFixture.model(tmp.resolve("m"), 2), KontextFixture.RESOLUTION, 2.5,
                KontextFixture.TEXT_TOKENS, tmp.resolve("cache"), Tensors.cpu(), DType.F32);
        MemoryProfile p = m.memoryProfile();
        assertEquals(m.base().count(), p.baseParameters());
        assertEquals(p, FluxKontextModel.memoryProfile(FluxConfig.fromJson(KontextFixture.transformerConfig()), m.latentShape()[1], KontextFixture.TEXT_TOKENS, DType.F32));
        assertEquals(2 * m.imageTokens() + KontextFixture.TEXT_TOKENS, p.tokens());
        assertEquals(2, p.blocks());
        assertEquals((14.6 + 12.4) / 2, p.savedWidths(), 1e-12, "one double and one single block");
    }

    @Test
    void kontextDevAt512() {
        FluxConfig cfg = new FluxConfig(1, 64, 64, 19, 38, 128, 24, 4096, 768, true, List.of(16, 56, 56));
        MemoryProfile p = FluxKontextModel.memoryProfile(cfg, 64, 512, DType.BF16);
        assertEquals(11_901_408_320L, p.baseParameters(), "FLUX.1-Kontext [dev]'s transformer");
        assertEquals(1024 + 1024 + 512, p.tokens());
        StringBuilder r = new StringBuilder();
        // one H200: 288 samples per step; eight: 36 per GPU
        for (int[] c : new int[][] {{288, 32, 8, 1}, {288, 32, 1, 0}, {36, 36, 8, 1}, {36, 36, 36, 1}}) {
            MemoryModel.Estimate e = MemoryModel.estimate(p, 32, c[0], c[1], c[2], DType.BF16, false, c[3] == 1);
            r.append(String.format(Locale.ROOT, "%n  samples %d, rolloutBatch %d, microBatch %d, checkpointing %b: %s", c[0], c[1], c[2],
                    c[3] == 1, e));
        }
        System.out.println("FLUX.1-Kontext [dev] at 512², bf16 (LoRA " + p.loraParametersPerRank() * 32 + " parameters at rank 32):" + r);
        MemoryModel.Estimate one = MemoryModel.estimate(p, 32, 288, 32, 8, DType.BF16, false, true);
        assertTrue(one.peakBytes() / (1024.0 * 1024 * 1024) < 100, "fits an H200 with room: " + one);
    }
}
