/*
 * editr1.h — the whole C API of libeditr1: editr1's fused kernels, each with a CPU path and a
 * CUDA path built from the same per-element source (native/src/kernel_math.h).
 *
 * Conventions (../shared/SPEC.md §1): t ∈ [0, 1], t = 0 is data, t = 1 is noise;
 * x_t = (1 − t)·x0 + t·ε, v* = ε − x0, x̂0 = x_t − t·v. A "row" is one sample of D elements.
 *
 * Every kernel takes one params struct (pointers, sizes, scalars; a comment per field) and
 * returns an editr1_status. On a non-OK status, editr1_last_error() holds a message that names
 * the kernel and the offending argument (thread-local; valid until the next call on the thread).
 *
 * Memory: on the *_cpu entry points every pointer is host memory; on the *_cuda entry points
 * every tensor pointer is device memory, the call is asynchronous on the given stream (NULL =
 * the legacy default stream) and only argument errors and launch errors are reported
 * synchronously. Scalars and small per-call tables are passed by value in the struct.
 *
 * Dtypes: activations are f32, bf16 or f16 (one dtype per call, named by the struct's dtype
 * field); accumulation is f32 per element and f64 across elements. Per-sample inputs and
 * outputs (t, r, valid, advantage, old log-prob, ℓ, kl, loss, log-prob, ratio, score,
 * probabilities, mass) are always f32.
 *
 * Non-finite inputs: each kernel ORs a bit per offending input into *nonfinite (see the
 * EDITR1_NF_* bits of each kernel) as it reads them, at no extra memory traffic. The CPU path
 * also returns EDITR1_ERR_NONFINITE naming the inputs; on the CUDA path the word is device
 * memory written asynchronously, and the caller reads it after the stream has run (the Java
 * façade does this unless checking is turned off). NULL skips the check.
 */
#ifndef EDITR1_H
#define EDITR1_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define EDITR1_API __attribute__((visibility("default")))
#else
#define EDITR1_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define EDITR1_VERSION_STRING "0.1.0"

typedef enum editr1_status {
    EDITR1_OK = 0,
    EDITR1_ERR_INVALID_ARGUMENT = 1,  /* a NULL pointer, a bad size, a scalar out of range */
    EDITR1_ERR_UNSUPPORTED_DTYPE = 2, /* dtype not one of editr1_dtype */
    EDITR1_ERR_NONFINITE = 3,         /* NaN or ±Inf in an input (CPU path: found during the call) */
    EDITR1_ERR_NO_CUDA = 4,           /* a *_cuda entry point of a library built without CUDA */
    EDITR1_ERR_CUDA = 5               /* the CUDA runtime reported an error (message has its string) */
} editr1_status;

typedef enum editr1_dtype {
    EDITR1_F32 = 0,
    EDITR1_BF16 = 1,
    EDITR1_F16 = 2
} editr1_dtype;

/* ------------------------------------------------------------------------------------------ */
/* Library and backend queries                                                                */
/* ------------------------------------------------------------------------------------------ */

/** Message of the last non-OK status returned on this thread ("" if none). */
EDITR1_API const char* editr1_last_error(void);
/** Library version, e.g. "0.1.0". */
EDITR1_API const char* editr1_version(void);
/** 1 if the CUDA path was compiled into this library, else 0. */
EDITR1_API int editr1_cuda_built(void);
/** CUDA architectures compiled in, e.g. "80-real;90" ("" without CUDA). */
EDITR1_API const char* editr1_cuda_architectures(void);
/** Number of CUDA devices (>= 0), or −(CUDA error code) when the runtime cannot be used
 *  (e.g. −35: no driver, −100: no device); −1000 when built without CUDA. */
EDITR1_API int editr1_cuda_device_count(void);
/** The CUDA error string of the last editr1_cuda_device_count() failure ("" if none). */
EDITR1_API const char* editr1_cuda_error_string(void);
/** Name and compute capability of a device ("" on error). Thread-safe; static storage per device. */
EDITR1_API const char* editr1_cuda_device_name(int device);
/** Threads the CPU path uses: editr1's own pool (the caller plus workers), not libtorch's. */
EDITR1_API int editr1_cpu_threads(void);
/** Sets the CPU path's thread count for every caller thread (n >= 1; 0 restores the default: the
    CPUs this process may run on, within its cgroup CPU quota). */
