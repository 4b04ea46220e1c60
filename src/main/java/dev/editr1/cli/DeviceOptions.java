package dev.editr1.cli;

import dev.editr1.train.TrainConfig;
import picocli.CommandLine.Option;

/** Where a command computes: {@code --device} and {@code --impl} (see {@link dev.editr1.kernels.Backend}). */
final class DeviceOptions {
    @Option(names = "--device", description = "auto, cpu, cuda or cuda:N (default: the configuration's, auto)")
    String device;

    @Option(names = "--impl", description = "native (fused kernels, default) or torch (composed libtorch ops)")
    String impl;

    void apply(TrainConfig cfg) {
        if (device != null) cfg.set("device", device);
        if (impl != null) cfg.set("impl", impl);
    }

    boolean given() {
        return device != null || impl != null;
    }
}
