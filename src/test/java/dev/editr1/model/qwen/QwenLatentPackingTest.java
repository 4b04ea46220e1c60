package dev.editr1.model.qwen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import dev.editr1.kernels.Tensors;

/** The pipelines' 2×2 latent packing: the channel convention and the round trip. */
class QwenLatentPackingTest {

    static Tensor random(long seed, long... shape) {
        int n = 1;
        for (long s : shape) n *= (int) s;
        SplittableRandom r = new SplittableRandom(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensors.fromFloats(f, shape);
    }

    @Test
    void sixteenChannelLatentsBecomeSixtyFourChannelTokensAndBack() {
        long b = 2, c = 16, h = 6, w = 10;
        Tensor lat = random(11, b, c, 1, h, w);
        Tensor tok = QwenLatentPacking.pack(lat);
        assertArrayEquals(new long[] {b, (h / 2) * (w / 2), 4 * c}, Tensors.shape(tok));
        float[] l = Tensors.toFloats(lat), t = Tensors.toFloats(tok);
        // token (i, j) channel c·4 + 2·di + dj holds latent pixel (2i + di, 2j + dj) of channel c
        for (int s = 0; s < b; s++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        long token = (y / 2) * (w / 2) + x / 2, chan = ch * 4L + 2L * (y % 2) + x % 2;
                        assertEquals(l[(int) (((s * c + ch) * h + y) * w + x)],
                                t[(int) ((s * (h / 2) * (w / 2) + token) * 4 * c + chan)]);
                    }
        assertArrayEquals(l, Tensors.toFloats(QwenLatentPacking.unpack(tok, h, w)));
        assertArrayEquals(l, Tensors.toFloats(QwenLatentPacking.unpackForImage(tok, 8 * h, 8 * w, 8)));
        // 4-D latents pack the same way
        assertArrayEquals(t, Tensors.toFloats(QwenLatentPacking.pack(lat.select(2, 0))));
        assertEquals(ImageShape.of(3, 5), QwenLatentPacking.tokenGrid(h, w));
    }

    @Test
    void oddOrMismatchedSizesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> QwenLatentPacking.pack(random(1, 1, 16, 1, 5, 4)));
        assertThrows(IllegalArgumentException.class, () -> QwenLatentPacking.pack(random(1, 1, 16, 2, 4, 4)));
        assertThrows(IllegalArgumentException.class, () -> QwenLatentPacking.unpack(random(1, 1, 6, 64), 4, 4));
    }
}
