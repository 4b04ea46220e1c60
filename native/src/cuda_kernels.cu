/*
 * cuda_kernels.cu — the CUDA path of editr1's kernels (sm_80 and sm_90).
 *
 * Every kernel uses the per-element math of kernel_math.h, the same source as the CPU path.
 * Launch shape, shared by all five: a 2-D grid of (chunk of a row, row) blocks of 256 threads,
 * so per-row sums are block partials written to a caller-given workspace at a fixed index and
 * added in a fixed order by a second, small kernel — results are deterministic and do not need
 * atomics on floats. Inputs are read once with 16-byte loads where every pointer is 16-byte
 * aligned and the row length is a multiple of the vector width; otherwise a scalar path runs.
 *
 * Non-finite inputs set bits in a caller-given flag word (atomicOr, once per warp that saw one),
 * zeroed with cudaMemsetAsync at the start of the call.
 *
 * Every launch runs on the caller's stream and is followed by cudaGetLastError().
 */
#include "internal.h"
#include "kernel_math.h"

#include <cuda_runtime.h>

#include <stdio.h>
#include <string.h>

namespace editr1 {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int64_t kFlowChunk = 2048;   // must match common.cpp's kFlowChunkElems
constexpr int64_t kFlowTokens = 8;     // must match kFlowChunkTokens (one warp per token)
constexpr int64_t kNftChunk = 2048;    // must match kNftChunkElems
constexpr int64_t kScoreSplit = 8192;  // must match kScoreSplitElems
constexpr int64_t kGrpoChunk = 2048;   // must match kGrpoChunkElems

/* 16 bytes of T as floats */
template <typename T>
struct Vec {
    static constexpr int N = 16 / sizeof(T);
    float v[N];
};

template <typename T>
__device__ __forceinline__ void load_vec(const T* p, Vec<T>& out) {
    uint4 raw = __ldg(reinterpret_cast<const uint4*>(p));
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int i = 0; i < Vec<T>::N; ++i) out.v[i] = to_float(e[i]);
}

template <typename T>
__device__ __forceinline__ void store_vec(T* p, const Vec<T>& in) {
    uint4 raw;
    T* e = reinterpret_cast<T*>(&raw);
#pragma unroll
    for (int i = 0; i < Vec<T>::N; ++i) e[i] = from_float<T>(in.v[i]);
    *reinterpret_cast<uint4*>(p) = raw;
}

__device__ __forceinline__ void flag(uint32_t* word, uint32_t bits) {
    // one atomic per warp that saw a non-finite value; none at all on clean data
    uint32_t any = __reduce_or_sync(0xffffffffu, bits);
    if (word && any && (threadIdx.x & 31) == 0) atomicOr(word, any);
}

template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Sum over the block in a fixed tree order (deterministic); the result is valid in thread 0. */
__device__ double block_sum(double v, double* scratch /* [kWarps] */) {
    v = warp_sum(v);
    const int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    __syncthreads();  // scratch may still be read by a previous block_sum
    if (l == 0) scratch[w] = v;
    __syncthreads();
    double s = 0.0;
    if (threadIdx.x == 0)
        for (int i = 0; i < kWarps; ++i) s += scratch[i];
    return s;
}

bool aligned16(const void* p) { return ((uintptr_t)p & 15u) == 0; }

int launch_status(const char* entry, const char* kernel) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return fail(EDITR1_ERR_CUDA, "%s: launch of %s failed: %s (%s)", entry, kernel, cudaGetErrorString(e),
                    cudaGetErrorName(e));
    return EDITR1_OK;
}

int cuda_status(const char* entry, const char* what, cudaError_t e) {
    if (e != cudaSuccess)
        return fail(EDITR1_ERR_CUDA, "%s: %s failed: %s (%s)", entry, what, cudaGetErrorString(e),
                    cudaGetErrorName(e));
    return EDITR1_OK;
}

int check_workspace(const char* entry, void* ws, size_t have, size_t need) {
    if (need > 0 && (!ws || have < need))
        return fail(EDITR1_ERR_INVALID_ARGUMENT, "%s: workspace needs %zu bytes (got %zu at %p)", entry, need, have,
                    ws);
    return EDITR1_OK;
}

/* ======================================================================================== */
/* 1. Flow step                                                                             */
/* ======================================================================================== */
/*
 * flow_elem_kernel: x' = μ + c_noise·ξ per element, grid (ceil(D / 2048), B), 256 threads, each
 * thread kFlowChunk / 256 elements in VEC-wide pieces. Bytes: read x, v_c (, v_u, m1, ξ, x_given),
 * write x' (, x̂0); no intermediate touches memory. With log_prob: one f64 partial per block.
 */
struct FlowArgs {
    editr1_flow_step_params p;
    FlowCoeffs k;
    int64_t chunks;
};

