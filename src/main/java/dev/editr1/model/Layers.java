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

    /**
     * {@code torch.conv2d(x, weight, bias, stride, padding)} (dilation 1, one group): x [B, I, H, W],
     * weight [O, I, k, k], bias [O] or null → [B, O, H', W'] in x's dtype, differentiable. On the CPU
     * it runs ATen's own convolution (im2col and a GEMM: {@code thnn_conv2d}, what libtorch falls back
     * to with oneDNN switched off) instead of oneDNN's. Why: libtorch 2.10's oneDNN convolutions on
     * AVX-512 CPUs return wrong values for 3×3 kernels in whole families of shapes — seen on AMD Zen 5:
     * f32 with 20 or 24 input channels at batch 2, bf16 whenever a channel count is not a multiple of
     * 16 (the VAEs' RGB convolutions among them), errors up to 40% of the output's range — while
     * ATen's path is right in all of them (LayersTest checks both dtypes against a double-precision
     * convolution; pytorch/pytorch#163347 reports a wrong bf16 convolution that switching oneDNN off
     * fixes). A global switch (setUserEnabledMkldnn) would also move every bf16 matmul off oneDNN, so
     * the choice is made here, per call. On CUDA the native op (cuDNN) runs.
     */
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, long stride, long pad) {
        TensorOptional b = bias == null ? new TensorOptional() : new TensorOptional(bias);
        long[] st = {stride, stride}, pd = {pad, pad};
        if (x.is_cuda()) return torch.conv2d(x, weight, b, st, pd, new long[] {1, 1}, 1);
        return torch.thnn_conv2d(x, weight, new long[] {weight.size(2), weight.size(3)}, b, st, pd);
    }
}
