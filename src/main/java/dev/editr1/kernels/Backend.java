package dev.editr1.kernels;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

/**
 * Where editr1's tensors live and which implementation runs the four kernels: chosen once per
 * process, logged with the reason, forceable.
 *
 * <ul>
 *   <li>device: {@code auto} (CUDA when libeditr1 has its CUDA path, a device answers, and
 *       libtorch has CUDA; else CPU), {@code cpu}, or {@code cuda} (an error if any of those is
 *       missing). Set by {@code -Deditr1.backend=...}, {@code EDITR1_BACKEND}, or a CLI flag.</li>
 *   <li>implementation: {@code native} (the fused kernels, {@link NativeOps}) or {@code torch}
 *       (the same math composed from libtorch ops, {@link TorchOps}). Set by
 *       {@code -Deditr1.impl=...} or {@code EDITR1_IMPL}.</li>
 *   <li>finite checks: {@code -Deditr1.checkFinite=false} stops the CUDA path from reading back
 *       its non-finite flag after each launch (a device sync); the CPU path always checks.</li>
 * </ul>
 */
public final class Backend {
    public enum Kind { CPU, CUDA }
    public enum Impl { NATIVE, TORCH }

    private static volatile Backend instance;
    private static String requestedKind;
    private static String requestedImpl;

    public final Kind kind;
    public final Impl impl;
    /** Why this device was chosen, in words. */
    public final String reason;
    public final boolean checkFinite;
    private final KernelOps ops;

    private Backend(Kind kind, Impl impl, String reason, boolean checkFinite) {
        this.kind = kind;
        this.impl = impl;
        this.reason = reason;
        this.checkFinite = checkFinite;
        this.ops = impl == Impl.NATIVE ? new NativeOps(checkFinite) : new TorchOps(checkFinite);
    }

    /**
     * Sets the requested device and implementation before the first {@link #get()} (a CLI flag).
     * Null leaves a value to the system property / environment / default.
     *
     * @throws IllegalStateException if the backend was already chosen differently
     */
    public static synchronized void configure(String kind, String impl) {
        if (instance != null) {
            Backend b = instance;
            boolean kindOk = kind == null || kind.equalsIgnoreCase("auto") || kind.equalsIgnoreCase(b.kind.name());
            boolean implOk = impl == null || impl.equalsIgnoreCase(b.impl.name());
            if (!kindOk || !implOk)
                throw new IllegalStateException("backend already chosen (" + b.kind + ", " + b.impl + ")");
            return;
        }
        if (kind != null) requestedKind = kind;
        if (impl != null) requestedImpl = impl;
    }

    /** The process's backend, resolved on first use. */
    public static Backend get() {
        Backend b = instance;
        if (b != null) return b;
        synchronized (Backend.class) {
            if (instance == null) {
                instance = resolve(setting(requestedKind, "editr1.backend", "EDITR1_BACKEND", "auto"),
                        setting(requestedImpl, "editr1.impl", "EDITR1_IMPL", "native"),
                        !"false".equalsIgnoreCase(setting(null, "editr1.checkFinite", "EDITR1_CHECK_FINITE", "true")));
                System.err.println("editr1: backend " + instance.kind.name().toLowerCase(Locale.ROOT) + " ("
                        + instance.reason + "), kernels " + instance.impl.name().toLowerCase(Locale.ROOT));
            }
            return instance;
        }
    }

    /** The kernels of the chosen implementation. */
    public KernelOps ops() {
        return ops;
    }

    /**
     * Threads for CPU work: libtorch's intra-op pool and libeditr1's CPU path (one OpenMP pool).
     * On small models one thread is fastest: the per-op cost of waking workers exceeds the work.
     */
    public static void setCpuThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        org.bytedeco.pytorch.global.torch.set_num_threads(n);
        try {
            Editr1Native.editr1_set_cpu_threads(n);
        } catch (LinkageError e) {
            // libeditr1 absent: the torch implementation needs no native threads
        }
    }

    /** The torch device tensors should be created on. */
    public Device device() {
        return kind == Kind.CUDA ? new Device(torch.DeviceType.CUDA, (byte) 0) : Tensors.cpu();
    }

    /** Resolves a backend without installing it (for doctor and tests). */
    public static Backend resolve(String kindSetting, String implSetting, boolean checkFinite) {
        String k = kindSetting.toLowerCase(Locale.ROOT);
        String i = implSetting.toLowerCase(Locale.ROOT);
        Impl impl;
        switch (i) {
            case "native" -> impl = Impl.NATIVE;
            case "torch" -> impl = Impl.TORCH;
            default -> throw new IllegalArgumentException("unknown kernel implementation '" + implSetting
                    + "' (expected native or torch)");
        }
        Probe p = probe();
        switch (k) {
            case "cpu":
                return new Backend(Kind.CPU, impl, "forced by the backend setting 'cpu'", checkFinite);
            case "cuda":
                if (!p.cudaUsable())
                    throw new IllegalStateException("backend 'cuda' was forced but CUDA cannot be used: " + p.whyNot());
                return new Backend(Kind.CUDA, impl, "forced by the backend setting 'cuda'", checkFinite);
            case "auto":
                if (p.cudaUsable())
                    return new Backend(Kind.CUDA, impl, "auto: " + p.deviceCount + " CUDA device(s), "
                            + "libeditr1 and libtorch built with CUDA", checkFinite);
                return new Backend(Kind.CPU, impl, "auto: " + p.whyNot(), checkFinite);
            default:
                throw new IllegalArgumentException("unknown backend '" + kindSetting + "' (expected auto, cpu or cuda)");
        }
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
            p.cpuIsa = Editr1Native.editr1_cpu_isa();
        } catch (Throwable t) { // UnsatisfiedLinkError once, NoClassDefFoundError afterwards
            p.nativeError = t.toString();
        }
        try {
            p.torchCuda = torch.cuda_is_available();
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
        public String cpuIsa = "";
        public boolean torchCuda;
        public String torchError = "";
        public String torchVersion = "";
        public int torchThreads;

        public boolean cudaUsable() {
            return nativeLoaded && cudaBuilt && deviceCount > 0 && torchCuda;
        }

        public String whyNot() {
            if (!nativeLoaded) return "libeditr1 did not load: " + nativeError;
            if (!cudaBuilt) return "libeditr1 was built without CUDA";
            if (deviceCount <= 0)
                return deviceCount == 0 ? "no CUDA device" : "CUDA runtime unavailable: " + cudaError;
            if (!torchCuda) return "libtorch has no CUDA (CPU natives; build with -Pgpu for the CUDA ones)";
            return "CUDA usable";
        }
    }

    private static String setting(String explicit, String property, String env, String dflt) {
        if (explicit != null) return explicit;
        String v = System.getProperty(property);
        if (v != null && !v.isBlank()) return v.trim();
        v = System.getenv(env);
        if (v != null && !v.isBlank()) return v.trim();
        return dflt;
    }
}