template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads) flow_elem_kernel(const FlowArgs a, double* partials) {
    const editr1_flow_step_params& p = a.p;
    const int64_t b = blockIdx.y;
    const int64_t row0 = b * p.row_len;
    const bool stochastic = a.k.c_noise != 0.0f && !p.x_given;
    const bool philox = stochastic && !p.noise;
    float sq = 0.0f;
    uint32_t bad = 0;
    constexpr int kIters = (int)(kFlowChunk / (kThreads * VEC));
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
        const int64_t e = blockIdx.x * kFlowChunk + ((int64_t)it * kThreads + threadIdx.x) * VEC;
        if (e >= p.row_len) break;
        const int64_t i = row0 + e;
        float xv[VEC], vc[VEC], vu[VEC], m1[VEC], z[VEC], xg[VEC];
        if constexpr (VEC > 1) {
            Vec<T> t;
            load_vec((const T*)p.x + i, t);
#pragma unroll
            for (int j = 0; j < VEC; ++j) xv[j] = t.v[j];
            load_vec((const T*)p.v_cond + i, t);
#pragma unroll
            for (int j = 0; j < VEC; ++j) vc[j] = t.v[j];
            if (p.v_uncond) {
                load_vec((const T*)p.v_uncond + i, t);
#pragma unroll
                for (int j = 0; j < VEC; ++j) vu[j] = t.v[j];
            }
            if (p.x0_prev) {
                load_vec((const T*)p.x0_prev + i, t);
#pragma unroll
                for (int j = 0; j < VEC; ++j) m1[j] = t.v[j];
            }
            if (p.x_given) {
                load_vec((const T*)p.x_given + i, t);
#pragma unroll
                for (int j = 0; j < VEC; ++j) xg[j] = t.v[j];
            } else if (stochastic && !philox) {
                load_vec((const T*)p.noise + i, t);
#pragma unroll
                for (int j = 0; j < VEC; ++j) z[j] = t.v[j];
            }
            if (philox) {
                // e is a multiple of VEC >= 4: whole Philox blocks
#pragma unroll
                for (int j = 0; j < VEC; j += 4) {
                    f32x4 n4 = noise4(p.noise_seed, p.noise_row_offset + (uint64_t)b, p.noise_stream,
                                      (uint64_t)(e + j) >> 2);
#pragma unroll
                    for (int l = 0; l < 4; ++l) z[j + l] = n4.v[l];
                }
            }
        } else {
            xv[0] = to_float(((const T*)p.x)[i]);
            vc[0] = to_float(((const T*)p.v_cond)[i]);
            if (p.v_uncond) vu[0] = to_float(((const T*)p.v_uncond)[i]);
            if (p.x0_prev) m1[0] = to_float(((const T*)p.x0_prev)[i]);
            if (p.x_given) xg[0] = to_float(((const T*)p.x_given)[i]);
            else if (stochastic && !philox) z[0] = to_float(((const T*)p.noise)[i]);
            if (philox) z[0] = noise_at(p.noise_seed, p.noise_row_offset + (uint64_t)b, p.noise_stream, (uint64_t)e);
        }
        float xo[VEC], x0o[VEC];
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
            bad |= is_finite(xv[j]) ? 0u : EDITR1_FLOW_NF_X;
            bad |= is_finite(vc[j]) ? 0u : EDITR1_FLOW_NF_V_COND;
            float v = vc[j];
            if (p.v_uncond) {
                bad |= is_finite(vu[j]) ? 0u : EDITR1_FLOW_NF_V_UNCOND;
                v = guided_velocity(vc[j], vu[j], true, a.k.guidance);
            }
            float mv = 0.0f;
            if (p.x0_prev) {
                mv = m1[j];
                bad |= is_finite(mv) ? 0u : EDITR1_FLOW_NF_X0_PREV;
            }
            float mean, x0h;
            flow_mean(a.k, xv[j], v, mv, mean, x0h);
            float xn = mean;
            if (p.x_given) {
                xn = xg[j];
                bad |= is_finite(xn) ? 0u : EDITR1_FLOW_NF_X_GIVEN;
            } else if (stochastic) {
                bad |= is_finite(z[j]) ? 0u : EDITR1_FLOW_NF_NOISE;
                xn = mean + a.k.c_noise * z[j];
            }
            float d = xn - mean;
            sq += d * d;
            xo[j] = xn;
            x0o[j] = x0h;
            bad |= (fits_in<T>(xn) && fits_in<T>(x0h)) ? 0u : EDITR1_FLOW_NF_OUTPUT;
        }
        if constexpr (VEC > 1) {
            Vec<T> t;
            if (p.x_out) {
#pragma unroll
                for (int j = 0; j < VEC; ++j) t.v[j] = xo[j];
                store_vec((T*)p.x_out + i, t);
            }
            if (p.x0_out) {
#pragma unroll
                for (int j = 0; j < VEC; ++j) t.v[j] = x0o[j];
                store_vec((T*)p.x0_out + i, t);
            }
        } else {
            if (p.x_out) ((T*)p.x_out)[i] = from_float<T>(xo[0]);
            if (p.x0_out) ((T*)p.x0_out)[i] = from_float<T>(x0o[0]);
        }
    }
    flag(p.nonfinite, bad);
    if (partials) {
        __shared__ double scratch[kWarps];
        double s = block_sum((double)sq, scratch);
        if (threadIdx.x == 0) partials[b * a.chunks + blockIdx.x] = s;
    }
}

/*
 * flow_token_kernel: the same step with Qwen's norm rescale: one warp per token of C channels
 * (two passes over the token: the norms, then the outputs; the second pass hits L1).
 */
template <typename T>
__global__ void __launch_bounds__(kThreads) flow_token_kernel(const FlowArgs a, double* partials) {
    const editr1_flow_step_params& p = a.p;
    const int64_t b = blockIdx.y;
    const int64_t C = p.rescale_channels;
    const int64_t tokens = p.row_len / C;
    const int64_t tok = blockIdx.x * kFlowTokens + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    const bool stochastic = a.k.c_noise != 0.0f && !p.x_given;
    float sq = 0.0f;
    uint32_t bad = 0;
    if (tok < tokens) {
        const int64_t base = b * p.row_len + tok * C;
        const T* vc = (const T*)p.v_cond + base;
        const T* vu = (const T*)p.v_uncond + base;
        float nc = 0.0f, nv = 0.0f;
        for (int64_t j = lane; j < C; j += 32) {
            float c = to_float(vc[j]), u = to_float(vu[j]);
            bad |= is_finite(c) ? 0u : EDITR1_FLOW_NF_V_COND;
            bad |= is_finite(u) ? 0u : EDITR1_FLOW_NF_V_UNCOND;
            float v = guided_velocity(c, u, true, a.k.guidance);
            nc += c * c;
            nv += v * v;
        }
        nc = warp_sum(nc);
        nv = warp_sum(nv);
        const float s = nv > 0.0f ? sqrtf(nc / nv) : 1.0f;
        for (int64_t j = lane; j < C; j += 32) {
            const int64_t i = base + j;
            const int64_t e = tok * C + j;
            float v = guided_velocity(to_float(vc[j]), to_float(vu[j]), true, a.k.guidance) * s;
            float xv = to_float(((const T*)p.x)[i]);
            bad |= is_finite(xv) ? 0u : EDITR1_FLOW_NF_X;
            float mv = 0.0f;
            if (p.x0_prev) {
                mv = to_float(((const T*)p.x0_prev)[i]);
                bad |= is_finite(mv) ? 0u : EDITR1_FLOW_NF_X0_PREV;
            }
            float mean, x0h;
            flow_mean(a.k, xv, v, mv, mean, x0h);
            float xn = mean;
            if (p.x_given) {
                xn = to_float(((const T*)p.x_given)[i]);
                bad |= is_finite(xn) ? 0u : EDITR1_FLOW_NF_X_GIVEN;
            } else if (stochastic) {
                float z = p.noise ? to_float(((const T*)p.noise)[i])
                                  : noise_at(p.noise_seed, p.noise_row_offset + (uint64_t)b, p.noise_stream,
                                             (uint64_t)e);
                bad |= is_finite(z) ? 0u : EDITR1_FLOW_NF_NOISE;
                xn = mean + a.k.c_noise * z;
            }
            float d = xn - mean;
            sq += d * d;
            T xo = from_float<T>(xn), x0o = from_float<T>(x0h);
            bad |= (fits_in<T>(xn) && fits_in<T>(x0h)) ? 0u : EDITR1_FLOW_NF_OUTPUT;
            if (p.x_out) ((T*)p.x_out)[i] = xo;
            if (p.x0_out) ((T*)p.x0_out)[i] = x0o;
        }
    }
    flag(p.nonfinite, bad);
    if (partials) {
        __shared__ double scratch[kWarps];
        double s = block_sum((double)sq, scratch);
        if (threadIdx.x == 0) partials[b * a.chunks + blockIdx.x] = s;
    }
}

