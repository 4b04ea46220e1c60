package dev.editr1.model.flux;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import dev.editr1.kernels.Tensors;

/**
 * What diffusers' {@code FluxKontextPipeline} does around the transformer: 2×2 packing of VAE
 * latents into tokens and the position ids of target and reference tokens.
 *
 * <p>Packing: latents [B, C, H, W] → tokens [B, (H/2)·(W/2), 4C]; token i·(W/2) + j holds, at
 * channel c·4 + 2·di + dj, the latent (c, 2i + di, 2j + dj). Ids: token (i, j) of image number k
 * (0 = the target being denoised, 1 = the reference) is at [k, i, j].
 */
public final class KontextLatents {
    private KontextLatents() {}

    /** {@code _pack_latents}: [B, C, H, W] (H, W even) → [B, (H/2)(W/2), 4C], same dtype and device. */
    public static Tensor pack(Tensor latents) {
        if (latents.dim() != 4) throw new IllegalArgumentException("pack: latents must be [B, C, H, W], got " + java.util.Arrays.toString(Tensors.shape(latents)));
        long b = latents.size(0), c = latents.size(1), h = latents.size(2), w = latents.size(3);
        if (h % 2 != 0 || w % 2 != 0) throw new IllegalArgumentException("pack: latent height and width must be even, got " + h + "×" + w);
        return latents.reshape(b, c, h / 2, 2, w / 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h / 2) * (w / 2), c * 4);
    }

    /**
     * {@code _unpack_latents}: [B, (H/2)(W/2), 4C] → [B, C, H, W], for the latent size H × W (see
     * {@link #latentSide} for the pipeline's pixel → latent rule).
     */
    public static Tensor unpack(Tensor tokens, long height, long width) {
        if (tokens.dim() != 3) throw new IllegalArgumentException("unpack: tokens must be [B, N, 4C], got " + java.util.Arrays.toString(Tensors.shape(tokens)));
        long b = tokens.size(0), n = tokens.size(1), ch = tokens.size(2);
        if (height % 2 != 0 || width % 2 != 0 || n != (height / 2) * (width / 2) || ch % 4 != 0)
            throw new IllegalArgumentException("unpack: " + java.util.Arrays.toString(Tensors.shape(tokens))
                    + " tokens do not pack a " + height + "×" + width + " latent");
        return tokens.reshape(b, height / 2, width / 2, ch / 4, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, ch / 4, height, width);
    }

    /**
     * The latent side the pipeline uses for an image side of {@code pixels}: 2·⌊pixels / (2·vaeScale)⌋
     * (vaeScale = 8 for the Flux VAE, so 1024 px → 128 latents → 64 tokens per row).
     */
    public static long latentSide(long pixels, int vaeScaleFactor) {
        return 2 * (pixels / (vaeScaleFactor * 2L));
    }

    /**
     * {@code _prepare_latent_image_ids} with the first column set to {@code index}: [hTokens·wTokens, 3]
     * rows [index, i, j] in row-major token order (the target uses index 0, Kontext's reference 1).
     */
    public static Tensor imageIds(long hTokens, long wTokens, int index, ScalarType dtype, Device device) {
        long n = hTokens * wTokens;
        if (n > Integer.MAX_VALUE / 3) throw new IllegalArgumentException("imageIds: too many tokens: " + n);
        float[] f = new float[(int) (3 * n)];
        for (long i = 0; i < hTokens; i++)
            for (long j = 0; j < wTokens; j++) {
                int r = (int) (3 * (i * wTokens + j));
                f[r] = index;
                f[r + 1] = i;
                f[r + 2] = j;
            }
        return Tensors.fromFloats(f, n, 3).to(device, dtype);
    }

    /**
     * Kontext's img_ids: the target's tokens (index 0) then the reference's (index 1), for latent
     * grids of (targetH/2)×(targetW/2) and (refH/2)×(refW/2) tokens: [Nt + Nr, 3].
     */
    public static Tensor kontextImageIds(long targetLatentH, long targetLatentW, long refLatentH, long refLatentW,
                                         ScalarType dtype, Device device) {
        return torch.cat(new TensorVector(imageIds(targetLatentH / 2, targetLatentW / 2, 0, dtype, device),
                imageIds(refLatentH / 2, refLatentW / 2, 1, dtype, device)), 0);
    }

    /** Flux's txt_ids: zeros [textTokens, 3]. */
    public static Tensor textIds(long textTokens, ScalarType dtype, Device device) {
        return torch.zeros(new long[] {textTokens, 3}, Tensors.options(dtype, device));
    }
}
