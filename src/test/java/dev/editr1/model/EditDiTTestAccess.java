package dev.editr1.model;

import org.bytedeco.pytorch.Tensor;

/** The model tests' fixtures, for tests in other packages. */
public final class EditDiTTestAccess {
    private EditDiTTestAccess() {}

    /** A small DiT with non-zero output layers and LoRA sets whose B is non-zero. */
    public static EditDiT trained(long seed) {
        return EditDiTTest.trained(seed);
    }

    public static Tensor rnd(long seed, long... shape) {
        return EditDiTTest.rnd(seed, shape);
    }

    public static Tensor ids(int b) {
        return EditDiTTest.ids(b);
    }
}
