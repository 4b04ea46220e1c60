package dev.editr1.dist;

import java.util.ArrayList;
import java.util.List;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.kernels.Tensors;

/**
 * Tensors packed into flat buckets for collectives, as PyTorch's DDP does: consecutive tensors of
 * one dtype and device, in their order, until a bucket holds at least {@code bucketBytes} (a tensor
 * is never split, so a bucket may be larger when one tensor is). One collective per bucket instead
 * of one per tensor: a LoRA adapter of FLUX.1-Kontext is 532 tensors, and per-call latency
 * (tens of µs on Gloo, more across machines) would dominate the bytes.
 *
 * <p>Bytes: packing reads and writes every byte once ({@code torch.cat}); unpacking again
 * ({@code copy_}); so a bucketed collective touches 4× the payload in local memory besides the
 * wire — cheap next to the network, and measured by {@code AllReduceBench}.
 */
final class Buckets {
    private Buckets() {}

    /** A run of tensors [from, to) of one dtype and device. */
    record Span(int from, int to, long bytes) {}

    /** The spans of tensors (in order) for a bucket size. */
    static List<Span> plan(List<Tensor> tensors, long bucketBytes) {
        List<Span> out = new ArrayList<>();
        int from = 0;
        long bytes = 0;
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            if (i > from && (bytes >= bucketBytes || !sameKind(tensors.get(from), t))) {
                out.add(new Span(from, i, bytes));
                from = i;
                bytes = 0;
            }
            bytes += t.numel() * t.element_size();
        }
        if (from < tensors.size()) out.add(new Span(from, tensors.size(), bytes));
        return out;
    }

    private static boolean sameKind(Tensor a, Tensor b) {
        return Tensors.scalarType(a) == Tensors.scalarType(b) && Tensors.deviceName(a).equals(Tensors.deviceName(b));
    }

    /** The span's tensors, flattened and concatenated into one new contiguous 1-D tensor. */
    static Tensor pack(List<Tensor> tensors, Span s) {
        try (NoGradGuard g = new NoGradGuard()) {
            if (s.to() - s.from() == 1) return tensors.get(s.from()).detach().reshape(-1).clone();
            Tensor[] flat = new Tensor[s.to() - s.from()];
            for (int i = s.from(); i < s.to(); i++) flat[i - s.from()] = tensors.get(i).detach().reshape(-1);
            return torch.cat(new TensorVector(flat), 0);
        }
    }

    /** Copies a packed bucket back into its tensors, in place. */
    static void unpack(Tensor flat, List<Tensor> tensors, Span s) {
        try (NoGradGuard g = new NoGradGuard()) {
            long off = 0;
            for (int i = s.from(); i < s.to(); i++) {
                Tensor t = tensors.get(i);
                long n = t.numel();
                t.copy_(flat.narrow(0, off, n).view_as(t));
                off += n;
            }
        }
    }
}
