package dev.editr1.kernels;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

/**
 * Where a run's tensors live and which implementation runs the kernels: resolved once per
 * run from its configuration, logged with the reason.
 *
 * <ul>
 *   <li>device: {@code auto} (CUDA device 0 when libtorch has its CUDA natives and a device answers
 *       — and, for the native kernels, libeditr1 has its CUDA path; else the CPU), {@code cpu},
 *       {@code cuda} (device 0) or {@code cuda:N}. A forced CUDA that cannot be used is an error
 *       that says what is missing: libtorch's CUDA natives, a GPU, or libeditr1's CUDA path.</li>
 *   <li>implementation: {@code native} (the fused kernels, {@link NativeOps}) or {@code torch}
 *       (the same math composed from libtorch ops, {@link TorchOps}).</li>
 *   <li>finite checks: {@code -Deditr1.checkFinite=false} stops the CUDA path from reading back
 *       its non-finite flag after each launch (a device sync); the CPU path always checks.</li>
 * </ul>
 * Kernels dispatch on their tensors' device, so every tensor of a run must be on {@link #device()}.
 */
public final class Backend {
    public enum Kind { CPU, CUDA }
    public enum Impl { NATIVE, TORCH }

    /** A parsed device setting: auto, cpu, cuda, cuda:N. */
    public record DeviceSpec(String text, Kind kind, int index, boolean auto) {
        public static DeviceSpec parse(String s) {
            String t = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
            if (t.equals("auto")) return new DeviceSpec(t, null, 0, true);
            if (t.equals("cpu")) return new DeviceSpec(t, Kind.CPU, -1, false);
            if (t.equals("cuda")) return new DeviceSpec("cuda:0", Kind.CUDA, 0, false);
            Matcher m = Pattern.compile("cuda:(\\d{1,3})").matcher(t);
            if (m.matches()) return new DeviceSpec(t, Kind.CUDA, Integer.parseInt(m.group(1)), false);
            throw new IllegalArgumentException("unknown device '" + s + "' (auto, cpu, cuda or cuda:N)");
        }
    }

    public final Kind kind;
    /** The CUDA device index (0 for the CPU, where it means nothing). */
    public final int deviceIndex;
    public final Impl impl;
    /** Why this device was chosen, in words. */
    public final String reason;
    public final boolean checkFinite;
    private final KernelOps ops;

    private Backend(Kind kind, int deviceIndex, Impl impl, String reason, boolean checkFinite) {
        this.kind = kind;
        this.deviceIndex = deviceIndex;
        this.impl = impl;
        this.reason = reason;
        this.checkFinite = checkFinite;
        this.ops = impl == Impl.NATIVE ? new NativeOps(checkFinite) : new TorchOps(checkFinite);
    }

    /** The kernels of the chosen implementation. */
    public KernelOps ops() {
        return ops;
    }

    /** The torch device every tensor of the run lives on. */
    public Device device() {
        return kind == Kind.CUDA ? new Device(torch.DeviceType.CUDA, (byte) deviceIndex) : Tensors.cpu();
    }

    /** cpu or cuda:N */
    public String deviceName() {
        return kind == Kind.CUDA ? "cuda:" + deviceIndex : "cpu";
    }

    /** One line for logs: the device, why, and the kernels. */
    public String describe() {
        return deviceName() + " (" + reason + "), kernels " + impl.name().toLowerCase(Locale.ROOT);
    }

    /**
     * Threads for CPU work: libtorch's intra-op pool (on small models one thread is fastest: the
     * per-op cost of waking workers exceeds the work) and libeditr1's own pool for the CPU
     * kernels (0: its default, the CPUs this process may use; it keeps its speed beside other
     * busy processes, see native/src/cpu_pool.cpp).
     */
    public static void setCpuThreads(int torchThreads, int kernelThreads) {
        if (torchThreads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + torchThreads);
        if (kernelThreads < 0) throw new IllegalArgumentException("kernelThreads must be >= 0, got " + kernelThreads);
        org.bytedeco.pytorch.global.torch.set_num_threads(torchThreads);
        try {
            Editr1Native.editr1_set_cpu_threads(kernelThreads);
        } catch (LinkageError e) {
            // libeditr1 absent: the torch implementation needs no native threads
        }
    }

