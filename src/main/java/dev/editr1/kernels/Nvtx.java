package dev.editr1.kernels;

/**
 * NVTX ranges around editr1's training phases and kernel launches, so a Nsight Systems timeline
 * shows its structure. Off by default; on with {@code -Deditr1.nvtx=true} (or {@code train --nvtx}).
 * Off, a range costs one branch.
 */
public final class Nvtx {
    private static volatile boolean enabled = Boolean.getBoolean("editr1.nvtx");
    private static final Range NONE = () -> {};

    private Nvtx() {}

    /** A range closed by try-with-resources. */
    @FunctionalInterface
    public interface Range extends AutoCloseable {
        @Override
        void close();
    }

    public static void enable(boolean on) {
        enabled = on;
    }

    public static boolean enabled() {
        return enabled;
    }

    public static Range range(String name) {
        if (!enabled) return NONE;
        Editr1Native.editr1_nvtx_push(name);
        return Editr1Native::editr1_nvtx_pop;
    }
}
