package dev.editr1.cli;

import java.util.concurrent.Callable;

import dev.editr1.kernels.Backend;
import dev.editr1.kernels.Editr1Native;
import dev.editr1.kernels.HeapRetention;
import dev.editr1.train.SideThread;
import picocli.CommandLine.Command;

/**
 * {@code editr1 doctor}: what editr1 can use on this machine — the backend it would choose and
 * why, library versions, the CUDA build, devices, threads. Exit code 0 when a backend is usable.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Report the backend editr1 chooses and why, library versions, CUDA build and devices, threads.")
final class DoctorCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    DeviceOptions where;

    @Override
    public Integer call() {
        Backend.Probe p = Backend.probe();
        System.out.println("editr1 doctor");
        row("libeditr1", p.nativeLoaded ? p.nativeVersion : "NOT LOADED: " + p.nativeError);
        row("libtorch", p.torchVersion.isEmpty() ? "NOT LOADED: " + p.torchError : p.torchVersion
                + " (Bytedeco preset, " + (p.torchCuda ? "CUDA" : "CPU") + " natives)");
        row("java", System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
        row("CUDA path built", p.nativeLoaded ? (p.cudaBuilt ? "yes (" + p.cudaArchs + ")" : "no (built without nvcc)") : "-");
        if (p.nativeLoaded && p.cudaBuilt) {
            if (p.deviceCount > 0) {
                row("CUDA devices", String.valueOf(p.deviceCount));
                for (int i = 0; i < p.deviceCount; i++) row("  cuda:" + i, Editr1Native.editr1_cuda_device_name(i));
            } else {
                row("CUDA devices", p.deviceCount == 0 ? "0" : "none (" + p.cudaError + ")");
            }
        }
        row("libtorch CUDA", p.torchCuda ? "available" : "not available");
        row("CPU", Runtime.getRuntime().availableProcessors() + " processors, " + p.cpuIsa + "; libtorch: " + p.torchThreads
                + " threads (train sets --threads, default 1)");
        if (p.nativeLoaded)
            row("CPU kernels", p.cpuThreads + " threads: " + p.cpuThreadsReason + " (train sets --set kernelThreads=N)");
        if (p.nativeLoaded)
            row("OpenBLAS", p.blasThreads == 0 ? "not loaded" : p.blasThreads + " threads now; train fixes it to --set blasThreads=N "
                    + "(default 1: its sums depend on its thread count; 0 follows the CPUs other processes leave free); " + p.blasCore);
        if (p.nativeLoaded)
            row("C heap", HeapRetention.description() + "; -D" + HeapRetention.PROPERTY + "=N or " + HeapRetention.ENV + "=N changes it");
        SideThread.Choice onCpu = SideThread.choose(0, true);
        row("trainer", onCpu.threads() + (onCpu.threads() == 1 ? " thread" : " threads") + " on a CPU device (" + onCpu.reason()
                + "), 1 on CUDA: the old and reference forwards beside θ's, rollout chunks in pairs, inline while other processes "
                + "leave fewer than 2 CPUs free; bit-identical either way (train sets --set forwardThreads=1|2)");
        try {
            Backend b = Backend.resolve(where.device == null ? "auto" : where.device, where.impl == null ? "native" : where.impl, true);
            row("device", b.deviceName() + " — " + b.reason);
            row("kernels", b.impl.name().toLowerCase());
            System.out.println("status: OK");
            return p.nativeLoaded ? 0 : 1;
        } catch (RuntimeException e) {
            row("device", "UNUSABLE — " + e.getMessage());
            System.out.println("status: FAILED");
            return 1;
        }
    }

    private static void row(String k, String v) {
        System.out.printf("  %-17s %s%n", k + ":", v);
    }
}
