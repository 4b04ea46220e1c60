package dev.editr1.model.qwen;

import java.util.Arrays;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.Tensors;

/**
 * The 2×2 latent packing of the Qwen-Image(-Edit/-Edit-Plus) pipelines ({@code _pack_latents} /
 * {@code _unpack_latents}): a [B, C, 1, h, w] latent (h, w even) becomes [B, (h/2)(w/2), 4C]
 * tokens, row-major over the (h/2, w/2) grid, token channel {@code c·4 + 2·di + dj} holding latent
 * pixel (2i + di, 2j + dj) of channel c. Both directions are views plus one copy (the permute).
 */
public final class QwenLatentPacking {
    private QwenLatentPacking() {}

    /**
     * [B, C, 1, h, w] or [B, C, h, w] latents (any dtype, any device; h and w even) →
     * [B, (h/2)(w/2), 4C] tokens, as {@code view(B, C, h/2, 2, w/2, 2).permute(0, 2, 4, 1, 3, 5)}.
     */
    public static Tensor pack(Tensor latents) {
        long b, c, h, w;
        if (latents.dim() == 5) {
            if (latents.size(2) != 1)
                throw new IllegalArgumentException("pack: single-frame latents expected, got " + Arrays.toString(Tensors.shape(latents)));
            b = latents.size(0);
            c = latents.size(1);
            h = latents.size(3);
            w = latents.size(4);
        } else if (latents.dim() == 4) {
            b = latents.size(0);
            c = latents.size(1);
            h = latents.size(2);
            w = latents.size(3);
        } else {
            throw new IllegalArgumentException("pack: [B, C, 1, h, w] or [B, C, h, w] expected, got " + Arrays.toString(Tensors.shape(latents)));
        }
        if (h % 2 != 0 || w % 2 != 0)
            throw new IllegalArgumentException("pack: latent height and width must be even, got " + h + " x " + w);
        return latents.reshape(b, c, h / 2, 2, w / 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h / 2) * (w / 2), c * 4);
    }

    /**
     * [B, (h/2)(w/2), 4C] tokens → [B, C, 1, h, w] latents (h, w the latent size, even), the inverse
     * of {@link #pack}.
     */
    public static Tensor unpack(Tensor tokens, long latentHeight, long latentWidth) {
        if (tokens.dim() != 3 || tokens.size(2) % 4 != 0 || latentHeight % 2 != 0 || latentWidth % 2 != 0
                || tokens.size(1) != (latentHeight / 2) * (latentWidth / 2))
            throw new IllegalArgumentException("unpack: tokens " + Arrays.toString(Tensors.shape(tokens))
                    + " do not hold a " + latentHeight + " x " + latentWidth + " latent (even sides, 4C channels)");
        long b = tokens.size(0), c = tokens.size(2) / 4;
        return tokens.reshape(b, latentHeight / 2, latentWidth / 2, c, 2, 2).permute(0, 3, 1, 4, 2, 5)
                .reshape(b, c, 1, latentHeight, latentWidth);
    }

    /**
     * diffusers' {@code _unpack_latents(tokens, height, width, vae_scale_factor)}: image height/width in
     * pixels; the latent size is {@code 2·(height // (2·vae_scale_factor))} (and likewise for width).
     */
    public static Tensor unpackForImage(Tensor tokens, long height, long width, int vaeScaleFactor) {
        return unpack(tokens, 2 * (height / (vaeScaleFactor * 2L)), 2 * (width / (vaeScaleFactor * 2L)));
    }

    /** The token grid of an h × w latent: (1, h/2, w/2), the {@code img_shapes} entry of that image. */
    public static ImageShape tokenGrid(long latentHeight, long latentWidth) {
        return ImageShape.of((int) (latentHeight / 2), (int) (latentWidth / 2));
    }
}
