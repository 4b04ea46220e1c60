package dev.editr1.cli;

import java.io.IOException;
import java.nio.file.Path;

import dev.editr1.kernels.Backend;
import dev.editr1.kernels.KernelOps;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.EditDiT;

/** What the commands share: backend choice and base-model loading. */
final class Common {
    private Common() {}

    static KernelOps ops(String backend, String impl) {
        Backend.configure(backend, impl);
        return Backend.get().ops();
    }

    /** The base from a file, or the embedded one when the path is empty. */
    static EditDiT base(String path) throws IOException {
        if (path == null || path.isEmpty()) return Checkpoints.loadEmbeddedBase();
        return Checkpoints.loadBase(Path.of(path));
    }
}
