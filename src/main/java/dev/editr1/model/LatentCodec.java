package dev.editr1.model;

import java.util.function.UnaryOperator;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.kernels.Scopes;

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

    /**
     * Runs f on each sample of a batch (rows of dim 0) in a scope of its own and concatenates the
     * results: a VAE's activations at full resolution are a run's largest tensors, so only one
     * sample's are alive at a time.
     */
    static Tensor perSample(Tensor batch, UnaryOperator<Tensor> f) {
        long b = batch.size(0);
        Tensor[] parts = new Tensor[(int) b];
        for (int i = 0; i < b; i++) {
            final int row = i;
            parts[i] = Scopes.keep(() -> f.apply(batch.narrow(0, row, 1)));
        }
        Tensor out = b == 1 ? parts[0] : torch.cat(new TensorVector(parts), 0);
        if (b > 1) Scopes.release(parts);
        return out;
    }

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
