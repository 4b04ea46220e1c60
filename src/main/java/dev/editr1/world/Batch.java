package dev.editr1.world;

import java.util.List;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import dev.editr1.kernels.Tensors;

/** Tasks as model inputs: images [B, 3, S, S] f32 and instruction ids [B, L] int64. */
public final class Batch {
    private Batch() {}

    public static Tensor images(List<float[]> imgs, int size) {
        int per = 3 * size * size;
        float[] all = new float[imgs.size() * per];
        for (int i = 0; i < imgs.size(); i++) {
            if (imgs.get(i).length != per) throw new IllegalArgumentException("image " + i + " has the wrong size");
            System.arraycopy(imgs.get(i), 0, all, i * per, per);
        }
        return Tensors.fromFloats(all, imgs.size(), 3, size, size);
    }

    public static Tensor ids(List<int[]> rows, int len) {
        float[] f = new float[rows.size() * len];
        for (int i = 0; i < rows.size(); i++)
            for (int j = 0; j < len; j++) f[i * len + j] = rows.get(i)[j];
        return Tensors.fromFloats(f, rows.size(), len).to(ScalarType.Long);
    }

    /** Row i of a [B, 3, S, S] tensor as a float array. */
    public static float[] image(float[] all, int i, int size) {
        int per = 3 * size * size;
        float[] out = new float[per];
        System.arraycopy(all, i * per, out, 0, per);
        return out;
    }
}
