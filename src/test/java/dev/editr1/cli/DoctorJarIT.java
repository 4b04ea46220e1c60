package dev.editr1.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The packaged jar runs {@code doctor} from an unrelated folder (natives come out of the jar). */
class DoctorJarIT {
    @Test
    void doctorRunsFromTheJarInAnyFolder(@TempDir Path elsewhere) throws Exception {
        String jar = System.getProperty("editr1.jar", "target/editr1.jar");
        assertTrue(new File(jar).isFile(), "no jar at " + jar);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-jar", new File(jar).getAbsolutePath(), "doctor")
                .directory(elsewhere.toFile()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "doctor did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("status: OK") && out.contains("libeditr1:") && out.contains("device:"), out);
    }
}
