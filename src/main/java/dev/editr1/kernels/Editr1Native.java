package dev.editr1.kernels;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The JavaCPP binding of {@code native/include/editr1.h}: one {@link Pointer} class per params
 * struct (a field accessor pair per C field) and the C functions, one to one.
 *
 * <p>This is the raw boundary: pointers are addresses, nothing is checked on the Java side.
 * Use {@link NativeOps} (the Tensor-level façade) instead, which validates shapes, dtypes,
 * devices and contiguity, picks the backend and turns statuses into exceptions.
 *
 * <p>Loading: libtorch is loaded first (the JavaCPP presets resolve libstdc++ and friends). The CPU
 * kernels run on libeditr1's own thread pool, not on libtorch's OpenMP pool.
 */
@Platform(include = "editr1.h", link = "editr1")
public final class Editr1Native {
    static {
        Loader.load(org.bytedeco.pytorch.global.torch.class);
        Loader.load();
        HeapRetention.apply();
    }

    private Editr1Native() {}

    /** Forces the native libraries to load (throws {@link LinkageError} if they cannot). */
    public static void load() {
        // the static initializer does the work
    }

    // ---- status codes and enums (mirrors of the header's) ----
    public static final int EDITR1_OK = 0;
    public static final int EDITR1_ERR_INVALID_ARGUMENT = 1;
    public static final int EDITR1_ERR_UNSUPPORTED_DTYPE = 2;
    public static final int EDITR1_ERR_NONFINITE = 3;
    public static final int EDITR1_ERR_NO_CUDA = 4;
    public static final int EDITR1_ERR_CUDA = 5;

    public static final int EDITR1_NFT_X0 = 0;
    public static final int EDITR1_NFT_VELOCITY = 1;
    public static final int EDITR1_SCORE_EXPECTED = 0;
    public static final int EDITR1_SCORE_ARGMAX = 1;
    public static final int EDITR1_MAX_SCORE_TOKENS = 32;

    // ---- queries ----
    public static native @Cast("const char*") String editr1_last_error();
    public static native @Cast("const char*") String editr1_version();
    public static native int editr1_cuda_built();
    public static native @Cast("const char*") String editr1_cuda_architectures();
    public static native int editr1_cuda_device_count();
    public static native @Cast("const char*") String editr1_cuda_error_string();
    public static native @Cast("const char*") String editr1_cuda_device_name(int device);
    public static native int editr1_cpu_threads();
    public static native void editr1_set_cpu_threads(int n);
    public static native @Cast("const char*") String editr1_cpu_threads_reason();
    public static native int editr1_cpu_pool_spare();
    public static native int editr1_cpu_spare();
    public static native int editr1_blas_threads();
    public static native int editr1_set_blas_threads(int n);
    public static native @Cast("const char*") String editr1_blas_core();
    public static native @Cast("const char*") String editr1_cpu_isa();
    public static native @Cast("size_t") long editr1_dtype_size(int dtype);
    public static native long editr1_heap_bytes_in_use();
    public static native long editr1_heap_bytes_held();
    public static native int editr1_retain_heap(long bytes);
    public static native int editr1_nvtx_available();
    public static native void editr1_nvtx_push(@Cast("const char*") String name);
    public static native void editr1_nvtx_pop();

    // ---- 1. flow step ----
    @Name("editr1_flow_step_params")
    public static final class FlowStepStruct extends Pointer {
        static { Loader.load(); }
        public FlowStepStruct() { super((Pointer) null); allocate(); }
        private native void allocate();

