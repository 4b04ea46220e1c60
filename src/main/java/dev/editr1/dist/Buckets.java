package dev.editr1.dist;

import java.util.ArrayList;
import java.util.List;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.Tensors;

/**
 * Tensors packed into flat buckets for collectives, as PyTorch's DDP does: consecutive tensors of
 * one dtype and device, in their order, until a bucket holds at least {@code bucketBytes} (a tensor
 * is never split, so a bucket may be larger when one tensor is). One collective per bucket instead
 * of one per tensor: a LoRA adapter of FLUX.1-Kontext is 532 tensors, and per-call latency
 * (tens of µs on Gloo, more across machines) would dominate the bytes.
 *
 * <p>Bytes: packing reads and writes every byte once, unpacking again ({@code copy_}); so a
 * bucketed collective touches 4× the payload in local memory besides the wire — cheap next to the
 * network, and measured by {@code AllReduceBench}. The buffers are allocated once and reused
 * (the trainer reduces the same tensors every step): a fresh 4 MB buffer per step cost more in
 * page faults than the copies (14 ms against ~2 ms on the 2-core test machine).
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

    /** An uninitialized flat buffer for a span (its tensors' dtype and device). */
    static Tensor allocate(List<Tensor> tensors, Span s) {
        Tensor first = tensors.get(s.from());
        long n = 0;
        for (int i = s.from(); i < s.to(); i++) n += tensors.get(i).numel();
        return Tensors.empty(Tensors.scalarType(first), first.device(), n);
    }

    /** The span's tensors, flattened and concatenated into one new contiguous 1-D tensor. */
    static Tensor pack(List<Tensor> tensors, Span s) {
        Tensor flat = allocate(tensors, s);
        pack(flat, tensors, s);
        return flat;
    }

    /** Copies the span's tensors, flattened and in order, into a flat buffer from {@link #allocate}. */
    static void pack(Tensor flat, List<Tensor> tensors, Span s) {
        try (NoGradGuard g = new NoGradGuard()) {
            long off = 0;
            for (int i = s.from(); i < s.to(); i++) {
                Tensor t = tensors.get(i);
                long n = t.numel();
                flat.narrow(0, off, n).copy_(t.detach().reshape(-1));
                off += n;
            }
        }
    }

    /** A key for a list of tensors' dtypes, devices and sizes (two lists with one key share bucket buffers). */
    static String signature(List<Tensor> tensors, long bucketBytes) {
        StringBuilder b = new StringBuilder().append(bucketBytes);
        for (Tensor t : tensors) b.append('/').append(Tensors.scalarType(t)).append('@').append(Tensors.deviceName(t)).append(':').append(t.numel());
        return b.toString();
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
