package dev.editr1.kernels;

import java.util.Locale;

/**
 * How much freed memory the process's C heap keeps for reuse: libtorch's CPU tensors live there,
 * and every kernel call allocates fresh outputs (a 3 MB gradient for the NFT loss at 12×16×64×64
 * f32). glibc's defaults hand a large freed block back to the kernel (munmap, or madvise at an
 * arena's top, by thresholds it adapts to the sizes freed so far), so the next call's output is
 * faulted in again page by page (~13 µs a page on a 2-core VM beside one busy process); there the
 * loaded NFT loss benchmark ran 581–715 ops/s per fork at glibc's thresholds and 1,069–1,211 with
 * the freed blocks kept, and an epoch of the embedded default took 0.83–0.87 s quiet against
 * 1.13–1.33 (bench/RESULTS.md, "the C heap under load"). Applied once, when libeditr1 loads.
 *
 * <p>Setting: {@code -Deditr1.heapRetainMb=N} or {@code EDITR1_HEAP_RETAIN_MB=N} (default
 * {@value #DEFAULT_MB}; 0 leaves glibc's own thresholds). A process whose environment already
 * tunes malloc ({@code MALLOC_TRIM_THRESHOLD_}, {@code MALLOC_MMAP_THRESHOLD_} or a
 * {@code glibc.malloc.*} entry of {@code GLIBC_TUNABLES}) keeps its own choice.
 */
public final class HeapRetention {
    /** Enough for every per-call output of the kernels at the realistic sizes many times over, and
     *  small beside a training process's working set. */
    public static final long DEFAULT_MB = 256;
    /** The system property of the setting, and the environment variable read when it is unset. */
    public static final String PROPERTY = "editr1.heapRetainMb", ENV = "EDITR1_HEAP_RETAIN_MB";

    private static String description = "not applied (libeditr1 not loaded)";
    private static boolean applied;

    private HeapRetention() {}

    /** Reads the setting and applies it (once per process; later calls do nothing). */
    static synchronized void apply() {
        if (applied) return;
        applied = true;
        String env = environmentTuning();
        if (env != null) {
            description = "glibc's, as the environment tunes it (" + env + ")";
            return;
        }
        long mb;
        try {
            mb = setting();
        } catch (IllegalArgumentException e) {
            // a run checks the setting itself and stops with this message (RunContext); the library stays usable
            description = "glibc's own thresholds: " + e.getMessage();
            return;
        }
        if (mb == 0) {
            description = "glibc's own thresholds (" + PROPERTY + "=0)";
            return;
        }
        description = Editr1Native.editr1_retain_heap(mb << 20) == 1
                ? "keeps up to " + mb + " MB of freed memory for reuse (" + PROPERTY + ", default " + DEFAULT_MB
                        + ": a kernel's fresh outputs then cost no page faults)"
                : "glibc's own thresholds (this C library does not take the setting)";
    }

    /** What the C heap keeps, and who chose it, in words (doctor, the run's log). */
    public static synchronized String description() {
        return description;
    }

    /**
     * The setting in MB: the system property, else the environment variable, else the default.
     *
     * @throws IllegalArgumentException when it is not a whole number in [0, 2047]
     */
    public static long setting() {
        return parse(System.getProperty(PROPERTY, System.getenv(ENV)));
    }

    /** A setting's text in MB (null or blank: the default); see {@link #setting()}. */
    static long parse(String v) {
        if (v == null || v.isBlank()) return DEFAULT_MB;
        try {
            long mb = Long.parseLong(v.trim());
            if (mb >= 0 && mb <= 2047) return mb;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(PROPERTY + " must be a whole number of MB in [0, 2047], got '" + v + "'");
    }

    /** The environment's own malloc tuning, or null when it has none. */
    static String environmentTuning() {
        for (String k : new String[] {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"})
            if (System.getenv(k) != null) return k + "=" + System.getenv(k);
        String t = System.getenv("GLIBC_TUNABLES");
        if (t != null && t.toLowerCase(Locale.ROOT).contains("glibc.malloc.")) return "GLIBC_TUNABLES=" + t;
        return null;
    }
}
