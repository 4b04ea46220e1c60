package dev.editr1.model.flux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Locale;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.Safetensors;

/**
 * The diffusers golden files in {@code shared/golden/flux} (see its README) and the comparison
 * every check uses: llm.c's rule |out − ref| ≤ atol + rtol·|ref| per element, reporting the worst
 * element and the fraction of its budget used.
 */
final class FluxGolden {
    private FluxGolden() {}

    static Path dir() {
        String s = System.getProperty("editr1.shared.dir");
        Path base = s != null ? Paths.get(s) : Paths.get("..", "shared");
        Path g = base.resolve("golden").resolve("flux");
        if (!Files.isDirectory(g))
            throw new IllegalStateException("Flux golden values not found at " + g.toAbsolutePath()
                    + " (the shared/ folder beside the clone; set -Deditr1.shared.dir)");
        return g;
    }

    static Safetensors.Contents read(String file) {
        try {
            return Safetensors.read(dir().resolve(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String text(String file) {
        try {
            return Files.readString(dir().resolve(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The worst element of a comparison. */
    record Report(String what, double worstAbs, double refAtWorst, double budgetUsed, double maxRef) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s: worst |Δ| %.3g (ref %.4g, max|ref| %.4g), %.1f%% of tolerance",
                    what, worstAbs, refAtWorst, maxRef, 100 * budgetUsed);
        }
    }

    /** Asserts |actual − expected| ≤ atol + rtol·|expected| element-wise (same shapes), and prints the report. */
    static Report assertClose(String what, Tensor actual, Tensor expected, double atol, double rtol) {
        assertArrayEquals(Tensors.shape(expected), Tensors.shape(actual), what + ": shape");
        float[] a = Tensors.toFloats(actual), e = Tensors.toFloats(expected);
        double worstUse = 0, worstAbs = 0, refAtWorst = 0, maxRef = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - e[i]);
            double use = d / (atol + rtol * Math.abs(e[i]));
            maxRef = Math.max(maxRef, Math.abs(e[i]));
            if (!(use <= worstUse) ) { // also catches NaN
                worstUse = Double.isNaN(use) ? Double.POSITIVE_INFINITY : use;
                worstAbs = d;
                refAtWorst = e[i];
            }
        }
        Report r = new Report(what + String.format(Locale.ROOT, " [atol %.0e, rtol %.0e]", atol, rtol),
                worstAbs, refAtWorst, worstUse, maxRef);
        System.out.println("GOLDEN " + r);
        assertTrue(worstUse <= 1.0, r.toString());
        return r;
    }

    /**
     * Asserts |actual − expected| ≤ rel·max|expected| element-wise: a relative error against the
     * tensor's scale (for gradients, whose small entries carry no meaningful element-wise relative error).
     */
    static Report assertRelToMax(String what, Tensor actual, Tensor expected, double rel) {
        float[] e = Tensors.toFloats(expected);
        double maxRef = 0;
        for (float v : e) maxRef = Math.max(maxRef, Math.abs(v));
        assertTrue(maxRef > 0, what + ": the reference is all zeros, the check would be empty");
        return assertClose(what + " (rel to max|ref| " + String.format(Locale.ROOT, "%.3g", maxRef) + ")",
                actual, expected, rel * maxRef, 0);
    }

    static String shape(Tensor t) {
        return Arrays.toString(Tensors.shape(t));
    }
}