    /**
     * OpenBLAS's threads (libtorch's CPU matmuls). {@code setting} 0: as many as the CPUs other
     * processes leave free (libeditr1's /proc/stat sample; all of this process's CPUs before the
     * first sample): OpenBLAS's threads spin while they wait, so beside one busy process two of them
     * made an epoch of the embedded default 6× slower, one thread only 1.2× (bench/RESULTS.md).
     * Cheap; the trainer calls it at every epoch. Returns the count in use (0: no OpenBLAS loaded).
     */
    public static int adaptBlasThreads(int setting) {
        try {
            int want = setting;
            if (want == 0) {
                int spare = Editr1Native.editr1_cpu_spare();
                want = spare > 0 ? spare : Math.max(1, Editr1Native.editr1_cpu_threads());
            }
            int now = Editr1Native.editr1_blas_threads();
            if (now > 0 && now != want) Editr1Native.editr1_set_blas_threads(want);
            return Editr1Native.editr1_blas_threads();
        } catch (LinkageError e) {
            return 0;   // libeditr1 absent
        }
    }

    /** "N threads (why)" for the CPU kernels, or why there are none. */
    public static String kernelThreadsDescription() {
        try {
            int n = Editr1Native.editr1_cpu_threads();
            return n + " thread" + (n == 1 ? "" : "s") + " (" + Editr1Native.editr1_cpu_threads_reason() + ")";
        } catch (LinkageError e) {
            return "none (libeditr1 not loaded)";
        }
    }

    /** Resolves a backend from text settings (for doctor and tests). */
    public static Backend resolve(String deviceSetting, String implSetting, boolean checkFinite) {
        Impl impl = switch (implSetting.toLowerCase(Locale.ROOT)) {
            case "native" -> Impl.NATIVE;
            case "torch" -> Impl.TORCH;
            default -> throw new IllegalArgumentException("unknown kernel implementation '" + implSetting
                    + "' (expected native or torch)");
        };
        return resolve(deviceSetting, impl, checkFinite);
    }

    /**
     * Resolves a backend: the device a run computes on and its kernels.
     *
     * @throws IllegalArgumentException for a setting that does not parse
     * @throws IllegalStateException    when CUDA is forced and cannot be used (the message says what is missing)
     */
    public static Backend resolve(String deviceSetting, Impl impl, boolean checkFinite) {
        DeviceSpec spec = DeviceSpec.parse(deviceSetting);
        Probe p = probe();
        if (spec.auto()) {
            String why = p.whyNotCuda(impl, 0);
            if (why == null)
                return new Backend(Kind.CUDA, 0, impl, "auto: " + p.deviceCount + " CUDA device(s), libtorch with CUDA"
                        + (impl == Impl.NATIVE ? " and libeditr1's CUDA path" : ""), checkFinite);
            return new Backend(Kind.CPU, 0, impl, "auto: " + why, checkFinite);
        }
        if (spec.kind() == Kind.CPU) return new Backend(Kind.CPU, 0, impl, "forced by the device setting 'cpu'", checkFinite);
        String why = p.whyNotCuda(impl, spec.index());
        if (why != null)
            throw new IllegalStateException("device '" + spec.text() + "' was asked for but CUDA cannot be used: " + why);
        return new Backend(Kind.CUDA, spec.index(), impl, "forced by the device setting '" + spec.text() + "'", checkFinite);
    }

    /** Whether the CUDA path reads back its non-finite flag (a device sync per launch): -Deditr1.checkFinite. */
    public static boolean checkFiniteSetting() {
        String v = System.getProperty("editr1.checkFinite", System.getenv().getOrDefault("EDITR1_CHECK_FINITE", "true"));
        return !"false".equalsIgnoreCase(v.trim());
    }