        public native long rows(); public native FlowStepStruct rows(long v);
        public native long row_len(); public native FlowStepStruct row_len(long v);
        public native int dtype(); public native FlowStepStruct dtype(int v);
        public native @Cast("const void*") Pointer x(); public native FlowStepStruct x(@Cast("const void*") Pointer v);
        public native @Cast("const void*") Pointer v_cond(); public native FlowStepStruct v_cond(@Cast("const void*") Pointer v);
        public native @Cast("const void*") Pointer v_uncond(); public native FlowStepStruct v_uncond(@Cast("const void*") Pointer v);
        public native float guidance(); public native FlowStepStruct guidance(float v);
        public native long rescale_channels(); public native FlowStepStruct rescale_channels(long v);
        public native float sigma(); public native FlowStepStruct sigma(float v);
        public native float c_x(); public native FlowStepStruct c_x(float v);
        public native float c_v(); public native FlowStepStruct c_v(float v);
        public native float c_x0(); public native FlowStepStruct c_x0(float v);
        public native float c_prev_x0(); public native FlowStepStruct c_prev_x0(float v);
        public native float c_noise(); public native FlowStepStruct c_noise(float v);
        public native @Cast("const void*") Pointer x0_prev(); public native FlowStepStruct x0_prev(@Cast("const void*") Pointer v);
        public native @Cast("const void*") Pointer noise(); public native FlowStepStruct noise(@Cast("const void*") Pointer v);
        public native @Cast("uint64_t") long noise_seed(); public native FlowStepStruct noise_seed(@Cast("uint64_t") long v);
        public native @Cast("uint64_t") long noise_row_offset(); public native FlowStepStruct noise_row_offset(@Cast("uint64_t") long v);
        public native @Cast("uint32_t") int noise_stream(); public native FlowStepStruct noise_stream(@Cast("uint32_t") int v);
        public native @Cast("const void*") Pointer x_given(); public native FlowStepStruct x_given(@Cast("const void*") Pointer v);
        public native Pointer x_out(); public native FlowStepStruct x_out(Pointer v);
        public native Pointer x0_out(); public native FlowStepStruct x0_out(Pointer v);
        public native @Cast("float*") Pointer log_prob(); public native FlowStepStruct log_prob(@Cast("float*") Pointer v);
        public native @Cast("uint32_t*") Pointer nonfinite(); public native FlowStepStruct nonfinite(@Cast("uint32_t*") Pointer v);
        public native Pointer workspace(); public native FlowStepStruct workspace(Pointer v);
        public native @Cast("size_t") long workspace_bytes(); public native FlowStepStruct workspace_bytes(@Cast("size_t") long v);
    }

    public static native @Cast("size_t") long editr1_flow_step_workspace_bytes(@Const FlowStepStruct p);
    public static native int editr1_flow_step_cpu(@Const FlowStepStruct p);
    public static native int editr1_flow_step_cuda(@Const FlowStepStruct p, Pointer stream);

    // ---- 2. noise ----
    @Name("editr1_noise_params")
    public static final class NoiseStruct extends Pointer {
        static { Loader.load(); }
        public NoiseStruct() { super((Pointer) null); allocate(); }
        private native void allocate();

        public native long rows(); public native NoiseStruct rows(long v);
        public native long row_len(); public native NoiseStruct row_len(long v);
        public native int dtype(); public native NoiseStruct dtype(int v);
        public native @Cast("uint64_t") long seed(); public native NoiseStruct seed(@Cast("uint64_t") long v);
        public native @Cast("uint64_t") long row_offset(); public native NoiseStruct row_offset(@Cast("uint64_t") long v);
        public native @Cast("uint32_t") int stream(); public native NoiseStruct stream(@Cast("uint32_t") int v);
        public native @Cast("const void*") Pointer x0(); public native NoiseStruct x0(@Cast("const void*") Pointer v);
        public native @Cast("const float*") Pointer t(); public native NoiseStruct t(@Cast("const float*") Pointer v);
        public native Pointer out(); public native NoiseStruct out(Pointer v);
        public native Pointer eps_out(); public native NoiseStruct eps_out(Pointer v);
        public native @Cast("uint32_t*") Pointer nonfinite(); public native NoiseStruct nonfinite(@Cast("uint32_t*") Pointer v);
        public native @Cast("const int64_t*") Pointer row_ids(); public native NoiseStruct row_ids(@Cast("const int64_t*") Pointer v);
    }

    public static native int editr1_noise_cpu(@Const NoiseStruct p);
    public static native int editr1_noise_cuda(@Const NoiseStruct p, Pointer stream);
    public static native void editr1_philox4x32_10(@Cast("const uint32_t*") int[] counter,
                                                   @Cast("const uint32_t*") int[] key, @Cast("uint32_t*") int[] out);
    public static native void editr1_box_muller4(@Cast("const uint32_t*") int[] bits, float[] out);
    public static native int editr1_box_muller_blocks(@Cast("const uint32_t*") int[] words, long blocks, float[] out,
                                                      int path);
    public static native int editr1_philox_normals_cuda(@Cast("const uint32_t*") int[] counter,
                                                        @Cast("const uint32_t*") int[] key,
                                                        @Cast("uint32_t*") int[] bitsOut, float[] normalsOut);

