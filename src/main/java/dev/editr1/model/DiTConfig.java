package dev.editr1.model;

import java.util.Locale;

/**
 * The size of the built-in editing diffusion transformer.
 *
 * @param imageSize canvas side in pixels (a multiple of patch)
 * @param patch     patch side: a canvas is (imageSize/patch)² tokens of 3·patch² values
 * @param width     hidden width (a multiple of heads)
 * @param depth     transformer blocks
 * @param heads     attention heads
 * @param textLen   instruction tokens
 * @param vocab     instruction vocabulary size
 */
public record DiTConfig(int imageSize, int patch, int width, int depth, int heads, int textLen, int vocab) {
    public DiTConfig {
        if (imageSize % patch != 0) throw new IllegalArgumentException("imageSize must be a multiple of patch");
        if (width % heads != 0) throw new IllegalArgumentException("width must be a multiple of heads");
        if (depth < 1) throw new IllegalArgumentException("depth must be >= 1");
    }

    /** Tokens of one image. */
    public int imageTokens() {
        return (imageSize / patch) * (imageSize / patch);
    }

    public int patchDim() {
        return 3 * patch * patch;
    }

    /**
     * Presets: tiny (the 2-core CPU default: one token per grid cell, patch = size/3, and a width
     * above the patch's 3·p² values so the noisy input is not squeezed), small, base, large (a GPU
     * box; patch = size/6 or finer).
     */
    public static DiTConfig preset(String name, int imageSize, int vocab, int textLen) {
        int cell = imageSize / 3;
        int fine = cell % 2 == 0 ? cell / 2 : cell;
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "tiny" -> new DiTConfig(imageSize, cell, 128, 3, 4, textLen, vocab);
            case "small" -> new DiTConfig(imageSize, fine, 128, 6, 4, textLen, vocab);
            case "base" -> new DiTConfig(imageSize, fine, 384, 12, 6, textLen, vocab);
            case "large" -> new DiTConfig(imageSize, fine, 1024, 24, 16, textLen, vocab);
            default -> throw new IllegalArgumentException("unknown model preset '" + name + "' (tiny, small, base, large)");
        };
    }
}
