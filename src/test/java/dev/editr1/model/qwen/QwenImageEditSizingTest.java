package dev.editr1.model.qwen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Locale;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.DType;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.EditingModel.MemoryProfile;
import dev.editr1.train.MemoryModel;

/**
 * The memory profile of Qwen-Image-Edit, and the numbers README's sizing of Qwen-Image-Edit-2509 at
 * 512² (bf16 base, 256 text tokens, rank-32 LoRA) takes from {@link MemoryModel}.
 */
class QwenImageEditSizingTest {
    @Test
    void aLoadedModelsProfileIsItsConfigurationsProfile(@TempDir Path tmp) throws Exception {
        QwenImageEditModel m = QwenImageEditModel.load(QwenEditFixture.model(tmp.resolve("m"), 2, false), QwenEditFixture.RESOLUTION,
                QwenEditFixture.TEXT_TOKENS, QwenImageTransformer.TextMask.MASK_KEYS, tmp.resolve("cache"), Tensors.cpu(), DType.F32);
        MemoryProfile p = m.memoryProfile();
        assertEquals(m.base().count(), p.baseParameters());
        assertEquals(p, QwenImageEditModel.memoryProfile(m.config(), 8, QwenEditFixture.TEXT_TOKENS, DType.F32));
        assertEquals(2 * 16 + QwenEditFixture.TEXT_TOKENS, p.tokens());   // target + source tokens (4 × 4 each) + text
        assertEquals(14 * (32 + 32), p.loraParametersPerRank());         // 8 × 2 − 2 modules of 32 × 32
        assertEquals(2, p.blocks());
        assertEquals(32, p.width());
        assertEquals(4 * 8 * 8, p.latentElements());
    }

    @Test
    void edit2509At512(@TempDir Path tmp) {
        MemoryProfile p = QwenImageEditModel.memoryProfile(QwenImageConfig.qwenImageEdit(false), 64, 256, DType.BF16);
        assertEquals(20_430_401_088L, p.baseParameters(), "Qwen-Image-Edit-2509's transformer");
        assertEquals(478L * 6144, p.loraParametersPerRank(), "60 × 8 − 2 modules of 3072 × 3072");
        assertEquals(1024 + 1024 + 256, p.tokens());
        StringBuilder r = new StringBuilder();
        // one H200: 288 samples per step; eight: 36 per GPU
        for (int[] c : new int[][] {{288, 32, 8, 1}, {288, 32, 2, 0}, {36, 36, 8, 1}, {36, 36, 36, 1}}) {
            MemoryModel.Estimate e = MemoryModel.estimate(p, 32, c[0], c[1], c[2], DType.BF16, false, c[3] == 1);
            r.append(String.format(Locale.ROOT, "%n  samples %d, rolloutBatch %d, microBatch %d, checkpointing %b: %s", c[0], c[1], c[2],
                    c[3] == 1, e));
        }
        long vae = 0;
        for (long[] sh : AutoencoderKLQwenImage.parameterShapes(QwenImageVaeConfig.qwenImage()).values())
            vae += java.util.Arrays.stream(sh).reduce(1, (a, b) -> a * b);
        System.out.println("Qwen-Image-Edit-2509 at 512², bf16 (VAE " + vae + " parameters):" + r);
        assertTrue(vae > 100_000_000L && vae < 150_000_000L, "the Qwen-Image VAE: " + vae);
        MemoryModel.Estimate one = MemoryModel.estimate(p, 32, 288, 32, 8, DType.BF16, false, true);
        assertTrue(one.peakBytes() / (1024.0 * 1024 * 1024) < 80, "fits an H200 with room: " + one);
    }
}