/* log_prob[b] from the row's partials, added in chunk order. One thread per row. */
__global__ void flow_logprob_kernel(const double* partials, int64_t rows, int64_t chunks, int64_t row_len,
                                    double c_noise, float* log_prob) {
    const int64_t b = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (b >= rows) return;
    double s = 0.0;
    for (int64_t c = 0; c < chunks; ++c) s += partials[b * chunks + c];
    const double lognorm = log(c_noise) + 0.5 * log(2.0 * 3.14159265358979323846);
    log_prob[b] = (float)(-s / (2.0 * c_noise * c_noise * (double)row_len) - lognorm);
}

template <typename T>
int flow_step_launch(const editr1_flow_step_params& p, cudaStream_t st, const char* entry) {
    FlowArgs a;
    a.p = p;
    a.k = FlowCoeffs{p.guidance, p.sigma, p.c_x, p.c_v, p.c_x0, p.x0_prev ? p.c_prev_x0 : 0.0f, p.c_noise};
    a.chunks = cuda_flow_chunks(&p);
    double* partials = p.log_prob ? (double*)p.workspace : nullptr;
    dim3 grid((unsigned)a.chunks, (unsigned)p.rows);
    const char* name;
    if (p.rescale_channels > 0) {
        flow_token_kernel<T><<<grid, kThreads, 0, st>>>(a, partials);
        name = "flow_token_kernel";
    } else {
        constexpr int V = Vec<T>::N;
        bool vec = p.row_len % V == 0;
        const void* ptrs[] = {p.x, p.v_cond, p.v_uncond, p.x0_prev, p.noise, p.x_given, p.x_out, p.x0_out};
        for (const void* q : ptrs) vec = vec && aligned16(q);
        if (vec) flow_elem_kernel<T, V><<<grid, kThreads, 0, st>>>(a, partials);
        else flow_elem_kernel<T, 1><<<grid, kThreads, 0, st>>>(a, partials);
        name = "flow_elem_kernel";
    }
    if (int s = launch_status(entry, name)) return s;
    if (p.log_prob) {
        flow_logprob_kernel<<<(unsigned)ceil_div(p.rows, 128), 128, 0, st>>>(partials, p.rows, a.chunks, p.row_len,
                                                                              (double)p.c_noise, p.log_prob);
        if (int s = launch_status(entry, "flow_logprob_kernel")) return s;
    }
    return EDITR1_OK;
}

/* ======================================================================================== */
/* 2. Noise and the forward process                                                         */
/* ======================================================================================== */
/*
 * noise_kernel: ε from Philox (4 normals per block), and x_t = (1 − t)·x0 + t·ε when x0 is given.
 * Grid (ceil(D / 2048), B). Bytes: write ε (noise), or read x0 + write x_t (+ ε).
 */
template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads) noise_kernel(const editr1_noise_params p) {
    const int64_t b = blockIdx.y;
    const uint64_t row = p.row_ids ? (uint64_t)p.row_ids[b] : p.row_offset + (uint64_t)b;
    float t = 0.0f;
    uint32_t bad = 0;
    if (p.x0) {
        t = p.t[b];
        bad |= (t >= 0.0f && t <= 1.0f) ? 0u : EDITR1_NOISE_NF_T;
    }
    constexpr int kIters = (int)(kFlowChunk / (kThreads * VEC));
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
        const int64_t e = blockIdx.x * kFlowChunk + ((int64_t)it * kThreads + threadIdx.x) * VEC;
        if (e >= p.row_len) break;
        const int64_t i = b * p.row_len + e;
        float z[VEC];
        if constexpr (VEC > 1) {
#pragma unroll
            for (int j = 0; j < VEC; j += 4) {
                f32x4 n4 = noise4(p.seed, row, p.stream, (uint64_t)(e + j) >> 2);
#pragma unroll
                for (int l = 0; l < 4; ++l) z[j + l] = n4.v[l];
            }
        } else {
            z[0] = noise_at(p.seed, row, p.stream, (uint64_t)e);
        }
        if (!p.x0) {
            if constexpr (VEC > 1) {
                Vec<T> o;
#pragma unroll
                for (int j = 0; j < VEC; ++j) o.v[j] = z[j];
                store_vec((T*)p.out + i, o);
            } else {
                ((T*)p.out)[i] = from_float<T>(z[0]);
            }
            continue;
        }
        float x[VEC];
        if constexpr (VEC > 1) {
            Vec<T> in;
            load_vec((const T*)p.x0 + i, in);
#pragma unroll
            for (int j = 0; j < VEC; ++j) x[j] = in.v[j];
        } else {
            x[0] = to_float(((const T*)p.x0)[i]);
        }
        const float s = 1.0f - t;
        float xt[VEC];
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
            bad |= is_finite(x[j]) ? 0u : EDITR1_NOISE_NF_X0;
            xt[j] = s * x[j] + t * z[j];
        }
        if constexpr (VEC > 1) {
            Vec<T> o;
#pragma unroll
            for (int j = 0; j < VEC; ++j) o.v[j] = xt[j];
            store_vec((T*)p.out + i, o);
            if (p.eps_out) {
#pragma unroll
                for (int j = 0; j < VEC; ++j) o.v[j] = z[j];
                store_vec((T*)p.eps_out + i, o);
            }
        } else {
            ((T*)p.out)[i] = from_float<T>(xt[0]);
            if (p.eps_out) ((T*)p.eps_out)[i] = from_float<T>(z[0]);
        }
    }
    flag(p.nonfinite, bad);
}

template <typename T>
int noise_launch(const editr1_noise_params& p, cudaStream_t st, const char* entry) {
    constexpr int V = Vec<T>::N;
    dim3 grid((unsigned)ceil_div(p.row_len, kFlowChunk), (unsigned)p.rows);
    bool vec = p.row_len % V == 0 && aligned16(p.out) && aligned16(p.x0) && aligned16(p.eps_out);
    if (vec) noise_kernel<T, V><<<grid, kThreads, 0, st>>>(p);
    else noise_kernel<T, 1><<<grid, kThreads, 0, st>>>(p);
    return launch_status(entry, "noise_kernel");
}