EDITR1_API void editr1_set_cpu_threads(int n);
/** Why the CPU path uses editr1_cpu_threads() threads, in words (thread-local storage). */
EDITR1_API const char* editr1_cpu_threads_reason(void);
/** The CPUs other processes left this one at the CPU pool's last load sample (0: not sampled
    yet); a job runs on at most this many threads (native/src/cpu_pool.cpp). */
EDITR1_API int editr1_cpu_pool_spare(void);
/** The CPUs other processes left this one since the previous call of this function (its own
    readings, apart from the pool's; 0 at the first call: unknown). The trainer calls it once per
    epoch for OpenBLAS's thread count. */
EDITR1_API int editr1_cpu_spare(void);
/** Threads of the OpenBLAS that libtorch loaded (its matmuls on the CPU), or 0 when none is loaded. */
EDITR1_API int editr1_blas_threads(void);
/** Sets OpenBLAS's thread count (n >= 1); returns 0 when no OpenBLAS is loaded. OpenBLAS's threads
    spin while they wait, so beside a busy process more threads than free CPUs cost several times
    their speed (bench/RESULTS.md, "kernels under load"). */
EDITR1_API int editr1_set_blas_threads(int n);
/** The kernel set the loaded OpenBLAS runs ("Haswell", "SkylakeX", "Cooperlake", ...; its own
    detection or OPENBLAS_CORETYPE), or NULL when none is loaded. */
EDITR1_API const char* editr1_blas_core(void);
/** The instruction set of the CPU build in use, e.g. "x86-64-v3 (AVX2)". */
EDITR1_API const char* editr1_cpu_isa(void);
/** 1 if NVTX ranges are compiled in (the CUDA toolkit's NVTX 3 headers were found), else 0. */
EDITR1_API int editr1_nvtx_available(void);
/** Opens an NVTX range (a no-op unless a profiler such as Nsight Systems is attached). */
EDITR1_API void editr1_nvtx_push(const char* name);
/** Closes the innermost NVTX range. */
EDITR1_API void editr1_nvtx_pop(void);
/** Bytes the process's C heap holds in use (glibc mallinfo2: arena chunks in use + mmapped chunks):
 *  libtorch's CPU tensors live there. −1 where the C library cannot say. Walks the arenas: call it
 *  at phase boundaries, not per element. */
EDITR1_API long long editr1_heap_bytes_in_use(void);
/** Bytes the C heap holds from the kernel (glibc mallinfo2: arena space, free chunks included, +
 *  mmapped chunks), at least editr1_heap_bytes_in_use(); the difference is freed memory kept for
 *  reuse (see editr1_retain_heap). −1 where the C library cannot say. Walks the arenas, as above. */
EDITR1_API long long editr1_heap_bytes_held(void);
/** Makes glibc's malloc keep up to `bytes` of freed memory for reuse instead of returning it to the
 *  kernel (M_TRIM_THRESHOLD = bytes, M_MMAP_THRESHOLD = min(bytes, 32 MiB)): a freed block is then
 *  reused without page faults by the next allocation of its size, e.g. the fresh output tensor of
 *  every kernel call. Process-wide; call it once, before the hot loop. Returns 1 when set, 0 where
 *  the C library is not glibc or bytes <= 0 (nothing changed). */
EDITR1_API int editr1_retain_heap(long long bytes);
/** Bytes of one element of a dtype (0 for an unknown dtype). */
EDITR1_API size_t editr1_dtype_size(int32_t dtype);

/* ------------------------------------------------------------------------------------------ */
/* 1. Fused flow-matching sampler step (SPEC §3)                                              */
/* ------------------------------------------------------------------------------------------ */
/*
 * Per element (v, x̂0 and the mean μ in f32):
 *   v   = v_uncond ? v_u + w·(v_c − v_u) : v_c        classifier-free guidance
 *   v  *= ‖v_c‖ / ‖v‖ over each token's C channels    when rescale_channels = C > 0
 *   x̂0  = x − σ·v
 *   μ   = c_x·x + c_v·v + c_x0·x̂0 + c_prev_x0·m1       (m1 = x0_prev; its term only if non-NULL)
 *   x'  = μ + c_noise·ξ                                ξ = noise, or Philox normals when noise is NULL
 *   log_prob[b] = mean_D[ −(x' − μ)²/(2·c_noise²) − log c_noise − ½·log 2π ]
 *
 * Euler: c_x = 1, c_v = σ' − σ. DPM-Solver++(2M): c_x = σ'/σ, c_x0 = −α'(e^−h − 1)(1 + 1/(2 r0)),
 * c_prev_x0 = ½·α'(e^−h − 1)/r0. SDE: c_x, c_v from the mean, c_noise = s·sqrt(−dt).
 * The host computes these once per step in double (Java: dev.editr1.kernels.FlowStepParams).
 *
 * Rows are token-major when rescaling: D = L·C with each token's C channels contiguous.
 * x_out may alias x, x0_out may alias x0_prev; no other outputs may alias inputs.
 * Minimum bytes (Euler, no CFG, no x̂0 out): read x, v_c; write x' — 3·B·D·sizeof(dtype).
 */
