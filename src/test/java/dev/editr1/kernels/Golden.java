package dev.editr1.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/** The read-only golden values beside SPEC.md ({@code ../shared/golden}). */
final class Golden {
    private Golden() {}

    static Path dir() {
        String s = System.getProperty("editr1.shared.dir");
        Path base = s != null ? Paths.get(s) : Paths.get("..", "shared");
        Path g = base.resolve("golden");
        if (!Files.isDirectory(g))
            throw new IllegalStateException("golden values not found at " + g.toAbsolutePath()
                    + " (the shared/ folder beside the clone; set -Deditr1.shared.dir)");
        return g;
    }

    static JsonObject load(String name) {
        try {
            return JsonParser.parseString(Files.readString(dir().resolve(name))).getAsJsonObject();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read golden " + name, e);
        }
    }

    /** A flat double array from a (possibly nested) JSON array; "-inf"/"inf"/"nan" strings allowed. */
    static double[] doubles(JsonElement e) {
        java.util.ArrayList<Double> out = new java.util.ArrayList<>();
        flatten(e, out);
        double[] d = new double[out.size()];
        for (int i = 0; i < d.length; i++) d[i] = out.get(i);
        return d;
    }

    private static void flatten(JsonElement e, java.util.List<Double> out) {
        if (e.isJsonArray()) {
            for (JsonElement x : e.getAsJsonArray()) flatten(x, out);
        } else if (e.getAsJsonPrimitive().isString()) {
            String s = e.getAsString();
            out.add(switch (s) {
                case "-inf" -> Double.NEGATIVE_INFINITY;
                case "inf", "+inf" -> Double.POSITIVE_INFINITY;
                case "nan" -> Double.NaN;
                default -> Double.parseDouble(s);
            });
        } else {
            out.add(e.getAsDouble());
        }
    }

    static float[] floats(JsonElement e) {
        double[] d = doubles(e);
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    static JsonArray array(JsonObject o, String k) {
        return o.getAsJsonArray(k);
    }
}