/* ======================================================================================== */
/* 3. DiffusionNFT loss                                                                     */
/* ======================================================================================== */
/*
 * nft_sums_kernel (pass 1): per block, the five row sums of its 2048-element chunk → workspace
 * [B][chunks][5] f64; the velocity form writes its gradient here too (its coefficients need no
 * sums). Bytes: read x0, target, v_θ, v_old (, v_ref) (+ write grad in the velocity form).
 * nft_finish_kernel (pass 2): each block adds its row's partials in chunk order, derives w±, ℓ,
 * kl and the gradient coefficients; block (0, b) writes ℓ_b and kl_b, block (0, 0) the loss; in the
 * x0 form every block then writes its chunk of the gradient (re-reading the five inputs, from L2
 * at the realistic sizes: 12 × 65,536 × 5 × 4 B = 15.7 MB < 50 MB).
 */
struct NftArgs {
    editr1_nft_loss_params p;
    int64_t chunks;
};

template <typename T, int VEC>
__device__ __forceinline__ void load_n(const T* p, int64_t i, float* out) {
    if constexpr (VEC > 1) {
        Vec<T> t;
        load_vec(p + i, t);
#pragma unroll
        for (int j = 0; j < VEC; ++j) out[j] = t.v[j];
    } else {
        out[0] = to_float(p[i]);
    }
}

template <typename T, int VEC>
__device__ __forceinline__ void store_n(T* p, int64_t i, const float* in) {
    if constexpr (VEC > 1) {
        Vec<T> t;
#pragma unroll
        for (int j = 0; j < VEC; ++j) t.v[j] = in[j];
        store_vec(p + i, t);
    } else {
        p[i] = from_float<T>(in[0]);
    }
}

/* Σ valid over all rows, in a fixed order (every block computes the same value). */
__device__ double sum_valid(const float* valid, int64_t rows, double* scratch) {
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < rows; i += kThreads) s += (double)valid[i];
    return block_sum(s, scratch);
}

template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads) nft_sums_kernel(const NftArgs a, double* ws) {
    const editr1_nft_loss_params& p = a.p;
    const int64_t b = blockIdx.y;
    const bool velocity = p.form == EDITR1_NFT_VELOCITY;
    const float t = p.t[b], r = p.r[b], valid = p.valid[b];
    uint32_t bad = 0;
    if (blockIdx.x == 0) {
        bad |= (t >= 0.0f && t <= 1.0f && !(velocity && p.target_is_xt && t == 0.0f)) ? 0u : EDITR1_NFT_NF_T;
        bad |= (r >= 0.0f && r <= 1.0f) ? 0u : EDITR1_NFT_NF_R;
        bad |= (valid == 0.0f || valid == 1.0f) ? 0u : EDITR1_NFT_NF_VALID;
    }
    __shared__ double scratch[kWarps];
    __shared__ float coef[3];
    const bool write_grad = velocity && p.grad;
    if (write_grad) {
        double sv = sum_valid(p.valid, p.rows, scratch);
        if (threadIdx.x == 0) {
            double zero[NFT_NSUMS] = {0, 0, 0, 0, 0};
            NftRowOut o = nft_row_finish(zero, p.row_len, t, r, valid, sv, p.beta, p.c, p.lambda, p.floor, true,
                                         p.v_ref != nullptr);
            coef[0] = o.g_pos;
            coef[1] = o.g_neg;
            coef[2] = o.g_kl;
        }
        __syncthreads();
    }
    const NftRow q{t, r, (float)p.beta, p.target_is_xt != 0, velocity};
    float ap = 0.f, an = 0.f, sp = 0.f, sn = 0.f, sk = 0.f;
    constexpr int kIters = (int)(kNftChunk / (kThreads * VEC));
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
        const int64_t e = blockIdx.x * kNftChunk + ((int64_t)it * kThreads + threadIdx.x) * VEC;
        if (e >= p.row_len) break;
        const int64_t i = b * p.row_len + e;
        float x0[VEC], tg[VEC], th[VEC], vo[VEC], rf[VEC], g[VEC];
        load_n<T, VEC>((const T*)p.x0, i, x0);
        load_n<T, VEC>((const T*)p.target, i, tg);
        load_n<T, VEC>((const T*)p.v_theta, i, th);
        load_n<T, VEC>((const T*)p.v_old, i, vo);
        if (p.v_ref) load_n<T, VEC>((const T*)p.v_ref, i, rf);
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
            bad |= is_finite(x0[j]) ? 0u : EDITR1_NFT_NF_X0;
            bad |= is_finite(tg[j]) ? 0u : EDITR1_NFT_NF_TARGET;
            bad |= is_finite(th[j]) ? 0u : EDITR1_NFT_NF_V_THETA;
            bad |= is_finite(vo[j]) ? 0u : EDITR1_NFT_NF_V_OLD;
            float dp, dn;
            nft_errors(q, x0[j], tg[j], th[j], vo[j], dp, dn);
            ap += fabsf(dp);
            an += fabsf(dn);
            sp += dp * dp;
            sn += dn * dn;
            float dk = 0.0f;
            if (p.v_ref) {
                bad |= is_finite(rf[j]) ? 0u : EDITR1_NFT_NF_V_REF;
                dk = th[j] - rf[j];
                sk += dk * dk;
            }
            if (write_grad) g[j] = coef[0] * dp + coef[1] * dn + coef[2] * dk;
        }
        if (write_grad) store_n<T, VEC>((T*)p.grad, i, g);
    }
    flag(p.nonfinite, bad);
    const float vals[NFT_NSUMS] = {ap, an, sp, sn, sk};
    double* out = ws + (b * a.chunks + blockIdx.x) * NFT_NSUMS;
#pragma unroll
    for (int j = 0; j < NFT_NSUMS; ++j) {
        double s = block_sum((double)vals[j], scratch);
        if (threadIdx.x == 0) out[j] = s;
    }
}

/* The row's finished values from its partials (all threads call; valid in thread 0). */
__device__ NftRowOut nft_row_from_ws(const editr1_nft_loss_params& p, const double* ws, int64_t chunks, int64_t b,
                                     double sv) {
    double s[NFT_NSUMS] = {0, 0, 0, 0, 0};
    for (int64_t c = 0; c < chunks; ++c)
        for (int j = 0; j < NFT_NSUMS; ++j) s[j] += ws[(b * chunks + c) * NFT_NSUMS + j];
    return nft_row_finish(s, p.row_len, p.t[b], p.r[b], p.valid[b], sv, p.beta, p.c, p.lambda, p.floor,
                          p.form == EDITR1_NFT_VELOCITY, p.v_ref != nullptr);
}

