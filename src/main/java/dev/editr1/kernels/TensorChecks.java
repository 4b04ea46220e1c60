package dev.editr1.kernels;

import java.util.Arrays;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Argument checks at the Tensor boundary (both implementations call them before any work):
 * each failure is an {@link IllegalArgumentException} whose message names the kernel and the
 * argument, and says what was expected and what was found.
 */
final class TensorChecks {
    private TensorChecks() {}

    static IllegalArgumentException bad(String kernel, String arg, String what) {
        return new IllegalArgumentException(kernel + ": " + arg + " " + what);
    }

    /** A batch tensor [B, ...] with B >= 1, D = numel / B >= 1, a kernel dtype, contiguous. */
    static DType rows(String kernel, String arg, Tensor t) {
        if (t == null) throw bad(kernel, arg, "is null");
        if (t.dim() < 1) throw bad(kernel, arg, "must have a batch dimension [B, ...], got a 0-d tensor");
        if (t.size(0) < 1 || t.numel() < 1)
            throw bad(kernel, arg, "is empty (shape " + Arrays.toString(Tensors.shape(t)) + ")");
        DType d = DType.of(t);
        if (d == null)
            throw bad(kernel, arg, "has dtype " + Tensors.scalarType(t) + "; expected f32, bf16 or f16");
        if (!t.is_contiguous())
            throw bad(kernel, arg, "is not contiguous (shape " + Arrays.toString(Tensors.shape(t)) + ", strides "
                    + Arrays.toString(strides(t)) + "); call .contiguous() first");
        return d;
    }

    /** Same shape, dtype and device as the reference tensor. */
    static void like(String kernel, String arg, Tensor t, String refArg, Tensor ref) {
        DType d = rows(kernel, arg, t);
        if (!Arrays.equals(Tensors.shape(t), Tensors.shape(ref)))
            throw bad(kernel, arg, "has shape " + Arrays.toString(Tensors.shape(t)) + " but " + refArg + " has "
                    + Arrays.toString(Tensors.shape(ref)));
        DType r = DType.of(ref);
        if (d != r) throw bad(kernel, arg, "has dtype " + d.label() + " but " + refArg + " has " + r.label());
        sameDevice(kernel, arg, t, refArg, ref);
    }

    /** A per-sample f32 vector [B] on the reference's device. */
    static void perSample(String kernel, String arg, Tensor t, long rows, Tensor ref, String refArg) {
        if (t == null) throw bad(kernel, arg, "is null");
        if (t.dim() != 1 || t.size(0) != rows)
            throw bad(kernel, arg, "must have shape [" + rows + "] (one value per row), got "
                    + Arrays.toString(Tensors.shape(t)));
        if (Tensors.scalarType(t) != ScalarType.Float)
            throw bad(kernel, arg, "must be float32, got " + Tensors.scalarType(t));
        if (!t.is_contiguous()) throw bad(kernel, arg, "is not contiguous");
        sameDevice(kernel, arg, t, refArg, ref);
    }

    /** Per-row Philox row ids: int64 [B], contiguous, on the reference's device. */
    static void rowIds(String kernel, Tensor ids, long rows, Tensor ref) {
        if (ids.dim() != 1 || ids.size(0) != rows)
            throw bad(kernel, "rowIds", "must have shape [" + rows + "] (one id per row), got " + Arrays.toString(Tensors.shape(ids)));
        if (Tensors.scalarType(ids) != ScalarType.Long) throw bad(kernel, "rowIds", "must be int64, got " + Tensors.scalarType(ids));
        if (!ids.is_contiguous()) throw bad(kernel, "rowIds", "is not contiguous");
        sameDevice(kernel, "rowIds", ids, "x0", ref);
    }

    static void sameDevice(String kernel, String arg, Tensor t, String refArg, Tensor ref) {
        if (t.is_cuda() != ref.is_cuda()
                || (t.is_cuda() && t.device().index() != ref.device().index()))
            throw bad(kernel, arg, "is on " + deviceName(t) + " but " + refArg + " is on " + deviceName(ref));
        if (!t.is_cuda() && !t.is_cpu())
            throw bad(kernel, arg, "is on " + deviceName(t) + "; only CPU and CUDA tensors are supported");
    }

    static String deviceName(Tensor t) {
        if (t.is_cuda()) return "cuda:" + t.device().index();
        if (t.is_cpu()) return "cpu";
        return t.device().type().toString();
    }

    static long rowLen(Tensor t) {
        return t.numel() / t.size(0);
    }

    static long[] strides(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) s[i] = t.stride(i);
        return s;
    }

    static void finiteScalar(String kernel, String arg, double v) {
        if (!Double.isFinite(v)) throw bad(kernel, arg, "must be finite, got " + v);
    }
}
