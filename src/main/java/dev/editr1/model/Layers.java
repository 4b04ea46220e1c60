package dev.editr1.model;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/** Layers every model here shares, written once on libtorch ops. */
public final class Layers {
    private Layers() {}

    /**
     * The linear layer {@code module} of a parameter store: y = x·Wᵀ + b (b when the store has
     * {@code module.bias}), plus scale·(x·Aᵀ)·Bᵀ when the adapter targets the module. x [..., in] →
     * y [..., out]; the adapter may be null ("adapters off"). With a reduced-precision base (bf16,
     * f16) and f32 adapters, the low-rank path runs in f32 on x cast up and is added in the base's
     * dtype, as PEFT does, so the adapters' gradients are f32.
     */
    public static Tensor linear(ParamStore base, String module, Tensor x, LoraAdapter lora) {
        String bias = module + ".bias";
        Tensor y = torch.linear(x, base.get(module + ".weight"),
                base.has(bias) ? new TensorOptional(base.get(bias)) : new TensorOptional());
        if (lora != null && lora.targets(module)) {
            Tensor a = lora.a(module);
            boolean cast = a.scalar_type().intern() != x.scalar_type().intern();
            Tensor low = torch.linear(torch.linear(cast ? x.to(a.scalar_type()) : x, a), lora.b(module));
            y = y.add(cast ? low.to(y.scalar_type()) : low, new Scalar(lora.scale()));
        }
        return y;
    }
}
