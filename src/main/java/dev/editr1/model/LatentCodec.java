package dev.editr1.model;

import org.bytedeco.pytorch.Tensor;

/**
 * Between images and the latents a model denoises: source images are encoded once (their latents
 * condition the model), rollouts are decoded for the judge and the pictures. Images are
 * [B, 3, S, S] in [−1, 1] (f32) on the model's device; latents are [B, ...latentShape] in the
 * model's dtype on the same device.
 *
 * <p>The built-in model works on pixels ({@link #identity}); FLUX.1-Kontext and Qwen-Image-Edit use
 * their VAEs, with the scaling and shift their pipelines apply inside encode and decode.
 */
public interface LatentCodec {
    /** images [B, 3, S, S] → latents [B, ...] (a VAE: the mean of the posterior, normalized). */
    Tensor encode(Tensor images);

    /** latents [B, ...] → images [B, 3, S, S], not clamped. */
    Tensor decode(Tensor latents);

    String describe();

    /** The built-in model's codec: latents are the pixels. */
    static LatentCodec identity() {
        return new LatentCodec() {
            @Override
            public Tensor encode(Tensor images) {
                return images;
            }

            @Override
            public Tensor decode(Tensor latents) {
                return latents;
            }

            @Override
            public String describe() {
                return "identity (pixels)";
            }
        };
    }
}
