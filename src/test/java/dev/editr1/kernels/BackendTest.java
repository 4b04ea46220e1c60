package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The backend choice: said out loud, forceable, and an error when a forced CUDA is not there. */
class BackendTest {
    @Test
    void forcedCpuUsesTheCpu() {
        Backend b = Backend.resolve("cpu", "native", true);
        assertEquals(Backend.Kind.CPU, b.kind);
        assertTrue(b.reason.contains("forced"), b.reason);
        assertEquals("native", b.ops().name());
        assertEquals("torch", Backend.resolve("cpu", "torch", true).ops().name());
    }

    @Test
    void autoExplainsItsChoice() {
        Backend.Probe p = Backend.probe();
        assertTrue(p.nativeLoaded, p.nativeError);
        Backend b = Backend.resolve("auto", "native", true);
        assertEquals(p.cudaUsable() ? Backend.Kind.CUDA : Backend.Kind.CPU, b.kind);
        assertTrue(b.reason.startsWith("auto: "), b.reason);
        if (!p.cudaUsable()) assertTrue(b.reason.contains(p.whyNot()), b.reason);
    }

    @Test
    void forcedCudaWithoutCudaIsAClearError() {
        Backend.Probe p = Backend.probe();
        org.junit.jupiter.api.Assumptions.assumeFalse(p.cudaUsable(), "CUDA is usable here");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backend.resolve("cuda", "native", true));
        assertTrue(e.getMessage().contains("cannot be used"), e.getMessage());
    }

    @Test
    void unknownSettingsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Backend.resolve("tpu", "native", true));
        assertThrows(IllegalArgumentException.class, () -> Backend.resolve("cpu", "triton", true));
    }

    @Test
    void libraryReportsItself() {
        assertEquals("0.1.0", Editr1Native.editr1_version());
        assertTrue(Editr1Native.editr1_cpu_threads() >= 1);
        assertEquals(4, Editr1Native.editr1_dtype_size(0));
        assertEquals(2, Editr1Native.editr1_dtype_size(1));
        if (Editr1Native.editr1_cuda_built() == 1) {
            assertTrue(Editr1Native.editr1_cuda_architectures().contains("90"), Editr1Native.editr1_cuda_architectures());
            int n = Editr1Native.editr1_cuda_device_count();
            if (n < 0) assertTrue(!Editr1Native.editr1_cuda_error_string().isEmpty());
        }
    }
}