typedef struct editr1_flow_step_params {
    int64_t rows;             /* B >= 1 */
    int64_t row_len;          /* D >= 1 elements per row */
    int32_t dtype;            /* editr1_dtype of every [B, D] tensor below */
    const void* x;            /* [B, D] current sample at σ */
    const void* v_cond;       /* [B, D] conditional velocity v_c */
    const void* v_uncond;     /* [B, D] unconditional velocity v_u, or NULL (no guidance) */
    float guidance;           /* w; used only with v_uncond */
    int64_t rescale_channels; /* C > 0: per-token norm rescale (needs v_uncond; D % C == 0); 0: off */
    float sigma;              /* σ: x̂0 = x − σ·v */
    float c_x;                /* coefficient of x */
    float c_v;                /* coefficient of v */
    float c_x0;               /* coefficient of x̂0 */
    float c_prev_x0;          /* coefficient of x0_prev (0 when x0_prev is NULL) */
    float c_noise;            /* coefficient of ξ; 0 = deterministic step */
    const void* x0_prev;      /* [B, D] previous step's x̂0 (multistep), or NULL */
    const void* noise;        /* [B, D] ξ, or NULL: with c_noise != 0, Philox normals keyed below */
    uint64_t noise_seed;      /* Philox key when noise is NULL */
    uint64_t noise_row_offset;/* global index of row 0 (a rank's or batch's offset) */
    uint32_t noise_stream;    /* separates independent uses of one seed (e.g. the step index) */
    const void* x_given;      /* [B, D] or NULL: evaluate log_prob at this x' instead of sampling
                                 (x_out may then be NULL) */
    void* x_out;              /* [B, D] x' (may be x), or NULL only when x_given is set */
    void* x0_out;             /* [B, D] x̂0 (may be x0_prev), or NULL */
    float* log_prob;          /* [B] f32 or NULL; needs c_noise > 0 */
    uint32_t* nonfinite;      /* optional flag word, EDITR1_FLOW_NF_* bits */
    void* workspace;          /* CUDA only: editr1_flow_step_workspace_bytes() bytes, or NULL if 0 */
    size_t workspace_bytes;
} editr1_flow_step_params;

#define EDITR1_FLOW_NF_X        (1u << 0)
#define EDITR1_FLOW_NF_V_COND   (1u << 1)
#define EDITR1_FLOW_NF_V_UNCOND (1u << 2)
#define EDITR1_FLOW_NF_X0_PREV  (1u << 3)
#define EDITR1_FLOW_NF_NOISE    (1u << 4)
#define EDITR1_FLOW_NF_X_GIVEN  (1u << 5)
#define EDITR1_FLOW_NF_OUTPUT   (1u << 6) /* a non-finite x' or x̂0: overflow when no input bit is set
                                             (the CPU path then clears it; CUDA sets both) */

EDITR1_API size_t editr1_flow_step_workspace_bytes(const editr1_flow_step_params* p);
EDITR1_API int editr1_flow_step_cpu(const editr1_flow_step_params* p);
EDITR1_API int editr1_flow_step_cuda(const editr1_flow_step_params* p, void* stream);

