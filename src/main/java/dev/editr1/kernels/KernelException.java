package dev.editr1.kernels;

/**
 * A kernel refused its inputs or failed: bad arguments found by the native library, non-finite
 * inputs, or a CUDA error. The message names the kernel and the offending argument.
 */
public class KernelException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The {@code editr1_status} code (see {@link Editr1Native}), or 0 for a Java-side check. */
    public final int status;

    public KernelException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** Whether the cause was NaN or Inf in an input. */
    public boolean isNonFinite() {
        return status == Editr1Native.EDITR1_ERR_NONFINITE;
    }

    static String statusName(int status) {
        return switch (status) {
            case Editr1Native.EDITR1_OK -> "OK";
            case Editr1Native.EDITR1_ERR_INVALID_ARGUMENT -> "INVALID_ARGUMENT";
            case Editr1Native.EDITR1_ERR_UNSUPPORTED_DTYPE -> "UNSUPPORTED_DTYPE";
            case Editr1Native.EDITR1_ERR_NONFINITE -> "NONFINITE";
            case Editr1Native.EDITR1_ERR_NO_CUDA -> "NO_CUDA";
            case Editr1Native.EDITR1_ERR_CUDA -> "CUDA";
            default -> "status " + status;
        };
    }
}