    /**
     * The kernel set of libtorch's OpenBLAS and who chose it, in words (doctor, the run's log):
     * OPENBLAS_CORETYPE when the environment sets it (a pin to older kernels costs speed: Haswell's
     * AVX2 ones made the embedded epoch 1.3-1.5× slower than the AVX-512 ones on a Zen 5 VM,
     * bench/RESULTS.md), else OpenBLAS's own detection.
     */
    public static String blasCoreDescription() {
        String core = Editr1Native.editr1_blas_core();
        if (core == null) return "not loaded";
        String env = System.getenv("OPENBLAS_CORETYPE");
        return core + " kernels (" + (env != null ? "OPENBLAS_CORETYPE=" + env : "OpenBLAS's own detection") + ")";
    }

    /** What the machine and the libraries offer; never throws. */
    public static Probe probe() {
        Probe p = new Probe();
        try {
            Editr1Native.load();
            p.nativeLoaded = true;
            p.nativeVersion = Editr1Native.editr1_version();
            p.cudaBuilt = Editr1Native.editr1_cuda_built() == 1;
            p.cudaArchs = Editr1Native.editr1_cuda_architectures();
            p.deviceCount = Editr1Native.editr1_cuda_device_count();
            p.cudaError = p.deviceCount < 0 ? Editr1Native.editr1_cuda_error_string() : "";
            p.cpuThreads = Editr1Native.editr1_cpu_threads();
            p.cpuThreadsReason = Editr1Native.editr1_cpu_threads_reason();
            p.blasThreads = Editr1Native.editr1_blas_threads();
            p.blasCore = blasCoreDescription();
            p.cpuIsa = Editr1Native.editr1_cpu_isa();
        } catch (Throwable t) { // UnsatisfiedLinkError once, NoClassDefFoundError afterwards
            p.nativeError = t.toString();
        }
        try {
            p.torchCuda = torch.cuda_is_available();
            p.torchDevices = p.torchCuda ? (int) torch.cuda_device_count() : 0;
        } catch (Throwable t) {
            p.torchCuda = false;
            p.torchError = t.toString();
        }
        try {
            p.torchVersion = torchVersion();
            p.torchThreads = torch.get_num_threads();
        } catch (Throwable t) {
            p.torchError = t.toString();
        }
        return p;
    }

    /** libtorch's version, from its build configuration (falls back to the preset's version). */
    public static String torchVersion() {
        String cfg = torch.show_config().getString();
        Matcher m = Pattern.compile("TORCH_VERSION=([^,\\s]+)").matcher(cfg);
        if (m.find()) return m.group(1);
        Package pkg = torch.class.getPackage();
        return pkg != null && pkg.getImplementationVersion() != null ? pkg.getImplementationVersion() : "unknown";
    }

    /** Facts about the machine and the libraries, for the choice and for {@code doctor}. */
    public static final class Probe {
        public boolean nativeLoaded;
        public String nativeError = "";
        public String nativeVersion = "";
        public boolean cudaBuilt;
        public String cudaArchs = "";
        public int deviceCount;
        public String cudaError = "";
        public int cpuThreads;
        public String cpuThreadsReason = "";
        public int blasThreads;
        /** {@link #blasCoreDescription()}. */
        public String blasCore = "";
        public String cpuIsa = "";
        public boolean torchCuda;
        public int torchDevices;
        public String torchError = "";
        public String torchVersion = "";
        public int torchThreads;

        public boolean cudaUsable() {
            return whyNotCuda(Impl.NATIVE, 0) == null;
        }

        /** Why CUDA device {@code index} cannot be used with an implementation, or null when it can. */
        public String whyNotCuda(Impl impl, int index) {
            if (!torchCuda) return "libtorch has no CUDA (its CPU natives are installed; build with -Pgpu for the CUDA ones)";
            int devices = Math.max(torchDevices, deviceCount);
            if (devices <= 0) return "no CUDA device" + (deviceCount < 0 ? " (" + cudaError + ")" : "");
            if (index >= devices) return "no device cuda:" + index + " (" + devices + " device(s))";
            if (impl == Impl.NATIVE) {
                if (!nativeLoaded) return "libeditr1 did not load: " + nativeError;
                if (!cudaBuilt) return "libeditr1 was built without its CUDA path (nvcc was missing at build time)";
            }
            return null;
        }

        public String whyNot() {
            String w = whyNotCuda(Impl.NATIVE, 0);
            return w == null ? "CUDA usable" : w;
        }
    }
}
