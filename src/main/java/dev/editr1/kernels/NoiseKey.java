package dev.editr1.kernels;

/**
 * The key of a counter-based noise draw: element e of row b is normal number e of the Philox
 * stream (seed, rowOffset + b, stream). Two draws with the same key are the same bits on every
 * backend and thread count; ranks and batches keep noise per sample by offsetting rows.
 *
 * @param seed      the Philox key (64 bits)
 * @param rowOffset the global index of row 0 (a rank's or a batch's first sample)
 * @param stream    separates independent uses of one seed (e.g. initial noise vs. training ε)
 */
public record NoiseKey(long seed, long rowOffset, int stream) {
    public static NoiseKey of(long seed) {
        return new NoiseKey(seed, 0, 0);
    }

    public NoiseKey withRowOffset(long offset) {
        return new NoiseKey(seed, offset, stream);
    }

    public NoiseKey withStream(int s) {
        return new NoiseKey(seed, rowOffset, s);
    }
}
