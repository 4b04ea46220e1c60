package dev.editr1.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import org.bytedeco.pytorch.cuda.DeviceStats;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * How much memory tensors hold: on the CPU the C heap in use (libtorch's CPU allocator takes its
 * memory from malloc; glibc counts exactly what is in use, unlike the resident size, which keeps
 * freed pages), on CUDA libtorch's caching allocator's allocated bytes. {@link #mark()} samples the
 * current value into a running peak: the trainer and the models call it where a phase's memory is
 * at its highest (after a forward, before its backward), so the peak of an epoch is measured
 * without a hook in the allocator. On CUDA the allocator keeps its own exact peak.
 */
public final class NativeMemory {
    private static final AtomicLong peak = new AtomicLong();
    private static volatile int cudaDevice = -1;

    private NativeMemory() {}

    /** Tracks CUDA device d's allocator instead of the C heap (−1: the CPU). */
    public static void track(int device) {
        cudaDevice = device;
        resetPeak();
    }

    /** Bytes tensors hold now on the tracked device (−1 when unknown). */
    public static long inUse() {
        int d = cudaDevice;
        if (d >= 0) {
            try (DeviceStats s = torch_cuda.getAllocator().getDeviceStats((byte) d)) {
                return s.allocated_bytes().current();
            }
        }
        try {
            return Editr1Native.editr1_heap_bytes_in_use();
        } catch (LinkageError e) {
            return -1;
        }
    }

    /**
     * Bytes the CPU's C heap holds from the kernel: those in use plus freed memory kept for reuse
     * ({@link HeapRetention}); −1 when unknown. What the heap adds to the resident set, unlike
     * {@link #inUse()}, which is what tensors hold.
     */
    public static long heldOnCpu() {
        try {
            return Editr1Native.editr1_heap_bytes_held();
        } catch (LinkageError e) {
            return -1;
        }
    }

    /** Samples the current bytes into the running peak; returns them. */
    public static long mark() {
        long now = inUse();
        peak.accumulateAndGet(now, Math::max);
        return now;
    }

    /** The peak since the last reset (on CUDA: the allocator's own peak). */
    public static long peak() {
        int d = cudaDevice;
        if (d >= 0) {
            try (DeviceStats s = torch_cuda.getAllocator().getDeviceStats((byte) d)) {
                return s.allocated_bytes().peak();
            }
        }
        return Math.max(peak.get(), inUse());
    }

    /** Starts a new peak interval at the current value. */
    public static void resetPeak() {
        int d = cudaDevice;
        if (d >= 0) torch_cuda.getAllocator().resetPeakStats((byte) d);
        peak.set(Math.max(0, inUse()));
    }

    /** The process's resident set now and at its peak, from /proc/self/status (bytes; −1 elsewhere). */
    public static long[] residentBytes() {
        long rss = -1, hwm = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) rss = kib(line);
                else if (line.startsWith("VmHWM:")) hwm = kib(line);
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: unknown
        }
        return new long[] {rss, hwm};
    }

    private static long kib(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
    }
}
