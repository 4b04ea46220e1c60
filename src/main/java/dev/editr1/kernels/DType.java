package dev.editr1.kernels;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** The activation dtypes the kernels take, with their codes in {@code editr1_dtype}. */
public enum DType {
    F32(0, ScalarType.Float, 4),
    BF16(1, ScalarType.BFloat16, 2),
    F16(2, ScalarType.Half, 2);

    /** The {@code editr1_dtype} value. */
    public final int code;
    /** The libtorch scalar type. */
    public final ScalarType scalarType;
    /** Bytes per element. */
    public final int bytes;

    DType(int code, ScalarType scalarType, int bytes) {
        this.code = code;
        this.scalarType = scalarType;
        this.bytes = bytes;
    }

    /** The DType of a tensor, or {@code null} when its dtype is none of these. */
    public static DType of(Tensor t) {
        ScalarType st = t.scalar_type().intern();
        for (DType d : values()) if (d.scalarType == st) return d;
        return null;
    }

    /** The name used on the command line and in messages: f32, bf16, f16. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Parses f32|bf16|f16 (case-insensitive). */
    public static DType parse(String s) {
        for (DType d : values()) if (d.label().equalsIgnoreCase(s)) return d;
        throw new IllegalArgumentException("unknown dtype '" + s + "' (expected f32, bf16 or f16)");
    }
}
