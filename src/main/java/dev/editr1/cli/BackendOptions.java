package dev.editr1.cli;

import picocli.CommandLine.Option;

/** The backend options every command takes (see {@link dev.editr1.kernels.Backend}). */
final class BackendOptions {
    @Option(names = "--backend", defaultValue = "auto",
            description = "auto, cpu or cuda (default: ${DEFAULT-VALUE}; also -Deditr1.backend / EDITR1_BACKEND)")
    String backend;

    @Option(names = "--impl", defaultValue = "native",
            description = "native (fused kernels) or torch (composed libtorch ops); default: ${DEFAULT-VALUE}")
    String impl;

    dev.editr1.kernels.KernelOps ops() {
        return Common.ops(backend, impl);
    }
}
