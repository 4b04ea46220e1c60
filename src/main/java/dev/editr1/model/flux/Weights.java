package dev.editr1.model.flux;

import java.util.Arrays;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.ParamStore;

/** Checks a checkpoint's tensors against the names and shapes a model expects. */
final class Weights {
    private Weights() {}

    /**
     * A store holding exactly the given tensors (no copies: they keep their dtype and device), in
     * the order of {@code expected}.
     *
     * @throws IllegalArgumentException naming the first key that is unexpected, missing or of the
     *                                  wrong shape
     */
    static ParamStore checked(Map<String, long[]> expected, Map<String, Tensor> given, String what) {
        for (String k : given.keySet())
            if (!expected.containsKey(k)) throw new IllegalArgumentException(what + ": unexpected tensor '" + k + "'");
        ParamStore store = new ParamStore();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            Tensor t = given.get(e.getKey());
            if (t == null) throw new IllegalArgumentException(what + ": missing tensor '" + e.getKey() + "'");
            long[] shape = Tensors.shape(t);
            if (!Arrays.equals(shape, e.getValue()))
                throw new IllegalArgumentException(what + ": tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(shape) + ", expected " + Arrays.toString(e.getValue()));
            store.put(e.getKey(), t);
        }
        return store;
    }

    /** Adds {@code module.weight} [out, in] and {@code module.bias} [out]. */
    static void linear(Map<String, long[]> m, String module, long out, long in) {
        m.put(module + ".weight", new long[] {out, in});
        m.put(module + ".bias", new long[] {out});
    }
}
