package dev.editr1.train;

import dev.editr1.kernels.NoiseKey;

/**
 * The Philox streams of one seed, one per use, so no two uses ever draw the same numbers: a
 * rollout's initial noise, the training ε (one stream per trained timestep slot), evaluation,
 * SFT, and the sample and calibrate commands.
 */
public enum NoiseStreams {
    ROLLOUT(1), TRAIN(2), EVAL(3), SFT(4), SAMPLE(5), CALIBRATE(6);

    public final int id;

    NoiseStreams(int id) {
        this.id = id;
    }

    /** Rows rowOffset, rowOffset + 1, … of this stream. */
    public NoiseKey key(long seed, long rowOffset) {
        return new NoiseKey(seed, rowOffset, id);
    }

    /** The training ε of timestep slot k (TRAIN only): stream id + 256·k. */
    public NoiseKey slot(long seed, int k) {
        if (this != TRAIN) throw new IllegalStateException("only the training noise has slots");
        return new NoiseKey(seed, 0, id + 256 * k);
    }
}
