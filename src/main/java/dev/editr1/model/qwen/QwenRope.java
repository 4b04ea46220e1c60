package dev.editr1.model.qwen;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import dev.editr1.kernels.Tensors;

/**
 * Qwen-Image's 3-axis rotary position embedding ({@code QwenEmbedRope} with {@code scale_rope=True},
 * theta 10000), carried as real cos/sin tables instead of diffusers' complex64 ones.
 *
 * <p>Positions: image k of {@code img_shapes} (0 = target, 1.. = references) with (f, h, w) tokens has
 * frame positions k..k+f−1, height positions {@code i − (h − h/2)} for i in [0, h) and width positions
 * {@code j − (w − w/2)} (centred: h = 4 → −2, −1, 0, 1; h = 3 → −2, −1, 0); its tokens are row-major
 * over (f, h, w). Text token n has position {@code n + max_k max(h_k/2, w_k/2)} on all three axes.
 * Angle of pair m on an axis of width d: {@code pos · theta^(−2m/d)}, the three axes' angles
 * concatenated [frame | height | width] (head_dim/2 angles per token), each computed in float32 as
 * diffusers does ({@code torch.outer(index, 1/theta**(arange(0,d,2)/d))}).
 *
 * <p>Rotation: interleaved pairs (x[2m], x[2m+1]) are multiplied as complex numbers by
 * exp(i·angle_m) — not the rotate-half convention — in float32, the result cast back to x's dtype
 * (what diffusers' complex path does on CUDA).
 */
final class QwenRope {
    static final double THETA = 10000.0;
    private static final int CACHE_SIZE = 16;

    private final int[] axes;
    private final Map<String, Tensor[]> cache = new LinkedHashMap<>(CACHE_SIZE, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Tensor[]> e) {
            if (size() <= CACHE_SIZE) return false;
            for (Tensor t : e.getValue()) t.releaseReference();
            return true;
        }
    };

    QwenRope(int[] axesDims) {
        this.axes = axesDims.clone();
    }

    /** max_k max(h_k/2, w_k/2): where the text positions start. */
    static long textOffset(List<ImageShape> shapes) {
        long m = 0;
        for (ImageShape s : shapes) m = Math.max(m, Math.max(s.height() / 2, s.width() / 2));
        return m;
    }

    /** [N][3] (frame, height, width) positions of the image tokens, images in order. */
    static long[][] imagePositions(List<ImageShape> shapes) {
        long n = 0;
        for (ImageShape s : shapes) n += s.tokens();
        long[][] pos = new long[(int) n][];
        int r = 0;
        for (int k = 0; k < shapes.size(); k++) {
            ImageShape s = shapes.get(k);
            int h0 = s.height() - s.height() / 2, w0 = s.width() - s.width() / 2;
            for (int f = 0; f < s.frames(); f++)
                for (int i = 0; i < s.height(); i++)
                    for (int j = 0; j < s.width(); j++) pos[r++] = new long[] {k + f, i - h0, j - w0};
        }
        return pos;
    }

    /** theta^(−2m/d) for m < d/2, in float32 as {@code 1.0 / torch.pow(theta, arange(0, d, 2).float() / d)}. */
    static float[] inverseFrequencies(int d) {
        float[] inv = new float[d / 2];
        for (int m = 0; m < inv.length; m++) {
            float e = (float) (2 * m) / (float) d;
            float p = (float) Math.pow(THETA, e);
            inv[m] = 1.0f / p;
        }
        return inv;
    }

    /** Angles [rows][head_dim/2] (float32) for tokens with the given (frame, height, width) positions. */
    float[][] angles(long[][] positions) {
        float[][] invs = {inverseFrequencies(axes[0]), inverseFrequencies(axes[1]), inverseFrequencies(axes[2])};
        int half = (axes[0] + axes[1] + axes[2]) / 2;
        float[][] a = new float[positions.length][half];
        for (int r = 0; r < positions.length; r++) {
            int c = 0;
            for (int ax = 0; ax < 3; ax++)
                for (float inv : invs[ax]) a[r][c++] = (float) positions[r][ax] * inv; // float32 product, as torch.outer
        }
        return a;
    }

    /** (f, h, w) positions of the text tokens: all three axes n + offset. */
    static long[][] textPositions(List<ImageShape> shapes, long txtLen) {
        long off = textOffset(shapes);
        long[][] p = new long[(int) txtLen][];
        for (int n = 0; n < txtLen; n++) p[n] = new long[] {n + off, n + off, n + off};
        return p;
    }

    /**
     * cos and sin tables for the joint sequence [text (txtLen), image tokens], each
     * [txtLen + N, 1, head_dim/2] float32 on the device (broadcast over heads); cached per
     * (shapes, txtLen, device).
     */
    synchronized Tensor[] jointTables(List<ImageShape> shapes, long txtLen, Device device) {
        String key = shapes + "|" + txtLen + "|" + device.type() + ":" + device.index();
        Tensor[] t = cache.get(key);
        if (t != null) return t;
        long[][] img = imagePositions(shapes), txt = textPositions(shapes, txtLen);
        long[][] all = new long[txt.length + img.length][];
        System.arraycopy(txt, 0, all, 0, txt.length);
        System.arraycopy(img, 0, all, txt.length, img.length);
        Tensor[] cs = cosSin(angles(all));
        t = new Tensor[] {cs[0].unsqueeze(1).to(device, ScalarType.Float), cs[1].unsqueeze(1).to(device, ScalarType.Float)};
        // owned by the cache, not by the PointerScope of the forward that first asked for them
        for (Tensor x : t) x.retainReference();
        cache.put(key, t);
        return t;
    }

    /** CPU float32 cos and sin [rows, cols] of angles (each rounded to float32 from the exact value). */
    static Tensor[] cosSin(float[][] angles) {
        int rows = angles.length, cols = rows == 0 ? 0 : angles[0].length;
        float[] c = new float[rows * cols], s = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < cols; k++) {
                c[r * cols + k] = (float) Math.cos(angles[r][k]);
                s[r * cols + k] = (float) Math.sin(angles[r][k]);
            }
        return new Tensor[] {Tensors.fromFloats(c, rows, cols), Tensors.fromFloats(s, rows, cols)};
    }

    /**
     * Rotates x [B, S, H, head_dim] by the tables [S, 1, head_dim/2]: (x[2m] + i·x[2m+1])·(cos + i·sin),
     * computed in float32 and returned in x's dtype.
     */
    static Tensor apply(Tensor x, Tensor cos, Tensor sin) {
        ScalarType dt = x.scalar_type().intern();
        Tensor xf = x.to(ScalarType.Float);
        Tensor pairs = xf.unflatten(-1, x.size(-1) / 2, 2);   // [B, S, H, D/2, 2]
        Tensor re = pairs.select(-1, 0), im = pairs.select(-1, 1);
        Tensor outRe = re.mul(cos).sub(im.mul(sin));
        Tensor outIm = re.mul(sin).add(im.mul(cos));
        Tensor out = torch.stack(new TensorVector(outRe, outIm), -1).flatten(-2, -1);
        return dt == ScalarType.Float ? out : out.to(dt);
    }

    /** Drops the cached device tables (e.g. before freeing a device). */
    synchronized void clear() {
        for (Tensor[] t : cache.values()) for (Tensor x : t) x.releaseReference();
        cache.clear();
    }
}
