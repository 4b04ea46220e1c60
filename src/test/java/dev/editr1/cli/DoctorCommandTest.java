package dev.editr1.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class DoctorCommandTest {
    static String captured(Runnable r) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            r.run();
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void healthyMachineExitsZero() {
        int[] code = new int[1];
        String out = captured(() -> code[0] = Main.run("doctor"));
        assertEquals(0, code[0], out);
        for (String s : new String[] {"libeditr1:", "libtorch:", "CUDA path built:", "device:", "threads", "status: OK"})
            assertTrue(out.contains(s), "doctor output lacks '" + s + "':\n" + out);
        // libtorch's OpenBLAS is loaded here: its kernel set and who chose it
        assertTrue(out.matches("(?s).*OpenBLAS: .* \\w+ kernels \\((OPENBLAS_CORETYPE=\\S+|OpenBLAS's own detection)\\).*"),
                "doctor names no OpenBLAS kernel set:\n" + out);
        // what the C heap keeps and who chose it
        assertTrue(out.matches("(?s).*C heap: +(keeps up to \\d+ MB|glibc's).*heapRetainMb.*"), "doctor says nothing of the C heap:\n" + out);
    }

    @Test
    void unknownDeviceExitsNonZero() {
        int[] code = new int[1];
        String out = captured(() -> code[0] = Main.run("doctor", "--device", "tpu"));
        assertEquals(1, code[0], out);
        assertTrue(out.contains("unknown device"), out);
    }
}