    // ---- 3. NFT loss ----
    @Name("editr1_nft_loss_params")
    public static final class NftLossStruct extends Pointer {
        static { Loader.load(); }
        public NftLossStruct() { super((Pointer) null); allocate(); }
        private native void allocate();

        public native long rows(); public native NftLossStruct rows(long v);
        public native long row_len(); public native NftLossStruct row_len(long v);
        public native int dtype(); public native NftLossStruct dtype(int v);
        public native int form(); public native NftLossStruct form(int v);
        public native int target_is_xt(); public native NftLossStruct target_is_xt(int v);
        public native @Cast("const void*") Pointer x0(); public native NftLossStruct x0(@Cast("const void*") Pointer v);
        public native @Cast("const void*") Pointer target(); public native NftLossStruct target(@Cast("const void*") Pointer v);
        public native @Cast("const void*") Pointer v_theta(); public native NftLossStruct v_theta(@Cast("const void*") Pointer v);
        public native @Cast("const void*") Pointer v_old(); public native NftLossStruct v_old(@Cast("const void*") Pointer v);
        public native @Cast("const void*") Pointer v_ref(); public native NftLossStruct v_ref(@Cast("const void*") Pointer v);
        public native @Cast("const float*") Pointer t(); public native NftLossStruct t(@Cast("const float*") Pointer v);
        public native @Cast("const float*") Pointer r(); public native NftLossStruct r(@Cast("const float*") Pointer v);
        public native @Cast("const float*") Pointer valid(); public native NftLossStruct valid(@Cast("const float*") Pointer v);
        public native double beta(); public native NftLossStruct beta(double v);
        public native double c(); public native NftLossStruct c(double v);
        public native double lambda(); public native NftLossStruct lambda(double v);
        public native double floor(); public native NftLossStruct floor(double v);
        public native @Cast("float*") Pointer ell(); public native NftLossStruct ell(@Cast("float*") Pointer v);
        public native @Cast("float*") Pointer kl(); public native NftLossStruct kl(@Cast("float*") Pointer v);
        public native @Cast("float*") Pointer loss(); public native NftLossStruct loss(@Cast("float*") Pointer v);
        public native Pointer grad(); public native NftLossStruct grad(Pointer v);
        public native @Cast("uint32_t*") Pointer nonfinite(); public native NftLossStruct nonfinite(@Cast("uint32_t*") Pointer v);
        public native Pointer workspace(); public native NftLossStruct workspace(Pointer v);
        public native @Cast("size_t") long workspace_bytes(); public native NftLossStruct workspace_bytes(@Cast("size_t") long v);
    }

    public static native @Cast("size_t") long editr1_nft_loss_workspace_bytes(@Const NftLossStruct p);
    public static native int editr1_nft_loss_cpu(@Const NftLossStruct p);
    public static native int editr1_nft_loss_cuda(@Const NftLossStruct p, Pointer stream);

    // ---- 4. logit score ----
    @Name("editr1_logit_score_params")
    public static final class LogitScoreStruct extends Pointer {
        static { Loader.load(); }
        public LogitScoreStruct() { super((Pointer) null); allocate(); }
        private native void allocate();

        public native long rows(); public native LogitScoreStruct rows(long v);
        public native long vocab(); public native LogitScoreStruct vocab(long v);
        public native long row_stride(); public native LogitScoreStruct row_stride(long v);
        public native int dtype(); public native LogitScoreStruct dtype(int v);
        public native @Cast("const void*") Pointer logits(); public native LogitScoreStruct logits(@Cast("const void*") Pointer v);
        public native int num_tokens(); public native LogitScoreStruct num_tokens(int v);
        public native int token_ids(int i); public native LogitScoreStruct token_ids(int i, int v);
        public native float values(int i); public native LogitScoreStruct values(int i, float v);
        public native int mode(); public native LogitScoreStruct mode(int v);
        public native @Cast("float*") Pointer score(); public native LogitScoreStruct score(@Cast("float*") Pointer v);
        public native @Cast("float*") Pointer probs(); public native LogitScoreStruct probs(@Cast("float*") Pointer v);
        public native @Cast("float*") Pointer mass(); public native LogitScoreStruct mass(@Cast("float*") Pointer v);
        public native @Cast("uint32_t*") Pointer nonfinite(); public native LogitScoreStruct nonfinite(@Cast("uint32_t*") Pointer v);
        public native Pointer workspace(); public native LogitScoreStruct workspace(Pointer v);
        public native @Cast("size_t") long workspace_bytes(); public native LogitScoreStruct workspace_bytes(@Cast("size_t") long v);
    }