template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads) nft_finish_kernel(const NftArgs a, const double* ws) {
    const editr1_nft_loss_params& p = a.p;
    const int64_t b = blockIdx.y;
    __shared__ double scratch[kWarps];
    __shared__ float coef[3];
    const double sv = sum_valid(p.valid, p.rows, scratch);  // thread 0 only
    if (threadIdx.x == 0) {
        NftRowOut o = nft_row_from_ws(p, ws, a.chunks, b, sv);
        coef[0] = o.g_pos;
        coef[1] = o.g_neg;
        coef[2] = o.g_kl;
        if (blockIdx.x == 0) {
            if (p.ell) p.ell[b] = (float)o.ell;
            if (p.kl) p.kl[b] = (float)o.kl;
        }
    }
    if (blockIdx.x == 0 && b == 0) {
        // the batch loss: rows split over the threads, then a fixed-order block sum
        __shared__ double svs;
        if (threadIdx.x == 0) svs = sv;
        __syncthreads();
        const double svall = svs;
        double le = 0.0, lk = 0.0;
        for (int64_t rr = threadIdx.x; rr < p.rows; rr += kThreads) {
            NftRowOut o = nft_row_from_ws(p, ws, a.chunks, rr, svall);
            le += (double)p.valid[rr] * o.ell;
            lk += (double)p.valid[rr] * o.kl;
        }
        le = block_sum(le, scratch);
        lk = block_sum(lk, scratch);
        if (threadIdx.x == 0) *p.loss = svall > 0.0 ? (float)((le + p.lambda * lk) / svall) : 0.0f;
    }
    __syncthreads();
    if (p.form == EDITR1_NFT_VELOCITY || !p.grad) return;
    const float gp = coef[0], gn = coef[1], gk = coef[2];
    const NftRow q{p.t[b], p.r[b], (float)p.beta, p.target_is_xt != 0, false};
    constexpr int kIters = (int)(kNftChunk / (kThreads * VEC));
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
        const int64_t e = blockIdx.x * kNftChunk + ((int64_t)it * kThreads + threadIdx.x) * VEC;
        if (e >= p.row_len) break;
        const int64_t i = b * p.row_len + e;
        float x0[VEC], tg[VEC], th[VEC], vo[VEC], rf[VEC], g[VEC];
        load_n<T, VEC>((const T*)p.x0, i, x0);
        load_n<T, VEC>((const T*)p.target, i, tg);
        load_n<T, VEC>((const T*)p.v_theta, i, th);
        load_n<T, VEC>((const T*)p.v_old, i, vo);
        if (p.v_ref) load_n<T, VEC>((const T*)p.v_ref, i, rf);
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
            float dp, dn;
            nft_errors(q, x0[j], tg[j], th[j], vo[j], dp, dn);
            g[j] = gp * dp + gn * dn + (p.v_ref ? gk * (th[j] - rf[j]) : 0.0f);
        }
        store_n<T, VEC>((T*)p.grad, i, g);
    }
}

template <typename T>
int nft_loss_launch(const editr1_nft_loss_params& p, cudaStream_t st, const char* entry) {
    NftArgs a{p, cuda_nft_chunks(p.row_len, p.dtype)};
    constexpr int V = Vec<T>::N;
    bool vec = p.row_len % V == 0;
    const void* ptrs[] = {p.x0, p.target, p.v_theta, p.v_old, p.v_ref, p.grad};
    for (const void* q : ptrs) vec = vec && aligned16(q);
    double* ws = (double*)p.workspace;
    dim3 g1((unsigned)a.chunks, (unsigned)p.rows);
    dim3 g2((unsigned)(p.form == EDITR1_NFT_X0 && p.grad ? a.chunks : 1), (unsigned)p.rows);
    if (vec) {
        nft_sums_kernel<T, V><<<g1, kThreads, 0, st>>>(a, ws);
        if (int s = launch_status(entry, "nft_sums_kernel")) return s;
        nft_finish_kernel<T, V><<<g2, kThreads, 0, st>>>(a, ws);
    } else {
        nft_sums_kernel<T, 1><<<g1, kThreads, 0, st>>>(a, ws);
        if (int s = launch_status(entry, "nft_sums_kernel")) return s;
        nft_finish_kernel<T, 1><<<g2, kThreads, 0, st>>>(a, ws);
    }
    return launch_status(entry, "nft_finish_kernel");
}

/* ======================================================================================== */
/* 4. Logit score                                                                           */
/* ======================================================================================== */
/*
 * score_partial_kernel: online softmax (max, Σ exp) of an 8192-logit split per block → workspace
 * [B][splits][2] f32. Bytes: read B·V logits once. score_finish_kernel: one thread per row merges
 * its splits in order, gathers the K token logits and writes score, probs, mass (B·(K + 2)·4 B).
 */
struct ScoreArgs {
    editr1_logit_score_params p;
    int64_t splits;
};

__device__ __forceinline__ SoftmaxAcc acc_push(SoftmaxAcc a, const float* x, int n) {
    float vm = x[0];
    for (int j = 1; j < n; ++j) vm = fmaxf(vm, x[j]);
    if (vm > a.m) {
        a.s = a.s == 0.0f ? 0.0f : a.s * __expf(a.m - vm);
        a.m = vm;
    }
    if (a.m != -INFINITY) {
        float s = 0.0f;
        for (int j = 0; j < n; ++j) s += __expf(x[j] - a.m);  // __expf(−∞) = 0
        a.s += s;
    }
    return a;
}

__device__ __forceinline__ SoftmaxAcc warp_merge(SoftmaxAcc a) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        SoftmaxAcc b;
        b.m = __shfl_xor_sync(0xffffffffu, a.m, o);
        b.s = __shfl_xor_sync(0xffffffffu, a.s, o);
        a = softmax_merge(a, b);
    }
    return a;
}

