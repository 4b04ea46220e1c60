package dev.editr1.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * What an editing model needs besides x_t and t: named tensors, each with a leading batch
 * dimension B, all on the model's device. Which names, shapes and dtypes is the model's contract
 * (see its Javadoc); e.g. the built-in DiT takes {@code source} [B, 3, S, S] f32 (the source image)
 * and {@code text_ids} [B, L] int64 (the tokenized instruction).
 *
 * <p>A dataset item's conditioning (B = 1) is computed once by
 * {@link EditingModel#condition} and cached; {@link #stack} builds a batch from items. Immutable.
 */
public final class Conditioning {
    private final Map<String, Tensor> tensors;

    public Conditioning(Map<String, Tensor> tensors) {
        if (tensors.isEmpty()) throw new IllegalArgumentException("a conditioning has at least one tensor");
        long b = -1;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getValue().dim() < 1) throw new IllegalArgumentException("conditioning '" + e.getKey() + "' has no batch dimension");
            if (b >= 0 && e.getValue().size(0) != b)
                throw new IllegalArgumentException("conditioning '" + e.getKey() + "' has batch " + e.getValue().size(0) + ", others " + b);
            b = e.getValue().size(0);
        }
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("the conditioning has no '" + name + "' (it has " + tensors.keySet() + ")");
        return t;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** B */
    public long batch() {
        return tensors.values().iterator().next().size(0);
    }

    /** The same names with one tensor replaced. */
    public Conditioning with(String name, Tensor t) {
        Map<String, Tensor> m = new LinkedHashMap<>(tensors);
        m.put(name, t);
        return new Conditioning(m);
    }

    /**
     * Concatenates conditionings along the batch dimension (same names, shapes past dim 0 equal).
     * The result holds new tensors (one item: views of its tensors), never the items' own objects.
     */
    public static Conditioning stack(List<Conditioning> items) {
        if (items.isEmpty()) throw new IllegalArgumentException("nothing to stack");
        if (items.size() == 1) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            items.get(0).tensors.forEach((k, t) -> m.put(k, t.narrow(0, 0, t.size(0))));
            return new Conditioning(m);
        }
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String name : items.get(0).tensors.keySet()) {
            Tensor[] parts = new Tensor[items.size()];
            for (int i = 0; i < parts.length; i++) parts[i] = items.get(i).get(name);
            m.put(name, torch.cat(new TensorVector(parts), 0));
        }
        return new Conditioning(m);
    }

    /** Rows selected by an int64 index [K] (on the tensors' device). */
    public Conditioning select(Tensor index) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        tensors.forEach((k, t) -> m.put(k, t.index_select(0, index)));
        return new Conditioning(m);
    }

    /**
     * Keeps the tensors alive past the {@code PointerScope} they were made in (a cached item's
     * conditioning outlives the epoch that computed it); returns this.
     */
    public Conditioning retain() {
        for (Tensor t : tensors.values()) t.retainReference();
        return this;
    }

    /** Undoes {@link #retain()}: the tensors are freed (unless something else holds them). Do not use this object afterwards. */
    public void release() {
        for (Tensor t : tensors.values()) t.releaseReference();
    }

    /** The same tensors on a device (a no-op for tensors already there). */
    public Conditioning to(Device device) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        tensors.forEach((k, t) -> m.put(k, t.to(device, t.scalar_type())));
        return new Conditioning(m);
    }
}