/* ------------------------------------------------------------------------------------------ */
/* 2. Counter-based noise and the forward process (SPEC §3)                                   */
/* ------------------------------------------------------------------------------------------ */
/*
 * ε[b, e] = Box–Muller normal number (e mod 4) of Philox-4x32-10 with
 *   counter = (e / 4, row_lo, row_hi, stream), key = (seed_lo, seed_hi),
 *   row = row_ids[b] when row_ids is set (rows keyed by a sample id: the trainer draws ε for the
 *   samples the filter kept, keyed by (seed, epoch, sample) whatever their position), else row_offset + b.
 * Box–Muller on (u0, u1) → (r·cos 2πu1, r·sin 2πu1), r = sqrt(−2 ln u0), with
 * u0 = (top 23 bits + ½)·2^-23 ∈ (0, 1) and u1 = (top 24 bits)·2^-24 ∈ [0, 1); log/sin/cos are editr1's own polynomials in plain
 * IEEE operations (no FMA contraction), so CPU and CUDA produce the same bits.
 *
 * With x0 set: x_t = (1 − t_b)·x0 + t_b·ε is written to out, and ε to eps_out when non-NULL.
 * Without x0: ε is written to out (rows, row_len, t ignored).
 * Minimum bytes: noise: write B·D; forward: read x0, write x_t (+ ε).
 */
typedef struct editr1_noise_params {
    int64_t rows;             /* B >= 1 */
    int64_t row_len;          /* D >= 1 */
    int32_t dtype;            /* of x0, out, eps_out */
    uint64_t seed;
    uint64_t row_offset;      /* global index of row 0 */
    uint32_t stream;          /* independent stream of the same seed */
    const void* x0;           /* [B, D] clean sample, or NULL for plain noise */
    const float* t;           /* [B] f32 times (with x0), each in [0, 1] */
    void* out;                /* [B, D] ε (no x0) or x_t (with x0) */
    void* eps_out;            /* [B, D] ε when x0 is set, or NULL */
    uint32_t* nonfinite;      /* optional flag word, EDITR1_NOISE_NF_* bits */
    const int64_t* row_ids;   /* [B] Philox row of each row (on the launch's device), or NULL: row_offset + b */
} editr1_noise_params;

#define EDITR1_NOISE_NF_X0 (1u << 0)
#define EDITR1_NOISE_NF_T  (1u << 1) /* a t that is non-finite or outside [0, 1] */

EDITR1_API int editr1_noise_cpu(const editr1_noise_params* p);
EDITR1_API int editr1_noise_cuda(const editr1_noise_params* p, void* stream);

/** Philox-4x32-10 of one counter and key (for known-answer tests): out[4]. */
EDITR1_API void editr1_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);
/** The 4 Box–Muller normals of a Philox block, computed by the CPU path's code. */
EDITR1_API void editr1_box_muller4(const uint32_t bits[4], float out[4]);
/**
 * Box–Muller normals of `blocks` Philox blocks given as words (block j: words[4j .. 4j+3]) into
 * out[4j .. 4j+3], by one of the CPU path's codes: path 0 the definition (box_muller4 per block),
 * 1 the baseline x86-64 build's bulk loop, 2 the x86-64-v3 build's (AVX2 registers), 3 AVX-512F
 * registers (what the noise kernels use where the processor has it). For tests that the bulk
 * codes equal the definition bit for bit. EDITR1_ERR_INVALID_ARGUMENT if the processor cannot run
 * the path asked for.
 */
EDITR1_API int editr1_box_muller_blocks(const uint32_t* words, int64_t blocks, float* out, int path);
/** Same two, computed on the CUDA device (for bit-identity tests): returns a status. */
EDITR1_API int editr1_philox_normals_cuda(const uint32_t counter[4], const uint32_t key[2], uint32_t bits_out[4], float normals_out[4]);

/* ------------------------------------------------------------------------------------------ */
/* 3. DiffusionNFT loss and its gradient (SPEC §6)                                            */
/* ------------------------------------------------------------------------------------------ */
/*
 * v⁺ = β·v_θ + (1 − β)·v_old, v⁻ = (1 + β)·v_old − β·v_θ, e± = (x_t − t·v±) − x0 = t·(v* − v±).
 * x0 form:       w± = max(mean|e±|, floor) (stop-gradient), L± = mean(e±²)/w±.
 * velocity form: L± = mean((v± − v*)²).
 * ℓ_b = c·(r·L⁺ + (1 − r)·L⁻)/β,  kl_b = mean((v_θ − v_ref)²) (0 without v_ref),
 * loss = Σ valid·ℓ / Σ valid + λ·Σ valid·kl / Σ valid (0 when Σ valid = 0),
 * grad = ∂loss/∂v_θ with the weights held fixed (SPEC §6), in the dtype of v_θ.
 *
 * Two passes: per-row sums (f64), then the element-wise gradient (x0 form; the velocity form's
 * gradient needs no row sums and is written in the first pass).
 * Minimum bytes: read x0, target, v_θ, v_old (, v_ref) once, write grad once; the x0 form
 * re-reads the five inputs in its second pass (from cache when a row's share fits).
 */