template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads) score_partial_kernel(const ScoreArgs a, float* ws) {
    const editr1_logit_score_params& p = a.p;
    const int64_t b = blockIdx.y;
    const T* row = (const T*)p.logits + b * p.row_stride;
    SoftmaxAcc acc{-INFINITY, 0.0f};
    uint32_t bad = 0;
    constexpr int kIters = (int)(kScoreSplit / (kThreads * VEC));
    const int64_t v0 = blockIdx.x * kScoreSplit;
#pragma unroll 4
    for (int it = 0; it < kIters; ++it) {
        const int64_t e = v0 + ((int64_t)it * kThreads + threadIdx.x) * VEC;
        if (e >= p.vocab) break;
        float x[VEC];
        load_n<T, VEC>(row, e, x);
#pragma unroll
        for (int j = 0; j < VEC; ++j) bad |= (x[j] != x[j] || x[j] == INFINITY) ? EDITR1_SCORE_NF_LOGITS : 0u;
        acc = acc_push(acc, x, VEC);
    }
    flag(p.nonfinite, bad);
    acc = warp_merge(acc);
    __shared__ SoftmaxAcc sh[kWarps];
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
        SoftmaxAcc t = sh[0];
        for (int w = 1; w < kWarps; ++w) t = softmax_merge(t, sh[w]);
        float* out = ws + (b * a.splits + blockIdx.x) * 2;
        out[0] = t.m;
        out[1] = t.s;
    }
}

template <typename T>
__global__ void score_finish_kernel(const ScoreArgs a, const float* ws) {
    const editr1_logit_score_params& p = a.p;
    const int64_t b = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (b >= p.rows) return;
    SoftmaxAcc all{-INFINITY, 0.0f};
    for (int64_t s = 0; s < a.splits; ++s) {
        SoftmaxAcc t{ws[(b * a.splits + s) * 2], ws[(b * a.splits + s) * 2 + 1]};
        all = softmax_merge(all, t);
    }
    const T* row = (const T*)p.logits + b * p.row_stride;
    float kl[EDITR1_MAX_SCORE_TOKENS];
    for (int k = 0; k < p.num_tokens; ++k) kl[k] = to_float(row[p.token_ids[k]]);
    score_row_finish(all, kl, p.values, p.num_tokens, p.mode, p.score ? p.score + b : nullptr,
                     p.probs ? p.probs + b * p.num_tokens : nullptr, p.mass ? p.mass + b : nullptr);
}

template <typename T>
int logit_score_launch(const editr1_logit_score_params& p, cudaStream_t st, const char* entry) {
    ScoreArgs a{p, cuda_score_splits(p.vocab)};
    constexpr int V = Vec<T>::N;
    const bool vec = p.vocab % V == 0 && (p.row_stride * (int64_t)sizeof(T)) % 16 == 0 && aligned16(p.logits);
    float* ws = (float*)p.workspace;
    dim3 grid((unsigned)a.splits, (unsigned)p.rows);
    if (vec) score_partial_kernel<T, V><<<grid, kThreads, 0, st>>>(a, ws);
    else score_partial_kernel<T, 1><<<grid, kThreads, 0, st>>>(a, ws);
    if (int s = launch_status(entry, "score_partial_kernel")) return s;
    score_finish_kernel<T><<<(unsigned)ceil_div(p.rows, 128), 128, 0, st>>>(a, ws);
    return launch_status(entry, "score_finish_kernel");
}

/* ======================================================================================== */
/* 5. Flow-GRPO loss                                                                        */
/* ======================================================================================== */
/*
 * grpo_sums_kernel (pass 1): per block, the two row sums Σ(x' − μ_θ)² and Σ(v_θ − v_ref)² of its
 * 2048-element chunk → workspace [B][chunks][2] f64; block (0, b) also checks row b's advantage,
 * old log-prob and valid. Bytes: read x, x', v_θ (, v_ref).
 * grpo_finish_kernel (pass 2): each block adds its row's partials in chunk order and derives logp,
 * ρ, ℓ, kl and the gradient's two coefficients in f64 (grpo_row_finish); block (0, b) writes row
 * b's per-sample values, block (0, 0) the loss; with a gradient every block then writes its chunk,
 * re-reading x, x', v_θ, v_ref (from L2 at the realistic sizes: 12 × 65,536 × 4 × 4 B = 12.6 MB
 * in f32, under the H100/H200's 50 MB). Bytes: write grad (+ the re-read).
 */
struct GrpoArgs {
    editr1_grpo_loss_params p;
    GrpoStep k;
    int64_t chunks;
};

template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads) grpo_sums_kernel(const GrpoArgs a, double* ws) {
    const editr1_grpo_loss_params& p = a.p;
    const int64_t b = blockIdx.y;
    const bool ref = p.v_ref != nullptr;
    uint32_t bad = 0;
    if (blockIdx.x == 0) {
        bad |= is_finite(p.advantage[b]) ? 0u : EDITR1_GRPO_NF_ADVANTAGE;
        bad |= is_finite(p.log_prob_old[b]) ? 0u : EDITR1_GRPO_NF_LOG_PROB_OLD;
        const float v = p.valid[b];
        bad |= (v == 0.0f || v == 1.0f) ? 0u : EDITR1_GRPO_NF_VALID;
    }
    float slp = 0.f, skl = 0.f;
    constexpr int kIters = (int)(kGrpoChunk / (kThreads * VEC));
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
        const int64_t e = blockIdx.x * kGrpoChunk + ((int64_t)it * kThreads + threadIdx.x) * VEC;
        if (e >= p.row_len) break;
        const int64_t i = b * p.row_len + e;
        float x[VEC], xn[VEC], th[VEC], rf[VEC];
        load_n<T, VEC>((const T*)p.x, i, x);
        load_n<T, VEC>((const T*)p.x_next, i, xn);
        load_n<T, VEC>((const T*)p.v_theta, i, th);
        if (ref) load_n<T, VEC>((const T*)p.v_ref, i, rf);
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
            bad |= is_finite(x[j]) ? 0u : EDITR1_GRPO_NF_X;
            bad |= is_finite(xn[j]) ? 0u : EDITR1_GRPO_NF_X_NEXT;
            bad |= is_finite(th[j]) ? 0u : EDITR1_GRPO_NF_V_THETA;
            const float d = grpo_residual(a.k, x[j], xn[j], th[j]);
            slp += d * d;
            if (ref) {
                bad |= is_finite(rf[j]) ? 0u : EDITR1_GRPO_NF_V_REF;
                const float dk = th[j] - rf[j];
                skl += dk * dk;
            }
        }
    }
    flag(p.nonfinite, bad);
    __shared__ double scratch[kWarps];
    double* out = ws + (b * a.chunks + blockIdx.x) * GRPO_NSUMS;
    const double s0 = block_sum((double)slp, scratch);
    if (threadIdx.x == 0) out[GRPO_SQ_LP] = s0;
    const double s1 = block_sum((double)skl, scratch);
    if (threadIdx.x == 0) out[GRPO_SQ_KL] = s1;
}

