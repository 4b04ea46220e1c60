package dev.editr1.train;

import java.nio.file.Path;

/** {@link TrainerTest}'s small configuration and in-process run, for tests in other packages. */
public final class TrainerTestAccess {
    private TrainerTestAccess() {}

    public static TrainConfig small(int epochs) {
        return TrainerTest.small(epochs);
    }

    public static Trainer.Summary run(TrainConfig c, Path dir, boolean resume) throws Exception {
        return TrainerTest.run(c, dir, resume);
    }
}