typedef enum editr1_nft_form {
    EDITR1_NFT_X0 = 0,        /* adaptive x0-space form (default) */
    EDITR1_NFT_VELOCITY = 1   /* plain velocity-space form */
} editr1_nft_form;

typedef struct editr1_nft_loss_params {
    int64_t rows;             /* B >= 1 */
    int64_t row_len;          /* D >= 1 */
    int32_t dtype;            /* of x0, target, v_theta, v_old, v_ref, grad */
    int32_t form;             /* editr1_nft_form */
    int32_t target_is_xt;     /* 0: target holds ε; 1: target holds x_t (velocity form then needs t > 0) */
    const void* x0;           /* [B, D] clean sample */
    const void* target;       /* [B, D] ε or x_t, see target_is_xt */
    const void* v_theta;      /* [B, D] trainable policy's velocity */
    const void* v_old;        /* [B, D] old policy's velocity */
    const void* v_ref;        /* [B, D] reference velocity, or NULL (kl = 0) */
    const float* t;           /* [B] f32, each in [0, 1] */
    const float* r;           /* [B] f32, each in [0, 1] */
    const float* valid;       /* [B] f32 weights, each 0 or 1 (masked rows: 0) */
    double beta;              /* β > 0 (default 1) */
    double c;                 /* c > 0 (default 5) */
    double lambda;            /* λ >= 0 (default 1e-4) */
    double floor;             /* adaptive-weight floor > 0 (default 1e-5) */
    float* ell;               /* [B] f32 per-sample ℓ, or NULL */
    float* kl;                /* [B] f32 per-sample kl, or NULL */
    float* loss;              /* [1] f32 batch loss (required) */
    void* grad;               /* [B, D] ∂loss/∂v_θ, or NULL (loss only) */
    uint32_t* nonfinite;      /* optional flag word, EDITR1_NFT_NF_* bits */
    void* workspace;          /* CUDA only: editr1_nft_loss_workspace_bytes() bytes */
    size_t workspace_bytes;
} editr1_nft_loss_params;

#define EDITR1_NFT_NF_X0      (1u << 0)
#define EDITR1_NFT_NF_TARGET  (1u << 1)
#define EDITR1_NFT_NF_V_THETA (1u << 2)
#define EDITR1_NFT_NF_V_OLD   (1u << 3)
#define EDITR1_NFT_NF_V_REF   (1u << 4)
#define EDITR1_NFT_NF_T       (1u << 5) /* non-finite or outside [0, 1] (or 0 with x_t in velocity form) */
#define EDITR1_NFT_NF_R       (1u << 6) /* non-finite or outside [0, 1] */
#define EDITR1_NFT_NF_VALID   (1u << 7) /* not 0 or 1 */

EDITR1_API size_t editr1_nft_loss_workspace_bytes(const editr1_nft_loss_params* p);
EDITR1_API int editr1_nft_loss_cpu(const editr1_nft_loss_params* p);
EDITR1_API int editr1_nft_loss_cuda(const editr1_nft_loss_params* p, void* stream);

/* ------------------------------------------------------------------------------------------ */
/* 4. Logits to score (SPEC §4)                                                               */
/* ------------------------------------------------------------------------------------------ */
/*
 * For each row of V logits and the K score tokens (id_k, value_k):
 *   p_k   = softmax over the K logits only            (renormalized probabilities)
 *   score = Σ value_k·p_k / max_k value_k             (EXPECTED)  or
 *           value of the argmax token / max value     (ARGMAX, ties to the lower k)
 *   mass  = Σ_k softmax over all V logits at id_k    (how much the judge answered with a token)
 * −∞ logits are allowed (an HTTP judge's missing tokens); NaN and +∞ are not. A row whose K
 * logits are all −∞ cannot be scored: its score is NaN, its probabilities and mass 0
 * (the Java façade counts such rows as unscored; they are never scored 0).
 * Minimum bytes: read B·V logits once (+ write B·(K + 2) f32).
 */
