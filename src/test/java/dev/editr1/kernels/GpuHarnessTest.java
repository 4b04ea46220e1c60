package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * The GPU check (bench/gpu) compiles and starts on every build; on a machine without a GPU it
 * reports that and exits 0. Its CUDA checks and timings run on a GPU machine (bench/gpu/check.sh).
 */
class GpuHarnessTest {
    static String run(long timeoutS, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertTrue(p.waitFor(timeoutS, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void gpuCheckBinaryBuildsAndRuns() throws Exception {
        File exe = new File("target/native/build/gpu_check");
        assertTrue(exe.canExecute(), "CMake did not build " + exe);
        assumeTrue(Editr1Native.editr1_cuda_device_count() <= 0, "a GPU is present: run bench/gpu/check.sh instead");
        String out = run(60, exe.getPath());
        assertTrue(out.contains("libeditr1 " + Editr1Native.editr1_version()), out);
        assertTrue(out.contains("nothing to check"), out);
    }

    @Test
    void torchComparisonScriptParses() throws Exception {
        boolean python = new File("/usr/bin/python3").canExecute() || new File("/usr/local/bin/python3").canExecute();
        assumeTrue(python, "no python3 on this machine");
        run(60, "python3", "-m", "py_compile", "bench/gpu/torch_compare.py");
        run(60, "bash", "-n", "bench/gpu/check.sh");
    }
}
