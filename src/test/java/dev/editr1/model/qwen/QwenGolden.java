package dev.editr1.model.qwen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.Safetensors;

/**
 * The diffusers golden tensors of {@code shared/golden/qwen} (README there: call conventions and
 * tolerances), and an llm.c-style closeness check that reports the worst element against the budget.
 */
final class QwenGolden {
    private QwenGolden() {}

    static Path dir() {
        String s = System.getProperty("editr1.shared.dir");
        Path base = s != null ? Paths.get(s) : Paths.get("..", "shared");
        Path g = base.resolve("golden").resolve("qwen");
        if (!Files.isDirectory(g))
            throw new IllegalStateException("Qwen golden values not found at " + g.toAbsolutePath()
                    + " (the shared/ folder beside the clone; set -Deditr1.shared.dir)");
        return g;
    }

    static Map<String, Tensor> read(String file) {
        try {
            return Safetensors.read(dir().resolve(file)).tensors();
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

    static Tensor get(Map<String, Tensor> io, String key) {
        Tensor t = io.get(key);
        if (t == null) fail("golden tensor '" + key + "' is missing");
        return t;
    }

    /** in/img_shapes rows (f, h, w) as image shapes. */
    static List<ImageShape> imgShapes(Map<String, Tensor> io) {
        float[] f = Tensors.toFloats(get(io, "in/img_shapes"));
        List<ImageShape> s = new ArrayList<>();
        for (int i = 0; i < f.length; i += 3) s.add(new ImageShape((int) f[i], (int) f[i + 1], (int) f[i + 2]));
        return s;
    }

    /**
     * Fails unless |actual − golden| ≤ atol everywhere (same shape); the message names the worst
     * element, its error and the share of the budget it used. Returns the worst error. NaN fails.
     */
    static double close(String what, Tensor golden, Tensor actual, double atol) {
        assertArrayEquals(Tensors.shape(golden), Tensors.shape(actual), what + ": shape");
        float[] g = Tensors.toFloats(golden), a = Tensors.toFloats(actual);
        double worst = 0;
        int wi = 0;
        for (int i = 0; i < g.length; i++) {
            double e = Float.isNaN(a[i]) || Float.isNaN(g[i]) ? Double.POSITIVE_INFINITY : Math.abs((double) a[i] - g[i]);
            if (e > worst) {
                worst = e;
                wi = i;
            }
        }
        String budget = atol == 0 ? (worst == 0 ? "exact, as required" : "must be exact")
                : String.format("%.1f%% of budget", 100 * worst / atol);
        String msg = String.format("%s %s: worst |err| %.3g at element %d of %d (ours %.8g, golden %.8g), tol %.3g: %s",
                what, Arrays.toString(Tensors.shape(golden)), worst, wi, g.length, g.length == 0 ? 0f : a[wi],
                g.length == 0 ? 0f : g[wi], atol, budget);
        System.out.println("[qwen-golden] " + msg);
        if (!(worst <= atol)) fail(msg);
        return worst;
    }

    /** max |x| over a tensor. */
    static double maxAbs(Tensor t) {
        double m = 0;
        for (float v : Tensors.toFloats(t)) m = Math.max(m, Math.abs(v));
        return m;
    }
}