#define EDITR1_MAX_SCORE_TOKENS 32

typedef enum editr1_score_mode {
    EDITR1_SCORE_EXPECTED = 0,
    EDITR1_SCORE_ARGMAX = 1
} editr1_score_mode;

typedef struct editr1_logit_score_params {
    int64_t rows;             /* B >= 1 */
    int64_t vocab;            /* V >= 1 logits per row */
    int64_t row_stride;       /* elements between consecutive rows (>= V) */
    int32_t dtype;            /* of logits */
    const void* logits;       /* [B, V] with row stride row_stride, unit element stride */
    int32_t num_tokens;       /* K, 1..EDITR1_MAX_SCORE_TOKENS */
    int32_t token_ids[EDITR1_MAX_SCORE_TOKENS]; /* ids in [0, V) */
    float values[EDITR1_MAX_SCORE_TOKENS];      /* finite; max value > 0 */
    int32_t mode;             /* editr1_score_mode */
    float* score;             /* [B] f32 score in [0, 1] (NaN: unscorable row), or NULL */
    float* probs;             /* [B, K] f32 renormalized probabilities, or NULL */
    float* mass;              /* [B] f32 full-vocabulary mass on the K tokens, or NULL */
    uint32_t* nonfinite;      /* optional flag word, EDITR1_SCORE_NF_* bits */
    void* workspace;          /* CUDA only: editr1_logit_score_workspace_bytes() bytes */
    size_t workspace_bytes;
} editr1_logit_score_params;

#define EDITR1_SCORE_NF_LOGITS (1u << 0) /* NaN or +∞ among the logits */

EDITR1_API size_t editr1_logit_score_workspace_bytes(const editr1_logit_score_params* p);
EDITR1_API int editr1_logit_score_cpu(const editr1_logit_score_params* p);
EDITR1_API int editr1_logit_score_cuda(const editr1_logit_score_params* p, void* stream);

/* ------------------------------------------------------------------------------------------ */
/* 5. Flow-GRPO loss and its gradient (SPEC §3 SDE step, §7 baseline)                         */
/* ------------------------------------------------------------------------------------------ */
/*
 * The clipped-ratio objective of Flow-GRPO on one stored SDE step x → x' (σ → σ', dt = σ' − σ,
 * s = a·sqrt(σ/(1 − σ)), σ_1 in the denominator when σ = 1; every row of a call is at this step):
 *   μ_θ   = c_x·x + c_v·v_θ                     c_x = 1 + s²·dt/(2σ), c_v = (1 + s²·(1 − σ)/(2σ))·dt
 *   logp_θ[b] = mean_D[ −(x' − μ_θ)²/(2·std_lp²) ] − log std_lp − ½·log 2π     std_lp = s·sqrt(−dt)
 *   ρ_b   = exp(logp_θ[b] − log_prob_old[b])
 *   ℓ_b   = max(−A_b·ρ_b, −A_b·clip(ρ_b, 1 − ε, 1 + ε))
 *   kl_b  = mean_D[ (μ_θ − μ_ref)² ] / (2·std_kl²)   μ_ref from v_ref; std_kl = s (no sqrt(−dt): as
 *                                                    Flow-GRPO, whose KL uses std_dev_t alone); 0 without v_ref
 *   loss  = Σ valid·(ℓ + β·kl) / Σ valid          (0, and a zero gradient, when Σ valid = 0)
 * and grad = ∂loss/∂v_θ in the dtype of v_θ, per element of row b (μ_θ − μ_ref = c_v·(v_θ − v_ref)):
 *   grad = valid_b/Σvalid · [ g'_b·ρ_b·c_v/(D·std_lp²)·(x' − μ_θ) + β·c_v²/(D·std_kl²)·(v_θ − v_ref) ]
 *   g'_b = ∂ℓ/∂ρ = 0 when the clipped term is strictly larger (ρ > 1 + ε with A > 0, or ρ < 1 − ε
 *          with A < 0), else −A_b. At a tie (ρ inside [1 − ε, 1 + ε], bounds included, or A = 0)
 *          this is what torch.maximum's autograd gives: it sends half the gradient to each side
 *          and clamp passes it inside its closed range, ½·(−A) + ½·(−A)·1 = −A.
 * x' − μ_θ is formed as (x' − x) − ((c_x − 1)·x + c_v·v_θ) in f32: near σ = 0 std_lp is ~1e-3 of |x|
 * (σ = 1e-3 → 0: 7e-4), and x' − μ_θ formed directly would lose ~10 of f32's 24 bits to cancellation.
 * ρ, ℓ and the gradient coefficients are computed per row in f64 from the f64 row sums.
 *
 * Two passes: per-row sums Σ(x' − μ_θ)², Σ(v_θ − v_ref)² (f64 across f32 pieces), then the
 * element-wise gradient (re-reading x, x', v_θ, v_ref, from cache when a row's share fits).
 * Minimum bytes: read x, x', v_θ (, v_ref) once, write grad once: 5·B·D·s with v_ref, 4·B·D·s
 * without (+ B·(3 + 4)·4 for the per-sample vectors and outputs).
 */
