package dev.editr1.model;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.Tensors;

/**
 * Named f32 parameters in a fixed order. Initial values come from a seeded Java generator (not
 * torch's), so a seed gives the same model on every machine.
 */
public final class ParamStore {
    private final Map<String, Tensor> params = new LinkedHashMap<>();

    public Tensor get(String name) {
        Tensor t = params.get(name);
        if (t == null) throw new IllegalArgumentException("no parameter '" + name + "'");
        return t;
    }

    public boolean has(String name) {
        return params.containsKey(name);
    }

    public Tensor put(String name, Tensor t) {
        params.put(name, t);
        return t;
    }

    /** Uniform(−bound, bound) values. */
    public Tensor uniform(String name, SplittableRandom rng, double bound, long... shape) {
        int n = 1;
        for (long s : shape) n *= (int) s;
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        return put(name, Tensors.fromFloats(f, shape));
    }

    public Tensor zeros(String name, long... shape) {
        int n = 1;
        for (long s : shape) n *= (int) s;
        return put(name, Tensors.fromFloats(new float[n], shape));
    }

    public Tensor normal(String name, SplittableRandom rng, double std, long... shape) {
        int n = 1;
        for (long s : shape) n *= (int) s;
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            double u = 1 - rng.nextDouble(), v = rng.nextDouble();
            f[i] = (float) (std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
        }
        return put(name, Tensors.fromFloats(f, shape));
    }

    public Map<String, Tensor> asMap() {
        return java.util.Collections.unmodifiableMap(params);
    }

    public Collection<Tensor> tensors() {
        return params.values();
    }

    public long count() {
        long n = 0;
        for (Tensor t : params.values()) n += t.numel();
        return n;
    }

    public void requireGrad(boolean on) {
        for (Tensor t : params.values()) t.set_requires_grad(on);
    }

    /** Copies values from a map with exactly these names and shapes. */
    public void load(Map<String, Tensor> values, String what) {
        for (String k : values.keySet())
            if (!params.containsKey(k)) throw new IllegalArgumentException(what + ": unexpected tensor '" + k + "'");
        try (NoGradGuard g = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : params.entrySet()) {
                Tensor v = values.get(e.getKey());
                if (v == null) throw new IllegalArgumentException(what + ": missing tensor '" + e.getKey() + "'");
                if (!java.util.Arrays.equals(Tensors.shape(v), Tensors.shape(e.getValue())))
                    throw new IllegalArgumentException(what + ": tensor '" + e.getKey() + "' has shape "
                            + java.util.Arrays.toString(Tensors.shape(v)) + ", expected "
                            + java.util.Arrays.toString(Tensors.shape(e.getValue())));
                e.getValue().copy_(v);
            }
        }
    }

    /** this ← d·this + (1 − d)·other, in place (same names and shapes). */
    public void lerpFrom(ParamStore other, double d) {
        try (NoGradGuard g = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : params.entrySet()) {
                Tensor o = other.get(e.getKey());
                e.getValue().mul_(new Scalar(d)).add_(o.detach(), new Scalar(1 - d));
            }
        }
    }

    /**
     * Moves every tensor to a device, keeping whether it requires grad (a moved tensor is a new
     * leaf). Tensors already there are kept as they are. Call outside any {@code PointerScope}: the
     * moved tensors belong to the store.
     */
    public void to(org.bytedeco.pytorch.Device device) {
        to(device, null);
    }

    /** Moves every tensor to a device and, unless null, a floating dtype (keeping requires-grad). */
    public void to(org.bytedeco.pytorch.Device device, dev.editr1.kernels.DType dtype) {
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            Tensor t = e.getValue();
            boolean sameType = dtype == null || dev.editr1.kernels.DType.of(t) == dtype;
            if (Tensors.on(t, device) && sameType) continue;
            boolean grad = t.requires_grad();
            Tensor moved = t.detach().to(device, dtype == null ? t.scalar_type() : dtype.scalarType);
            if (grad) moved.set_requires_grad(true);
            e.setValue(moved);
        }
    }

    /** A detached deep copy. */
    public ParamStore copy() {
        ParamStore c = new ParamStore();
        try (NoGradGuard g = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : params.entrySet()) c.put(e.getKey(), e.getValue().detach().clone());
        }
        return c;
    }
}