/* Row b's finished values from its partials, added in chunk order (one thread). */
__device__ GrpoRowOut grpo_row_from_ws(const GrpoArgs& a, const double* ws, int64_t b, double sv) {
    const editr1_grpo_loss_params& p = a.p;
    double s[GRPO_NSUMS] = {0, 0};
    for (int64_t c = 0; c < a.chunks; ++c)
        for (int j = 0; j < GRPO_NSUMS; ++j) s[j] += ws[(b * a.chunks + c) * GRPO_NSUMS + j];
    return grpo_row_finish(s, p.row_len, p.advantage[b], p.log_prob_old[b], p.valid[b], sv, p.c_v, p.std_log_prob,
                           p.std_kl, p.clip_range, p.kl_weight, p.v_ref != nullptr);
}

template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads) grpo_finish_kernel(const GrpoArgs a, const double* ws) {
    const editr1_grpo_loss_params& p = a.p;
    const int64_t b = blockIdx.y;
    const bool ref = p.v_ref != nullptr;
    __shared__ double scratch[kWarps];
    __shared__ float coef[2];
    uint32_t bad = 0;
    const double sv = sum_valid(p.valid, p.rows, scratch);  // thread 0 only
    if (threadIdx.x == 0) {
        const GrpoRowOut o = grpo_row_from_ws(a, ws, b, sv);
        coef[0] = o.g_lp;
        coef[1] = o.g_kl;
        if (blockIdx.x == 0) {
            if (p.log_prob) p.log_prob[b] = (float)o.log_prob;
            if (p.ratio) p.ratio[b] = (float)o.ratio;
            if (p.ell) p.ell[b] = (float)o.ell;
            if (p.kl) p.kl[b] = (float)o.kl;
            bad |= o.finite ? 0u : EDITR1_GRPO_NF_OUTPUT;
        }
    }
    if (blockIdx.x == 0 && b == 0) {
        // the batch loss: rows split over the threads, then a fixed-order block sum; a masked row
        // adds nothing, even an overflowed one (0·∞ would be NaN)
        __shared__ double svs;
        if (threadIdx.x == 0) svs = sv;
        __syncthreads();
        const double svall = svs;
        double tot = 0.0;
        for (int64_t rr = threadIdx.x; rr < p.rows; rr += kThreads) {
            if (p.valid[rr] == 0.0f) continue;
            const GrpoRowOut o = grpo_row_from_ws(a, ws, rr, svall);
            tot += o.ell + p.kl_weight * o.kl;
        }
        tot = block_sum(tot, scratch);
        if (threadIdx.x == 0) {
            const float loss = svall > 0.0 ? (float)(tot / svall) : 0.0f;
            *p.loss = loss;
            bad |= is_finite(loss) ? 0u : EDITR1_GRPO_NF_OUTPUT;
        }
    }
    __syncthreads();  // coef is written by thread 0
    if (p.grad) {
        const float gl = coef[0], gk = coef[1];
        constexpr int kIters = (int)(kGrpoChunk / (kThreads * VEC));
#pragma unroll
        for (int it = 0; it < kIters; ++it) {
            const int64_t e = blockIdx.x * kGrpoChunk + ((int64_t)it * kThreads + threadIdx.x) * VEC;
            if (e >= p.row_len) break;
            const int64_t i = b * p.row_len + e;
            float x[VEC], xn[VEC], th[VEC], rf[VEC], g[VEC];
            load_n<T, VEC>((const T*)p.x, i, x);
            load_n<T, VEC>((const T*)p.x_next, i, xn);
            load_n<T, VEC>((const T*)p.v_theta, i, th);
            if (ref) load_n<T, VEC>((const T*)p.v_ref, i, rf);
#pragma unroll
            for (int j = 0; j < VEC; ++j) {
                g[j] = gl * grpo_residual(a.k, x[j], xn[j], th[j]) + (ref ? gk * (th[j] - rf[j]) : 0.0f);
                bad |= fits_in<T>(g[j]) ? 0u : EDITR1_GRPO_NF_OUTPUT;
            }
            store_n<T, VEC>((T*)p.grad, i, g);
        }
    }
    flag(p.nonfinite, bad);  // every thread reaches this (the warp-wide OR needs all lanes)
}

template <typename T>
int grpo_loss_launch(const editr1_grpo_loss_params& p, cudaStream_t st, const char* entry) {
    GrpoArgs a{p, GrpoStep{(float)(p.c_x - 1.0), (float)p.c_v}, cuda_grpo_chunks(p.row_len)};
    constexpr int V = Vec<T>::N;
    bool vec = p.row_len % V == 0;
    const void* ptrs[] = {p.x, p.x_next, p.v_theta, p.v_ref, p.grad};
    for (const void* q : ptrs) vec = vec && aligned16(q);
    double* ws = (double*)p.workspace;
    dim3 g1((unsigned)a.chunks, (unsigned)p.rows);
    dim3 g2((unsigned)(p.grad ? a.chunks : 1), (unsigned)p.rows);
    if (vec) {
        grpo_sums_kernel<T, V><<<g1, kThreads, 0, st>>>(a, ws);
        if (int s = launch_status(entry, "grpo_sums_kernel")) return s;
        grpo_finish_kernel<T, V><<<g2, kThreads, 0, st>>>(a, ws);
    } else {
        grpo_sums_kernel<T, 1><<<g1, kThreads, 0, st>>>(a, ws);
        if (int s = launch_status(entry, "grpo_sums_kernel")) return s;
        grpo_finish_kernel<T, 1><<<g2, kThreads, 0, st>>>(a, ws);
    }
    return launch_status(entry, "grpo_finish_kernel");
}

/* ======================================================================================== */
/* Common entry logic                                                                       */
/* ======================================================================================== */

/* Grid limits: y (rows) ≤ 65,535 and x (chunks) < 2^31. */
int check_grid(const char* entry, int64_t rows, int64_t chunks) {
    if (rows > 65535)
        return fail(EDITR1_ERR_INVALID_ARGUMENT, "%s: rows = %lld exceeds the CUDA path's 65,535 rows per call",
                    entry, (long long)rows);
    if (chunks > 0x7fffffffLL)
        return fail(EDITR1_ERR_INVALID_ARGUMENT, "%s: row too long for one launch", entry);
    return EDITR1_OK;
}

int clear_flag(const char* entry, uint32_t* word, cudaStream_t st) {
    if (!word) return EDITR1_OK;
    return cuda_status(entry, "cudaMemsetAsync(nonfinite)", cudaMemsetAsync(word, 0, sizeof(uint32_t), st));
}

