package dev.editr1.train;

import dev.editr1.kernels.NoiseKey;

/**
 * The Philox streams of one seed, one per use, so no two uses ever draw the same numbers: a
 * rollout's initial noise, the training ε (one stream per trained timestep slot), evaluation,
 * SFT, the sample and calibrate commands, and the ξ of Flow-GRPO's SDE rollout steps (one stream
 * per step).
 */
public enum NoiseStreams {
    ROLLOUT(1), TRAIN(2), EVAL(3), SFT(4), SAMPLE(5), CALIBRATE(6), SDE(7);

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

    /** The ξ of SDE rollout step i (SDE only), rows from rowOffset (the chunk's first sample id): stream id + 256·i. */
    public NoiseKey step(long seed, long rowOffset, int i) {
        if (this != SDE) throw new IllegalStateException("only the SDE rollout has per-step noise");
        return new NoiseKey(seed, rowOffset, id + 256 * i);
    }
}