typedef struct editr1_grpo_loss_params {
    int64_t rows;             /* B >= 1 */
    int64_t row_len;          /* D >= 1 */
    int32_t dtype;            /* of x, x_next, v_theta, v_ref, grad */
    const void* x;            /* [B, D] the stored sample at σ (the step's input x_t) */
    const void* x_next;       /* [B, D] the stored sample the rollout drew at σ' (x_{t−1}) */
    const void* v_theta;      /* [B, D] the current policy's velocity at (x, σ) */
    const void* v_ref;        /* [B, D] the reference velocity (adapters off), or NULL (kl = 0) */
    const float* advantage;   /* [B] f32 advantage A_b, finite */
    const float* log_prob_old;/* [B] f32 logp of x' stored at rollout time, finite */
    const float* valid;       /* [B] f32 weights, each 0 or 1 (masked rows: 0) */
    double c_x;               /* coefficient of x in μ: 1 + s²·dt/(2σ), finite */
    double c_v;               /* coefficient of v in μ: (1 + s²·(1 − σ)/(2σ))·dt, finite */
    double std_log_prob;      /* std of x' given x: s·sqrt(−dt) > 0 */
    double std_kl;            /* the KL's scale s > 0 (read only with v_ref) */
    double clip_range;        /* ε >= 0 (Flow-GRPO: 1e-4) */
    double kl_weight;         /* β >= 0 (Flow-GRPO: 0.04) */
    float* log_prob;          /* [B] f32 logp_θ, or NULL */
    float* ratio;             /* [B] f32 ρ, or NULL */
    float* ell;               /* [B] f32 per-sample clipped surrogate ℓ, or NULL */
    float* kl;                /* [B] f32 per-sample kl (before β), or NULL */
    float* loss;              /* [1] f32 batch loss (required) */
    void* grad;               /* [B, D] ∂loss/∂v_θ, or NULL (loss only) */
    uint32_t* nonfinite;      /* optional flag word, EDITR1_GRPO_NF_* bits */
    void* workspace;          /* CUDA only: editr1_grpo_loss_workspace_bytes() bytes */
    size_t workspace_bytes;
} editr1_grpo_loss_params;

#define EDITR1_GRPO_NF_X            (1u << 0)
#define EDITR1_GRPO_NF_X_NEXT       (1u << 1)
#define EDITR1_GRPO_NF_V_THETA      (1u << 2)
#define EDITR1_GRPO_NF_V_REF        (1u << 3)
#define EDITR1_GRPO_NF_ADVANTAGE    (1u << 4) /* a non-finite advantage */
#define EDITR1_GRPO_NF_LOG_PROB_OLD (1u << 5) /* a non-finite log_prob_old */
#define EDITR1_GRPO_NF_VALID        (1u << 6) /* not 0 or 1 */
#define EDITR1_GRPO_NF_OUTPUT       (1u << 7) /* a non-finite logp, ρ, ℓ, kl or gradient from finite inputs
                                                 (ρ overflows past logp_θ − log_prob_old ≈ 88; the CPU path
                                                 clears it when an input bit is set, CUDA sets both) */

EDITR1_API size_t editr1_grpo_loss_workspace_bytes(const editr1_grpo_loss_params* p);
EDITR1_API int editr1_grpo_loss_cpu(const editr1_grpo_loss_params* p);
EDITR1_API int editr1_grpo_loss_cuda(const editr1_grpo_loss_params* p, void* stream);

#ifdef __cplusplus
}
#endif

#endif /* EDITR1_H */