    public static native @Cast("size_t") long editr1_logit_score_workspace_bytes(@Const LogitScoreStruct p);
    public static native int editr1_logit_score_cpu(@Const LogitScoreStruct p);
    public static native int editr1_logit_score_cuda(@Const LogitScoreStruct p, Pointer stream);

    // ---- 5. Flow-GRPO loss ----
    @Name("editr1_grpo_loss_params")
    public static final class GrpoLossStruct extends Pointer {
        static { Loader.load(); }
        public GrpoLossStruct() { super((Pointer) null); allocate(); }
        private native void allocate();

        public native long rows(); public native GrpoLossStruct rows(long v);
        public native long row_len(); public native GrpoLossStruct row_len(long v);
        public native int dtype(); public native GrpoLossStruct dtype(int v);
        public native @Cast("const void*") Pointer x(); public native GrpoLossStruct x(@Cast("const void*") Pointer v);
        public native @Cast("const void*") Pointer x_next(); public native GrpoLossStruct x_next(@Cast("const void*") Pointer v);
        public native @Cast("const void*") Pointer v_theta(); public native GrpoLossStruct v_theta(@Cast("const void*") Pointer v);
        public native @Cast("const void*") Pointer v_ref(); public native GrpoLossStruct v_ref(@Cast("const void*") Pointer v);
        public native @Cast("const float*") Pointer advantage(); public native GrpoLossStruct advantage(@Cast("const float*") Pointer v);
        public native @Cast("const float*") Pointer log_prob_old(); public native GrpoLossStruct log_prob_old(@Cast("const float*") Pointer v);
        public native @Cast("const float*") Pointer valid(); public native GrpoLossStruct valid(@Cast("const float*") Pointer v);
        public native double c_x(); public native GrpoLossStruct c_x(double v);
        public native double c_v(); public native GrpoLossStruct c_v(double v);
        public native double std_log_prob(); public native GrpoLossStruct std_log_prob(double v);
        public native double std_kl(); public native GrpoLossStruct std_kl(double v);
        public native double clip_range(); public native GrpoLossStruct clip_range(double v);
        public native double kl_weight(); public native GrpoLossStruct kl_weight(double v);
        public native @Cast("float*") Pointer log_prob(); public native GrpoLossStruct log_prob(@Cast("float*") Pointer v);
        public native @Cast("float*") Pointer ratio(); public native GrpoLossStruct ratio(@Cast("float*") Pointer v);
        public native @Cast("float*") Pointer ell(); public native GrpoLossStruct ell(@Cast("float*") Pointer v);
        public native @Cast("float*") Pointer kl(); public native GrpoLossStruct kl(@Cast("float*") Pointer v);
        public native @Cast("float*") Pointer loss(); public native GrpoLossStruct loss(@Cast("float*") Pointer v);
        public native Pointer grad(); public native GrpoLossStruct grad(Pointer v);
        public native @Cast("uint32_t*") Pointer nonfinite(); public native GrpoLossStruct nonfinite(@Cast("uint32_t*") Pointer v);
        public native Pointer workspace(); public native GrpoLossStruct workspace(Pointer v);
        public native @Cast("size_t") long workspace_bytes(); public native GrpoLossStruct workspace_bytes(@Cast("size_t") long v);
    }

    public static native @Cast("size_t") long editr1_grpo_loss_workspace_bytes(@Const GrpoLossStruct p);
    public static native int editr1_grpo_loss_cpu(@Const GrpoLossStruct p);
    public static native int editr1_grpo_loss_cuda(@Const GrpoLossStruct p, Pointer stream);
}
