package dev.editr1.model.flux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import dev.editr1.kernels.Tensors;

/** Kontext's 2×2 latent packing and position ids, as FluxKontextPipeline builds them. */
class KontextLatentsTest {
    static Tensor rnd(long seed, long... shape) {
        int n = 1;
        for (long s : shape) n *= (int) s;
        SplittableRandom r = new SplittableRandom(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensors.fromFloats(f, shape);
    }

    @Test
    void packLaysOutTwoByTwoPatchesAndUnpackInvertsIt() {
        long b = 2, c = 16, h = 6, w = 10;       // a non-square latent: rows and columns must not be swapped
        Tensor lat = rnd(1, b, c, h, w);
        Tensor tok = KontextLatents.pack(lat);
        assertArrayEquals(new long[] {b, (h / 2) * (w / 2), 4 * c}, Tensors.shape(tok));
        float[] l = Tensors.toFloats(lat), t = Tensors.toFloats(tok);
        for (int bi = 0; bi < b; bi++)
            for (int i = 0; i < h / 2; i++)
                for (int j = 0; j < w / 2; j++)
                    for (int ci = 0; ci < c; ci++)
                        for (int di = 0; di < 2; di++)
                            for (int dj = 0; dj < 2; dj++) {
                                long token = i * (w / 2) + j, ch = ci * 4L + di * 2L + dj;
                                float want = l[(int) (((bi * c + ci) * h + 2 * i + di) * w + 2 * j + dj)];
                                float got = t[(int) ((bi * (h / 2) * (w / 2) + token) * 4 * c + ch)];
                                assertEquals(want, got, 0, "token " + token + " channel " + ch);
                            }
        assertArrayEquals(l, Tensors.toFloats(KontextLatents.unpack(tok, h, w)), "unpack(pack(x)) = x");
        Tensor tok2 = rnd(2, b, (h / 2) * (w / 2), 4 * c);
        assertArrayEquals(Tensors.toFloats(tok2), Tensors.toFloats(KontextLatents.pack(KontextLatents.unpack(tok2, h, w))),
                "pack(unpack(t)) = t");
        assertThrows(IllegalArgumentException.class, () -> KontextLatents.pack(rnd(3, 1, 16, 5, 4)));
        assertThrows(IllegalArgumentException.class, () -> KontextLatents.unpack(tok, w, h + 2));
    }

    @Test
    void idsMatchTheGoldenCallAndThePipelineRule() {
        Map<String, Tensor> io = FluxGolden.read("flux_tiny_1.io.safetensors").tensors();
        // the golden call: 4×4 target tokens [0, i, j] then 4×4 reference tokens [1, i, j] (8×8 latents each)
        Tensor ids = KontextLatents.kontextImageIds(8, 8, 8, 8, ScalarType.Float, Tensors.cpu());
        assertArrayEquals(Tensors.toFloats(io.get("in/img_ids")), Tensors.toFloats(ids));
        assertArrayEquals(Tensors.toFloats(io.get("in/txt_ids")),
                Tensors.toFloats(KontextLatents.textIds(8, ScalarType.Float, Tensors.cpu())));
        // a non-square grid: row r = i·w + j holds [k, i, j]
        float[] f = Tensors.toFloats(KontextLatents.imageIds(2, 3, 1, ScalarType.BFloat16, Tensors.cpu()));
        assertArrayEquals(new float[] {1, 0, 0, 1, 0, 1, 1, 0, 2, 1, 1, 0, 1, 1, 1, 1, 1, 2}, f);
        assertEquals(128, KontextLatents.latentSide(1024, 8));
        assertEquals(124, KontextLatents.latentSide(1000, 8));
    }
}
