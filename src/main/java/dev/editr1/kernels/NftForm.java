package dev.editr1.kernels;

/** The two DiffusionNFT loss forms of SPEC §6. */
public enum NftForm {
    /** Adaptive x0-space form: L± = mean(e±²)/max(mean|e±|, floor). The default. */
    X0(0),
    /** The paper's plain velocity form: L± = mean((v± − v*)²). */
    VELOCITY(1);

    public final int code;

    NftForm(int code) {
        this.code = code;
    }
}
