package dev.editr1.model.qwen;

/**
 * One image's token grid as diffusers' {@code img_shapes} entries give it: (frames, height, width)
 * in TOKEN units, i.e. latent height/2 and latent width/2 for 2×2 packing; frames is 1 for images.
 * Its tokens are {@code frames·height·width} consecutive rows of {@code hidden_states}, row-major
 * over (frame, height, width).
 */
public record ImageShape(int frames, int height, int width) {
    public ImageShape {
        if (frames < 1 || height < 1 || width < 1)
            throw new IllegalArgumentException("image shape must be positive: (" + frames + ", " + height + ", " + width + ")");
    }

    /** A single-frame image of h × w tokens. */
    public static ImageShape of(int height, int width) {
        return new ImageShape(1, height, width);
    }

    public long tokens() {
        return (long) frames * height * width;
    }
}