template <template <typename> class L, typename P>
int by_dtype(const P& p, cudaStream_t st, const char* entry) {
    switch (p.dtype) {
        case EDITR1_BF16: return L<bf16>::run(p, st, entry);
        case EDITR1_F16: return L<f16>::run(p, st, entry);
        default: return L<float>::run(p, st, entry);
    }
}

template <typename T> struct FlowL { static int run(const editr1_flow_step_params& p, cudaStream_t s, const char* e) { return flow_step_launch<T>(p, s, e); } };
template <typename T> struct NoiseL { static int run(const editr1_noise_params& p, cudaStream_t s, const char* e) { return noise_launch<T>(p, s, e); } };
template <typename T> struct NftL { static int run(const editr1_nft_loss_params& p, cudaStream_t s, const char* e) { return nft_loss_launch<T>(p, s, e); } };
template <typename T> struct GrpoL { static int run(const editr1_grpo_loss_params& p, cudaStream_t s, const char* e) { return grpo_loss_launch<T>(p, s, e); } };
template <typename T> struct ScoreL { static int run(const editr1_logit_score_params& p, cudaStream_t s, const char* e) { return logit_score_launch<T>(p, s, e); } };

__global__ void philox_probe_kernel(u32x4 c, uint32_t k0, uint32_t k1, uint32_t* bits, float* normals) {
    u32x4 r = philox4x32_10(c, k0, k1);
    f32x4 n = box_muller4(r);
    for (int i = 0; i < 4; ++i) {
        bits[i] = r.v[i];
        normals[i] = n.v[i];
    }
}

char g_device_error[256] = "";

}  // namespace
}  // namespace editr1

using namespace editr1;

extern "C" {

int editr1_cuda_built(void) { return 1; }

const char* editr1_cuda_architectures(void) { return EDITR1_CUDA_ARCHS; }

int editr1_cuda_device_count(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(g_device_error, sizeof g_device_error, "%s (%s, code %d)", cudaGetErrorString(e),
                 cudaGetErrorName(e), (int)e);
        cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return -(int)e;
    }
    g_device_error[0] = '\0';
    return n;
}

const char* editr1_cuda_error_string(void) { return g_device_error; }

const char* editr1_cuda_device_name(int device) {
    static thread_local char name[320];
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
        cudaGetLastError();
        return "";
    }
    snprintf(name, sizeof name, "%s (sm_%d%d, %d SMs, %.1f GiB)", prop.name, prop.major, prop.minor,
             prop.multiProcessorCount, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    return name;
}

int editr1_flow_step_cuda(const editr1_flow_step_params* p, void* stream) {
    const char* entry = "editr1_flow_step_cuda";
    if (int s = validate_flow_step(p, entry)) return s;
    if (int s = check_grid(entry, p->rows, cuda_flow_chunks(p))) return s;
    if (int s = check_workspace(entry, p->workspace, p->workspace_bytes, flow_step_workspace(p))) return s;
    cudaStream_t st = (cudaStream_t)stream;
    if (int s = clear_flag(entry, p->nonfinite, st)) return s;
    if (int s = by_dtype<FlowL>(*p, st, entry)) return s;
    return ok();
}

int editr1_noise_cuda(const editr1_noise_params* p, void* stream) {
    const char* entry = "editr1_noise_cuda";
    if (int s = validate_noise(p, entry)) return s;
    if (int s = check_grid(entry, p->rows, ceil_div(p->row_len, kFlowChunk))) return s;
    cudaStream_t st = (cudaStream_t)stream;
    if (int s = clear_flag(entry, p->nonfinite, st)) return s;
    if (int s = by_dtype<NoiseL>(*p, st, entry)) return s;
    return ok();
}

int editr1_nft_loss_cuda(const editr1_nft_loss_params* p, void* stream) {
    const char* entry = "editr1_nft_loss_cuda";
    if (int s = validate_nft_loss(p, entry)) return s;
    if (int s = check_grid(entry, p->rows, cuda_nft_chunks(p->row_len, p->dtype))) return s;
    if (int s = check_workspace(entry, p->workspace, p->workspace_bytes, nft_loss_workspace(p))) return s;
    cudaStream_t st = (cudaStream_t)stream;
    if (int s = clear_flag(entry, p->nonfinite, st)) return s;
    if (int s = by_dtype<NftL>(*p, st, entry)) return s;
    return ok();
}

int editr1_logit_score_cuda(const editr1_logit_score_params* p, void* stream) {
    const char* entry = "editr1_logit_score_cuda";
    if (int s = validate_logit_score(p, entry)) return s;
    if (int s = check_grid(entry, p->rows, cuda_score_splits(p->vocab))) return s;
    if (int s = check_workspace(entry, p->workspace, p->workspace_bytes, logit_score_workspace(p))) return s;
    cudaStream_t st = (cudaStream_t)stream;
    if (int s = clear_flag(entry, p->nonfinite, st)) return s;
    if (int s = by_dtype<ScoreL>(*p, st, entry)) return s;
    return ok();
}

int editr1_grpo_loss_cuda(const editr1_grpo_loss_params* p, void* stream) {
    const char* entry = "editr1_grpo_loss_cuda";
    if (int s = validate_grpo_loss(p, entry)) return s;
    if (int s = check_grid(entry, p->rows, cuda_grpo_chunks(p->row_len))) return s;
    if (int s = check_workspace(entry, p->workspace, p->workspace_bytes, grpo_loss_workspace(p))) return s;
    cudaStream_t st = (cudaStream_t)stream;
    if (int s = clear_flag(entry, p->nonfinite, st)) return s;
    if (int s = by_dtype<GrpoL>(*p, st, entry)) return s;
    return ok();
}

int editr1_philox_normals_cuda(const uint32_t counter[4], const uint32_t key[2], uint32_t bits_out[4],
                               float normals_out[4]) {
    const char* entry = "editr1_philox_normals_cuda";
    uint32_t* d = nullptr;
    if (int s = cuda_status(entry, "cudaMalloc", cudaMalloc(&d, 8 * sizeof(uint32_t)))) return s;
    u32x4 c{{counter[0], counter[1], counter[2], counter[3]}};
    philox_probe_kernel<<<1, 1>>>(c, key[0], key[1], d, (float*)(d + 4));
    int s = launch_status(entry, "philox_probe_kernel");
    uint32_t h[8];
    if (!s) s = cuda_status(entry, "cudaMemcpy", cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
    cudaFree(d);
    if (s) return s;
    memcpy(bits_out, h, 4 * sizeof(uint32_t));
    memcpy(normals_out, h + 4, 4 * sizeof(float));
    return ok();
}

}  // extern "C"
