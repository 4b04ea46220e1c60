/*
 * cpu_kernels.cpp — the CPU path of editr1's kernels.
 *
 * Compiled twice (CMake): once for baseline x86-64 and once for x86-64-v3 (AVX2), each into its
 * own namespace (EDITR1_CPU_NS); cpu_dispatch.cpp validates the arguments and picks the widest
 * build the processor runs (the noise's whole blocks also go through noise_simd.h's registers:
 * AVX2 here, AVX-512F in cpu_noise_avx512.cpp where the processor has it). Work is split into
 * (row, chunk) items of a fixed size and spread over editr1's CPU pool (cpu_pool.cpp: shares
 * that idle threads steal from, so a descheduled thread delays nobody); per-row sums are kept
 * per item and added in item order, so results do not depend on the thread count or the
 * schedule. Loops are written so GCC vectorizes them (no calls to libm in hot loops, branch-free
 * finiteness checks).
 *
 * Compiled with -ffp-contract=off: the Philox/Box–Muller normals must match the CUDA path bit
 * for bit (see kernel_math.h).
 */
#include "internal.h"
#include "kernel_math.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX2__)
#include "noise_simd.h"
#endif

#include <type_traits>
#include <algorithm>
#include <vector>

#ifndef EDITR1_CPU_NS
#error "EDITR1_CPU_NS must name the ISA namespace"
#endif

namespace editr1 {
namespace EDITR1_CPU_NS {

namespace {

/* Elements per work item. A multiple of 4 (one Philox block) so that items start on a block. */
constexpr int64_t kChunk = 4096;

/* Terms per f32 partial sum in the NFT loss's first pass (the partials are added in f64). */
constexpr int64_t kSumPiece = 256;

/* NFT x0 form: work items per thread in one block of rows whose pass 2 follows its pass 1. */
constexpr int64_t kNftBlockItems = 8;

/* A per-thread float buffer of at least n elements (the pool's threads live for the process). */
float* scratch(size_t n) {
    thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
}

/* exp(x) for x <= 0 without libm, so the logit-score loop vectorizes: 2^(x·log2 e) with the
   integer part in the exponent bits and a degree-6 polynomial on [−0.5, 0.5] (rel. err ~2e-7). */
inline float exp_nonpos(float x) {
    const float log2e = 1.44269504088896341f;
    float y = x * log2e;
    y = y < -126.0f ? -126.0f : y;            // also maps −∞ to −126; the caller zeroes those
    float n = floorf(y + 0.5f);
    float f = y - n;                          // [−0.5, 0.5]
    float p = 1.5403530393381606e-4f;
    p = p * f + 1.3333558146428443e-3f;
    p = p * f + 9.6181291076284772e-3f;
    p = p * f + 5.5504108664821580e-2f;
    p = p * f + 2.4022650695910071e-1f;
    p = p * f + 6.9314718055994531e-1f;
    p = p * f + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return x < -87.0f ? 0.0f : p * scale;
}

/* Philox-4x32-10 words of blocks j0 .. nb − 1 (counters (q0 + j, rlo, rhi, stream), key (k0, k1))
   into four word arrays, one block per SIMD lane as GCC vectorizes it. Integer arithmetic: every
   build gives the same bits as philox4x32_10. */
void philox_blocks_generic(uint32_t k0, uint32_t k1, uint32_t rlo, uint32_t rhi, uint32_t stream, uint32_t q0,
                           int64_t j0, int64_t nb, uint32_t* W0, uint32_t* W1, uint32_t* W2, uint32_t* W3) {
#pragma omp simd
    for (int64_t j = j0; j < nb; ++j) {
        u32x4 w = philox4x32_10(u32x4{{q0 + (uint32_t)j, rlo, rhi, stream}}, k0, k1);
        W0[j] = w.v[0];
        W1[j] = w.v[1];
        W2[j] = w.v[2];
        W3[j] = w.v[3];
    }
}

/* Box–Muller of blocks j0 .. nb − 1 given as word arrays, into dst in element order (dst[4j + q] =
   normal q of block j): a SIMD loop over blocks (the same IEEE operations lane by lane, so the
   bits do not change), then interleaved. */
void box_muller_blocks_generic(int64_t j0, int64_t nb, const uint32_t* W0, const uint32_t* W1, const uint32_t* W2,
                               const uint32_t* W3, float* dst) {
    const int64_t m = nb - j0;
    if (m <= 0) return;
    thread_local std::vector<float> lanes;
    lanes.resize((size_t)(4 * m));
    float *L0 = lanes.data(), *L1 = L0 + m, *L2 = L1 + m, *L3 = L2 + m;
#pragma omp simd
    for (int64_t i = 0; i < m; ++i) {
        float z0, z1, z2, z3;
        box_muller2(W0[j0 + i], W1[j0 + i], z0, z1);
        box_muller2(W2[j0 + i], W3[j0 + i], z2, z3);
        L0[i] = z0;
        L1[i] = z1;
        L2[i] = z2;
        L3[i] = z3;
    }
    float* d = dst + 4 * j0;
    for (int64_t i = 0; i < m; ++i) {
        d[4 * i] = L0[i];
        d[4 * i + 1] = L1[i];
        d[4 * i + 2] = L2[i];
        d[4 * i + 3] = L3[i];
    }
}

/* Normals for elements [e0, e0 + n) of a row, in order: partial blocks one by one, whole blocks
   as Philox words then Box–Muller, written in element order. Where the processor has AVX-512F or
   AVX2 the whole blocks go through noise_simd.h (registers of blocks; the same bits), and what those
   leave (fewer blocks than two registers) through the generic loops: Philox words as GCC vectorizes
   philox4x32_10, Box–Muller in a SIMD loop (the same IEEE operations lane by lane), then
   interleaved. */
void fill_noise(uint64_t seed, uint64_t row, uint32_t stream, int64_t e0, int64_t n, float* out) {
    const int64_t end = e0 + n;
    int64_t e = e0;
    auto partial = [&](int64_t upto) {
        while (e < upto) {
            f32x4 blk = noise4(seed, row, stream, (uint64_t)e >> 2);
            int64_t lane0 = e & 3, take = 4 - lane0 < upto - e ? 4 - lane0 : upto - e;
            for (int64_t j = 0; j < take; ++j) out[e - e0 + j] = blk.v[lane0 + j];
            e += take;
        }
    };
    partial(((e0 + 3) / 4) * 4 < end ? ((e0 + 3) / 4) * 4 : end);
    const int64_t q0 = e / 4, q1 = end / 4, nb = q1 > q0 ? q1 - q0 : 0;
    if (q1 > 0xffffffffLL) {  // rows past 2^34 elements: the general (scalar) path
        partial(end);
        return;
    }
    float* dst = out + (e - e0);
    thread_local std::vector<uint32_t> words;
    words.resize((size_t)(4 * nb));
    uint32_t *W0 = words.data(), *W1 = W0 + nb, *W2 = W1 + nb, *W3 = W2 + nb;
    const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32), rlo = (uint32_t)row, rhi = (uint32_t)(row >> 32);
    int64_t done = 0;
#if defined(__AVX2__)
    if (cpu_has_avx512f()) {
        done = cpu_avx512::noise_blocks(k0, k1, rlo, rhi, stream, (uint32_t)q0, nb, W0, W1, W2, W3, dst);
    } else {
        done = simd::philox_blocks_simd<simd::Avx2>(k0, k1, rlo, rhi, stream, (uint32_t)q0, nb, W0, W1, W2, W3);
        done = simd::box_muller_blocks_simd<simd::Avx2>(done, W0, W1, W2, W3, dst);
    }
#endif
    if (done < nb) {
        philox_blocks_generic(k0, k1, rlo, rhi, stream, (uint32_t)q0, done, nb, W0, W1, W2, W3);
        box_muller_blocks_generic(done, nb, W0, W1, W2, W3, dst);
    }
    e = q1 * 4 > e ? q1 * 4 : e;
    partial(end);
}

/* ---------------------------------------------------------------------------------------- */
/* Flow step                                                                                */
/* ---------------------------------------------------------------------------------------- */

/* Where x' gets its noise: none (deterministic), a ξ tensor, Philox normals drawn into the item's
   buffer, or a given x' (log-prob evaluation only). */
enum FlowNoise { NOISE_NONE = 0, NOISE_TENSOR = 1, NOISE_PHILOX = 2, NOISE_GIVEN = 3 };

/* One work item [e0, e0 + n) of row b in one fused pass: each input is read once and each output
   written once, with no staging buffers (only the Philox normals are drawn into zbuf first). The
   optional inputs and outputs are template flags, so every variant is straight-line code that
   vectorizes. With the per-token rescale (C > 0) the item is walked token by token: a first loop
   over the token's C channels (L1-resident afterwards) gives its scale, the fused loop follows. */
template <typename T, bool GUIDED, bool PREV, int NOISE, bool XO, bool X0O>
uint32_t flow_item_t(const editr1_flow_step_params& p, const FlowCoeffs& k, int64_t b, int64_t e0, int64_t n,
                     float* zbuf, double* sq_out) {
    const int64_t base = b * p.row_len + e0;
    const T* x = (const T*)p.x + base;
    const T* vc = (const T*)p.v_cond + base;
    const T* vu = GUIDED ? (const T*)p.v_uncond + base : nullptr;
    const T* m1 = PREV ? (const T*)p.x0_prev + base : nullptr;
    const T* xi = NOISE == NOISE_TENSOR ? (const T*)p.noise + base : nullptr;
    const T* xg = NOISE == NOISE_GIVEN ? (const T*)p.x_given + base : nullptr;
    T* xo = XO ? (T*)p.x_out + base : nullptr;
    T* x0o = X0O ? (T*)p.x0_out + base : nullptr;
    if (NOISE == NOISE_PHILOX) fill_noise(p.noise_seed, p.noise_row_offset + (uint64_t)b, p.noise_stream, e0, n, zbuf);
    const int64_t C = GUIDED ? p.rescale_channels : 0;
    const int64_t seg = C > 0 ? C : n;
    const float w = k.guidance;
    // a local copy: through the reference GCC reloads (and re-broadcasts) every coefficient in
    // every iteration, since the output stores might alias it
    const FlowCoeffs kl = k;
    // Non-finite detection as float sums of v − v (+0 for a finite v, NaN for ±Inf or NaN): two
    // vector instructions per tensor instead of four for a bit test (and, compare, and, or).
    float nf_vc = 0.0f, nf_vu = 0.0f, nf_x = 0.0f, nf_m1 = 0.0f, nf_xi = 0.0f, nf_xg = 0.0f, nf_out = 0.0f;
    int bad_out = 0;  // bf16/f16 outputs: |x'| past the largest finite value, a compare
    double sq = 0.0;
    for (int64_t t0 = 0; t0 < n; t0 += seg) {
        float s = 1.0f;
        if (C > 0) {
            // f32 sums over 64-channel pieces (8 lanes × 8), added in f64: a long token's norm
            // must not depend on the summation order, and a per-element f64 chain was a
            // ~100-cycle latency chain per 64-channel token
            double nc = 0.0, nv = 0.0;
            for (int64_t p0 = t0; p0 < t0 + seg; p0 += 64) {
                const int64_t p1 = p0 + 64 < t0 + seg ? p0 + 64 : t0 + seg;
                float pc = 0.0f, pv = 0.0f;
#pragma omp simd reduction(+ : pc, pv)
                for (int64_t i = p0; i < p1; ++i) {
                    float c = to_float(vc[i]), g = guided_velocity(c, to_float(vu[i]), true, w);
                    pc += c * c;
                    pv += g * g;
                }
                nc += (double)pc;
                nv += (double)pv;
            }
            // a zero guided vector has no direction to rescale: leave it
            s = nv > 0.0 ? (float)sqrt(nc / nv) : 1.0f;
        }
#pragma omp simd reduction(+ : nf_vc, nf_vu, nf_x, nf_m1, nf_xi, nf_xg, nf_out, sq) reduction(| : bad_out)
        for (int64_t i = t0; i < t0 + seg; ++i) {
            float c = to_float(vc[i]);
            nf_vc += c - c;
            float v = c;
            if (GUIDED) {
                float u = to_float(vu[i]);
                nf_vu += u - u;
                v = guided_velocity(c, u, true, w) * s;
            }
            float xv = to_float(x[i]);
            nf_x += xv - xv;
            float mv = 0.0f;
            if (PREV) {
                mv = to_float(m1[i]);
                nf_m1 += mv - mv;
            }
            float mean, x0h;
            flow_mean(kl, xv, v, mv, mean, x0h);
            float next = mean;
            if (NOISE == NOISE_TENSOR) {
                float z = to_float(xi[i]);
                nf_xi += z - z;
                next = mean + kl.c_noise * z;
            } else if (NOISE == NOISE_PHILOX) {
                next = mean + kl.c_noise * zbuf[i];
            } else if (NOISE == NOISE_GIVEN) {
                next = to_float(xg[i]);
                nf_xg += next - next;
            }
            if (NOISE != NOISE_NONE) {
                float d = next - mean;
                sq += (double)(d * d);
            }
            if (XO) {
                if (std::is_same<T, float>::value) nf_out += next - next;
                else bad_out |= !fits_in<T>(next);
                xo[i] = from_float<T>(next);
            }
            if (X0O) {
                if (std::is_same<T, float>::value) nf_out += x0h - x0h;
                else bad_out |= !fits_in<T>(x0h);
                x0o[i] = from_float<T>(x0h);
            }
        }
    }
    *sq_out = sq;
    // each sum is exactly 0 when all its terms were finite, NaN otherwise
    return (nf_x != 0.0f ? EDITR1_FLOW_NF_X : 0u) | (nf_vc != 0.0f ? EDITR1_FLOW_NF_V_COND : 0u) |
           (nf_vu != 0.0f ? EDITR1_FLOW_NF_V_UNCOND : 0u) | (nf_m1 != 0.0f ? EDITR1_FLOW_NF_X0_PREV : 0u) |
           (nf_xi != 0.0f ? EDITR1_FLOW_NF_NOISE : 0u) | (nf_xg != 0.0f ? EDITR1_FLOW_NF_X_GIVEN : 0u) |
           (bad_out || nf_out != 0.0f ? EDITR1_FLOW_NF_OUTPUT : 0u);
}

using FlowItemFn = uint32_t (*)(const editr1_flow_step_params&, const FlowCoeffs&, int64_t, int64_t, int64_t, float*,
                                double*);

/* The variant of flow_item_t for this call's optional tensors (picked once per call). */
template <typename T, bool GUIDED, bool PREV, int NOISE>
FlowItemFn flow_item_outputs(const editr1_flow_step_params& p) {
    if (p.x_out) return p.x0_out ? flow_item_t<T, GUIDED, PREV, NOISE, true, true> : flow_item_t<T, GUIDED, PREV, NOISE, true, false>;
    // no x' is written only when evaluating a given x'
    return p.x0_out ? flow_item_t<T, GUIDED, PREV, NOISE_GIVEN, false, true> : flow_item_t<T, GUIDED, PREV, NOISE_GIVEN, false, false>;
}
template <typename T, bool GUIDED, bool PREV>
FlowItemFn flow_item_noise(const editr1_flow_step_params& p, int noise) {
    switch (noise) {
        case NOISE_TENSOR: return flow_item_outputs<T, GUIDED, PREV, NOISE_TENSOR>(p);
        case NOISE_PHILOX: return flow_item_outputs<T, GUIDED, PREV, NOISE_PHILOX>(p);
        case NOISE_GIVEN: return flow_item_outputs<T, GUIDED, PREV, NOISE_GIVEN>(p);
        default: return flow_item_outputs<T, GUIDED, PREV, NOISE_NONE>(p);
    }
}
template <typename T>
FlowItemFn flow_item_for(const editr1_flow_step_params& p, int noise) {
    if (p.v_uncond) return p.x0_prev ? flow_item_noise<T, true, true>(p, noise) : flow_item_noise<T, true, false>(p, noise);
    return p.x0_prev ? flow_item_noise<T, false, true>(p, noise) : flow_item_noise<T, false, false>(p, noise);
}

template <typename T>
uint32_t flow_step_t(const editr1_flow_step_params& p) {
    const FlowCoeffs k{p.guidance, p.sigma, p.c_x, p.c_v, p.c_x0, p.x0_prev ? p.c_prev_x0 : 0.0f, p.c_noise};
    const int noise = p.x_given ? NOISE_GIVEN : p.c_noise == 0.0f ? NOISE_NONE : p.noise ? NOISE_TENSOR : NOISE_PHILOX;
    const FlowItemFn item = flow_item_for<T>(p, noise);
    // items hold whole tokens when rescaling, whole Philox blocks otherwise
    const int64_t C = p.rescale_channels;
    const int64_t chunk = C > 0 ? C * (kChunk / C > 0 ? kChunk / C : 1) : kChunk;
    const int64_t chunks = ceil_div(p.row_len, chunk);
    const int64_t items = p.rows * chunks;
    std::vector<double> sq((size_t)items, 0.0);
    auto unit = [&](int64_t it) -> uint32_t {
        const int64_t b = it / chunks, e0 = (it % chunks) * chunk;
        const int64_t n = e0 + chunk <= p.row_len ? chunk : p.row_len - e0;
        return item(p, k, b, e0, n, noise == NOISE_PHILOX ? scratch((size_t)chunk) : nullptr, &sq[(size_t)it]);
    };
    const uint32_t mask = parallel_units(items, unit);
    if (p.log_prob) {
        const double cn = (double)p.c_noise;
        const double lognorm = log(cn) + 0.5 * log(2.0 * M_PI);
        for (int64_t b = 0; b < p.rows; ++b) {
            double s = 0.0;
            for (int64_t c = 0; c < chunks; ++c) s += sq[(size_t)(b * chunks + c)];
            p.log_prob[b] = (float)(-s / (2.0 * cn * cn * (double)p.row_len) - lognorm);
        }
    }
    return mask;
}

/* ---------------------------------------------------------------------------------------- */
/* Noise and the forward process                                                            */
/* ---------------------------------------------------------------------------------------- */

template <typename T>
uint32_t noise_t(const editr1_noise_params& p) {
    const int64_t chunks = ceil_div(p.row_len, kChunk);
    const int64_t items = p.rows * chunks;
    uint32_t mask = 0;
    if (p.x0) {
        for (int64_t b = 0; b < p.rows; ++b) {
            float t = p.t[b];
            if (!(t >= 0.0f && t <= 1.0f)) mask |= EDITR1_NOISE_NF_T;
        }
        if (mask) return mask;
    }
    auto unit = [&](int64_t it) -> uint32_t {
        const int64_t b = it / chunks, e0 = (it % chunks) * kChunk;
        const int64_t n = e0 + kChunk <= p.row_len ? kChunk : p.row_len - e0;
        const int64_t base = b * p.row_len + e0;
        float* z = scratch((size_t)kChunk);
        fill_noise(p.seed, p.row_ids ? (uint64_t)p.row_ids[b] : p.row_offset + (uint64_t)b, p.stream, e0, n, z);
        T* out = (T*)p.out + base;
        if (!p.x0) {
#pragma omp simd
            for (int64_t i = 0; i < n; ++i) out[i] = from_float<T>(z[i]);
            return 0u;
        }
        const T* x0 = (const T*)p.x0 + base;
        T* eps = p.eps_out ? (T*)p.eps_out + base : nullptr;
        const float t = p.t[b], s = 1.0f - t;
        int bad = 0;
#pragma omp simd reduction(| : bad)
        for (int64_t i = 0; i < n; ++i) {
            float x = to_float(x0[i]);
            bad |= !is_finite(x);
            out[i] = from_float<T>(s * x + t * z[i]);
        }
        if (eps) {
#pragma omp simd
            for (int64_t i = 0; i < n; ++i) eps[i] = from_float<T>(z[i]);
        }
        return bad ? (uint32_t)EDITR1_NOISE_NF_X0 : 0u;
    };
    return parallel_units(items, unit);
}

/* ---------------------------------------------------------------------------------------- */
/* DiffusionNFT loss                                                                        */
/* ---------------------------------------------------------------------------------------- */

struct NftPointers {
    const void *x0, *target, *vth, *vold, *vref;
};

/* Pass 1 over one item, one loop: the row's five f64 sums; the velocity form also writes its
   gradient here. The form (VEL), the target kind (XT), v_ref (REF) and the gradient (GRAD) are
   template flags so the loop is straight-line code that vectorizes: with q's flags read at run
   time GCC kept the branches inside and the loop stayed scalar. */
template <typename T, bool VEL, bool XT, bool REF, bool GRAD>
uint32_t nft_pass1_t(const editr1_nft_loss_params& p, const NftRow& row, int64_t base, int64_t n, double* sums,
                     float gpos, float gneg, float gkl) {
    const NftRow q{row.t, row.r, row.beta, XT, VEL};
    const T* x0 = (const T*)p.x0 + base;
    const T* tg = (const T*)p.target + base;
    const T* vth = (const T*)p.v_theta + base;
    const T* vold = (const T*)p.v_old + base;
    const T* vref = REF ? (const T*)p.v_ref + base : nullptr;
    T* grad = GRAD ? (T*)p.grad + base : nullptr;
    // Non-finite inputs as float sums of v − v (0 when all finite, NaN otherwise), and the five
    // sums in f32 over pieces of kSumPiece elements added in f64: with f64 sums and int flags in
    // one loop GCC could not vectorize it (its simd arrays need one lane count: 8 floats, 4
    // doubles); a 256-term f32 sum keeps ~1e-6 relative, the f64 total keeps long rows exact.
    // A piece can overflow f32 only for errors past ~1e18 (one f32 square already overflows past
    // 1.8e19, as it did when each square was added in f64).
    float nf0 = 0.0f, nf1 = 0.0f, nf2 = 0.0f, nf3 = 0.0f, nf4 = 0.0f;
    double ap = 0, an = 0, sp = 0, sn = 0, sk = 0;
    for (int64_t p0 = 0; p0 < n; p0 += kSumPiece) {
        const int64_t p1 = p0 + kSumPiece < n ? p0 + kSumPiece : n;
        float fap = 0.0f, fan = 0.0f, fsp = 0.0f, fsn = 0.0f, fsk = 0.0f;
#pragma omp simd reduction(+ : nf0, nf1, nf2, nf3, nf4, fap, fan, fsp, fsn, fsk)
        for (int64_t i = p0; i < p1; ++i) {
            float a = to_float(x0[i]), g = to_float(tg[i]), th = to_float(vth[i]), o = to_float(vold[i]);
            nf0 += a - a;
            nf1 += g - g;
            nf2 += th - th;
            nf3 += o - o;
            float dp, dn;
            nft_errors(q, a, g, th, o, dp, dn);
            float dk = 0.0f;
            if (REF) {
                float rf = to_float(vref[i]);
                nf4 += rf - rf;
                dk = th - rf;
                fsk += dk * dk;
            }
            fap += fabsf(dp);
            fan += fabsf(dn);
            fsp += dp * dp;
            fsn += dn * dn;
            if (GRAD) grad[i] = from_float<T>(gpos * dp + gneg * dn + gkl * dk);
        }
        ap += (double)fap;
        an += (double)fan;
        sp += (double)fsp;
        sn += (double)fsn;
        sk += (double)fsk;
    }
    const bool b0 = nf0 != 0.0f, b1 = nf1 != 0.0f, b2 = nf2 != 0.0f, b3 = nf3 != 0.0f, b4 = nf4 != 0.0f;
    sums[NFT_ABS_POS] = ap;
    sums[NFT_ABS_NEG] = an;
    sums[NFT_SQ_POS] = sp;
    sums[NFT_SQ_NEG] = sn;
    sums[NFT_SQ_KL] = sk;
    return (b0 ? EDITR1_NFT_NF_X0 : 0u) | (b1 ? EDITR1_NFT_NF_TARGET : 0u) | (b2 ? EDITR1_NFT_NF_V_THETA : 0u) |
           (b3 ? EDITR1_NFT_NF_V_OLD : 0u) | (b4 ? EDITR1_NFT_NF_V_REF : 0u);
}

template <typename T, bool VEL, bool XT>
uint32_t nft_pass1_flags(const editr1_nft_loss_params& p, const NftRow& q, int64_t base, int64_t n, double* sums,
                         float gpos, float gneg, float gkl) {
    const bool ref = p.v_ref != nullptr, grad = VEL && p.grad;  // the x0 form's gradient is pass 2's
    if (ref) return grad ? nft_pass1_t<T, VEL, XT, true, VEL>(p, q, base, n, sums, gpos, gneg, gkl)
                         : nft_pass1_t<T, VEL, XT, true, false>(p, q, base, n, sums, gpos, gneg, gkl);
    return grad ? nft_pass1_t<T, VEL, XT, false, VEL>(p, q, base, n, sums, gpos, gneg, gkl)
                : nft_pass1_t<T, VEL, XT, false, false>(p, q, base, n, sums, gpos, gneg, gkl);
}

template <typename T>
uint32_t nft_pass1(const editr1_nft_loss_params& p, const NftRow& q, int64_t base, int64_t n, double* sums,
                   float gpos, float gneg, float gkl) {
    if (q.velocity) return q.xt ? nft_pass1_flags<T, true, true>(p, q, base, n, sums, gpos, gneg, gkl)
                                : nft_pass1_flags<T, true, false>(p, q, base, n, sums, gpos, gneg, gkl);
    return q.xt ? nft_pass1_flags<T, false, true>(p, q, base, n, sums, gpos, gneg, gkl)
                : nft_pass1_flags<T, false, false>(p, q, base, n, sums, gpos, gneg, gkl);
}

/* Pass 2 (x0 form): the element-wise gradient with the row's weights fixed. */
template <typename T, bool XT, bool REF>
void nft_pass2_t(const editr1_nft_loss_params& p, const NftRow& row, int64_t base, int64_t n, float gpos, float gneg,
                 float gkl) {
    const NftRow q{row.t, row.r, row.beta, XT, false};
    const T* x0 = (const T*)p.x0 + base;
    const T* tg = (const T*)p.target + base;
    const T* vth = (const T*)p.v_theta + base;
    const T* vold = (const T*)p.v_old + base;
    const T* vref = REF ? (const T*)p.v_ref + base : nullptr;
    T* grad = (T*)p.grad + base;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        float th = to_float(vth[i]);
        float dp, dn;
        nft_errors(q, to_float(x0[i]), to_float(tg[i]), th, to_float(vold[i]), dp, dn);
        float dk = REF ? th - to_float(vref[i]) : 0.0f;
        grad[i] = from_float<T>(gpos * dp + gneg * dn + gkl * dk);
    }
}

template <typename T>
void nft_pass2(const editr1_nft_loss_params& p, const NftRow& q, int64_t base, int64_t n, float gpos, float gneg,
               float gkl) {
    if (p.v_ref) q.xt ? nft_pass2_t<T, true, true>(p, q, base, n, gpos, gneg, gkl)
                      : nft_pass2_t<T, false, true>(p, q, base, n, gpos, gneg, gkl);
    else q.xt ? nft_pass2_t<T, true, false>(p, q, base, n, gpos, gneg, gkl)
              : nft_pass2_t<T, false, false>(p, q, base, n, gpos, gneg, gkl);
}

template <typename T>
uint32_t nft_loss_t(const editr1_nft_loss_params& p) {
    const bool velocity = p.form == EDITR1_NFT_VELOCITY;
    uint32_t mask = 0;
    double sum_valid = 0.0;
    for (int64_t b = 0; b < p.rows; ++b) {
        float t = p.t[b], r = p.r[b], v = p.valid[b];
        if (!(t >= 0.0f && t <= 1.0f) || (velocity && p.target_is_xt && t == 0.0f)) mask |= EDITR1_NFT_NF_T;
        if (!(r >= 0.0f && r <= 1.0f)) mask |= EDITR1_NFT_NF_R;
        if (!(v == 0.0f || v == 1.0f)) mask |= EDITR1_NFT_NF_VALID;
        sum_valid += (double)v;
    }
    if (mask) return mask;

    const int64_t chunks = ceil_div(p.row_len, kChunk);
    const int64_t items = p.rows * chunks;
    std::vector<double> sums((size_t)items * NFT_NSUMS);
    std::vector<NftRowOut> rows((size_t)p.rows);
    auto row_sums = [&](int64_t b, double* s) {
        for (int j = 0; j < NFT_NSUMS; ++j) s[j] = 0.0;
        for (int64_t c = 0; c < chunks; ++c)
            for (int j = 0; j < NFT_NSUMS; ++j) s[j] += sums[(size_t)(b * chunks + c) * NFT_NSUMS + j];
    };
    auto item_range = [&](int64_t it, int64_t& b, int64_t& e0, int64_t& n) {
        b = it / chunks;
        e0 = (it % chunks) * kChunk;
        n = e0 + kChunk <= p.row_len ? kChunk : p.row_len - e0;
    };
    // the velocity form's gradient coefficients do not depend on the sums: known before pass 1
    if (velocity) {
        double zero[NFT_NSUMS] = {0, 0, 0, 0, 0};
        for (int64_t b = 0; b < p.rows; ++b)
            rows[(size_t)b] = nft_row_finish(zero, p.row_len, p.t[b], p.r[b], p.valid[b], sum_valid, p.beta, p.c,
                                             p.lambda, p.floor, true, p.v_ref != nullptr);
    }
    // The x0 form's gradient needs its row's sums, hence a second pass over the inputs. Rows are
    // taken in blocks of about kNftBlockItems items per thread (0.5 MB of f32 inputs each), and a
    // block's pass 2 follows its pass 1 with the same unit→thread shares (cpu_pool.cpp), so on a
    // quiet machine pass 2 reads what this core read a moment ago from its own cache.
    const bool two_pass = !velocity && p.grad;
    const int64_t block_rows = two_pass ? std::max<int64_t>(1, ceil_div(kNftBlockItems * cpu_threads(), chunks)) : p.rows;
    for (int64_t r0 = 0; r0 < p.rows; r0 += block_rows) {
        const int64_t r1 = std::min(p.rows, r0 + block_rows), first = r0 * chunks;
        auto pass1 = [&](int64_t u) -> uint32_t {
            int64_t b, e0, n;
            const int64_t it = first + u;
            item_range(it, b, e0, n);
            const NftRow q{p.t[b], p.r[b], (float)p.beta, p.target_is_xt != 0, velocity};
            const NftRowOut& ro = rows[(size_t)b];
            return nft_pass1<T>(p, q, b * p.row_len + e0, n, &sums[(size_t)it * NFT_NSUMS], ro.g_pos, ro.g_neg, ro.g_kl);
        };
        mask |= parallel_units((r1 - r0) * chunks, pass1);
        if (!two_pass) continue;
        for (int64_t b = r0; b < r1; ++b) {
            double s[NFT_NSUMS];
            row_sums(b, s);
            rows[(size_t)b] = nft_row_finish(s, p.row_len, p.t[b], p.r[b], p.valid[b], sum_valid, p.beta, p.c,
                                             p.lambda, p.floor, false, p.v_ref != nullptr);
        }
        // (a non-finite input makes this pass write non-finite gradients; the call then fails)
        auto pass2 = [&](int64_t u) -> uint32_t {
            int64_t b, e0, n;
            item_range(first + u, b, e0, n);
            const NftRow q{p.t[b], p.r[b], (float)p.beta, p.target_is_xt != 0, false};
            const NftRowOut& ro = rows[(size_t)b];
            nft_pass2<T>(p, q, b * p.row_len + e0, n, ro.g_pos, ro.g_neg, ro.g_kl);
            return 0u;
        };
        parallel_units((r1 - r0) * chunks, pass2);
    }
    if (mask) return mask;

    double loss_ell = 0.0, loss_kl = 0.0;
    for (int64_t b = 0; b < p.rows; ++b) {
        double s[NFT_NSUMS];
        row_sums(b, s);
        NftRowOut ro = nft_row_finish(s, p.row_len, p.t[b], p.r[b], p.valid[b], sum_valid, p.beta, p.c, p.lambda,
                                      p.floor, velocity, p.v_ref != nullptr);
        if (p.ell) p.ell[b] = (float)ro.ell;
        if (p.kl) p.kl[b] = (float)ro.kl;
        loss_ell += (double)p.valid[b] * ro.ell;
        loss_kl += (double)p.valid[b] * ro.kl;
    }
    *p.loss = sum_valid > 0.0 ? (float)((loss_ell + p.lambda * loss_kl) / sum_valid) : 0.0f;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Flow-GRPO loss                                                                           */
/* ---------------------------------------------------------------------------------------- */

/* Pass 1 over one item: the row's two f64 sums Σ(x' − μ_θ)² and Σ(v_θ − v_ref)², and the input
   flags. v_ref (REF) is a template flag so the loop is straight-line code that vectorizes; the
   sums are f32 over kSumPiece elements added in f64, and the flags float sums of v − v, as in
   the NFT loss (same reasons). */
template <typename T, bool REF>
uint32_t grpo_pass1_t(const editr1_grpo_loss_params& p, const GrpoStep& step, int64_t base, int64_t n, double* sums) {
    const GrpoStep k = step;
    const T* x = (const T*)p.x + base;
    const T* xn = (const T*)p.x_next + base;
    const T* vth = (const T*)p.v_theta + base;
    const T* vref = REF ? (const T*)p.v_ref + base : nullptr;
    float nf0 = 0.0f, nf1 = 0.0f, nf2 = 0.0f, nf3 = 0.0f;
    double slp = 0.0, skl = 0.0;
    for (int64_t p0 = 0; p0 < n; p0 += kSumPiece) {
        const int64_t p1 = p0 + kSumPiece < n ? p0 + kSumPiece : n;
        float flp = 0.0f, fkl = 0.0f;
#pragma omp simd reduction(+ : nf0, nf1, nf2, nf3, flp, fkl)
        for (int64_t i = p0; i < p1; ++i) {
            float a = to_float(x[i]), b = to_float(xn[i]), th = to_float(vth[i]);
            nf0 += a - a;
            nf1 += b - b;
            nf2 += th - th;
            float d = grpo_residual(k, a, b, th);
            flp += d * d;
            if (REF) {
                float rf = to_float(vref[i]);
                nf3 += rf - rf;
                float dk = th - rf;
                fkl += dk * dk;
            }
        }
        slp += (double)flp;
        skl += (double)fkl;
    }
    sums[GRPO_SQ_LP] = slp;
    sums[GRPO_SQ_KL] = skl;
    return (nf0 != 0.0f ? EDITR1_GRPO_NF_X : 0u) | (nf1 != 0.0f ? EDITR1_GRPO_NF_X_NEXT : 0u) |
           (nf2 != 0.0f ? EDITR1_GRPO_NF_V_THETA : 0u) | (nf3 != 0.0f ? EDITR1_GRPO_NF_V_REF : 0u);
}

/* Pass 2: the element-wise gradient with the row's coefficients fixed; flags a gradient the dtype
   cannot hold (f32: a non-finite one; bf16/f16: past the largest finite value). */
template <typename T, bool REF>
uint32_t grpo_pass2_t(const editr1_grpo_loss_params& p, const GrpoStep& step, int64_t base, int64_t n, float glp,
                      float gkl) {
    // a local copy: through the reference GCC reloads the coefficients after every store to grad,
    // which might alias them
    const GrpoStep k = step;
    const T* x = (const T*)p.x + base;
    const T* xn = (const T*)p.x_next + base;
    const T* vth = (const T*)p.v_theta + base;
    const T* vref = REF ? (const T*)p.v_ref + base : nullptr;
    T* grad = (T*)p.grad + base;
    float nf_out = 0.0f;
    int bad_out = 0;
#pragma omp simd reduction(+ : nf_out) reduction(| : bad_out)
    for (int64_t i = 0; i < n; ++i) {
        float th = to_float(vth[i]);
        float g = glp * grpo_residual(k, to_float(x[i]), to_float(xn[i]), th);
        if (REF) g += gkl * (th - to_float(vref[i]));
        if (std::is_same<T, float>::value) nf_out += g - g;
        else bad_out |= !fits_in<T>(g);
        grad[i] = from_float<T>(g);
    }
    return (bad_out || nf_out != 0.0f) ? EDITR1_GRPO_NF_OUTPUT : 0u;
}

template <typename T>
uint32_t grpo_loss_t(const editr1_grpo_loss_params& p) {
    uint32_t mask = 0;
    double sum_valid = 0.0;
    for (int64_t b = 0; b < p.rows; ++b) {
        float a = p.advantage[b], lo = p.log_prob_old[b], v = p.valid[b];
        if (!is_finite(a)) mask |= EDITR1_GRPO_NF_ADVANTAGE;
        if (!is_finite(lo)) mask |= EDITR1_GRPO_NF_LOG_PROB_OLD;
        if (!(v == 0.0f || v == 1.0f)) mask |= EDITR1_GRPO_NF_VALID;
        sum_valid += (double)v;
    }
    if (mask) return mask;

    const bool ref = p.v_ref != nullptr;
    const GrpoStep step{(float)(p.c_x - 1.0), (float)p.c_v};
    const int64_t chunks = ceil_div(p.row_len, kChunk);
    std::vector<double> sums((size_t)(p.rows * chunks) * GRPO_NSUMS);
    std::vector<GrpoRowOut> rows((size_t)p.rows);
    auto finish = [&](int64_t b) {
        double s[GRPO_NSUMS] = {0.0, 0.0};
        for (int64_t c = 0; c < chunks; ++c)
            for (int j = 0; j < GRPO_NSUMS; ++j) s[j] += sums[(size_t)(b * chunks + c) * GRPO_NSUMS + j];
        return grpo_row_finish(s, p.row_len, p.advantage[b], p.log_prob_old[b], p.valid[b], sum_valid, p.c_v,
                               p.std_log_prob, p.std_kl, p.clip_range, p.kl_weight, ref);
    };
    auto item_range = [&](int64_t it, int64_t& b, int64_t& e0, int64_t& n) {
        b = it / chunks;
        e0 = (it % chunks) * kChunk;
        n = e0 + kChunk <= p.row_len ? kChunk : p.row_len - e0;
    };
    // As in the NFT loss: rows in blocks of about kNftBlockItems items per thread, a block's pass 2
    // right after its pass 1 with the same static item→thread mapping, so pass 2 re-reads the
    // inputs from this core's cache.
    const bool want_grad = p.grad != nullptr;
    const int64_t block_rows = want_grad ? std::max<int64_t>(1, ceil_div(kNftBlockItems * cpu_threads(), chunks)) : p.rows;
    for (int64_t r0 = 0; r0 < p.rows; r0 += block_rows) {
        const int64_t r1 = std::min(p.rows, r0 + block_rows), first = r0 * chunks;
        auto pass1 = [&](int64_t u) -> uint32_t {
            int64_t b, e0, n;
            const int64_t it = first + u;
            item_range(it, b, e0, n);
            const int64_t base = b * p.row_len + e0;
            double* s = &sums[(size_t)it * GRPO_NSUMS];
            return ref ? grpo_pass1_t<T, true>(p, step, base, n, s) : grpo_pass1_t<T, false>(p, step, base, n, s);
        };
        mask |= parallel_units((r1 - r0) * chunks, pass1);
        if (!want_grad) continue;
        // (pass 1 of the block has returned: its sums are complete)
        for (int64_t b = r0; b < r1; ++b) rows[(size_t)b] = finish(b);
        // (a non-finite input makes this pass write non-finite gradients; the call then fails)
        auto pass2 = [&](int64_t u) -> uint32_t {
            int64_t b, e0, n;
            item_range(first + u, b, e0, n);
            const GrpoRowOut& ro = rows[(size_t)b];
            const int64_t base = b * p.row_len + e0;
            return ref ? grpo_pass2_t<T, true>(p, step, base, n, ro.g_lp, ro.g_kl)
                       : grpo_pass2_t<T, false>(p, step, base, n, ro.g_lp, ro.g_kl);
        };
        mask |= parallel_units((r1 - r0) * chunks, pass2);
    }
    if (mask & ~EDITR1_GRPO_NF_OUTPUT) return mask;

    // per-sample outputs and the batch loss, rows in order (a masked row adds nothing, even an
    // overflowed one: 0·∞ would be NaN)
    double total = 0.0;
    for (int64_t b = 0; b < p.rows; ++b) {
        const GrpoRowOut ro = want_grad ? rows[(size_t)b] : finish(b);
        if (!ro.finite) mask |= EDITR1_GRPO_NF_OUTPUT;
        if (p.log_prob) p.log_prob[b] = (float)ro.log_prob;
        if (p.ratio) p.ratio[b] = (float)ro.ratio;
        if (p.ell) p.ell[b] = (float)ro.ell;
        if (p.kl) p.kl[b] = (float)ro.kl;
        if (p.valid[b] != 0.0f) total += ro.ell + p.kl_weight * ro.kl;
    }
    const float loss = sum_valid > 0.0 ? (float)(total / sum_valid) : 0.0f;
    if (!is_finite(loss)) mask |= EDITR1_GRPO_NF_OUTPUT;
    *p.loss = loss;
    return mask;
}

/* ---------------------------------------------------------------------------------------- */
/* Logit score                                                                              */
/* ---------------------------------------------------------------------------------------- */

constexpr int64_t kScoreSplit = 16384;  // 64 KB of f32: the second pass over a split hits L1/L2

/* (max, Σ exp(x − max)) of one split, two passes over cache-resident data; flags NaN/+Inf. */
template <typename T>
SoftmaxAcc score_split(const T* x, int64_t n, int& bad) {
    float m = -INFINITY;
    int b = 0;
#pragma omp simd reduction(max : m) reduction(| : b)
    for (int64_t i = 0; i < n; ++i) {
        float v = to_float(x[i]);
        b |= (v != v) | (v == INFINITY);
        m = v > m ? v : m;
    }
    bad |= b;
    SoftmaxAcc acc{m, 0.0f};
    if (m == -INFINITY || b) return acc;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) {
        s += exp_nonpos(to_float(x[i]) - m);  // −∞ − m < −87: exp_nonpos gives 0
    }
    acc.s = s;
    return acc;
}

template <typename T>
uint32_t logit_score_t(const editr1_logit_score_params& p) {
    const int64_t splits = ceil_div(p.vocab, kScoreSplit);
    const int64_t items = p.rows * splits;
    std::vector<SoftmaxAcc> part((size_t)items);
    auto unit = [&](int64_t it) -> uint32_t {
        const int64_t b = it / splits, v0 = (it % splits) * kScoreSplit;
        const int64_t n = v0 + kScoreSplit <= p.vocab ? kScoreSplit : p.vocab - v0;
        int bad = 0;
        part[(size_t)it] = score_split<T>((const T*)p.logits + b * p.row_stride + v0, n, bad);
        return bad ? (uint32_t)EDITR1_SCORE_NF_LOGITS : 0u;
    };
    if (parallel_units(items, unit)) return EDITR1_SCORE_NF_LOGITS;
    const int K = p.num_tokens;
    for (int64_t b = 0; b < p.rows; ++b) {
        SoftmaxAcc all{-INFINITY, 0.0f};
        for (int64_t s = 0; s < splits; ++s) all = softmax_merge(all, part[(size_t)(b * splits + s)]);
        float kl[EDITR1_MAX_SCORE_TOKENS];
        const T* row = (const T*)p.logits + b * p.row_stride;
        for (int k = 0; k < K; ++k) kl[k] = to_float(row[p.token_ids[k]]);
        score_row_finish(all, kl, p.values, K, p.mode, p.score ? p.score + b : nullptr,
                         p.probs ? p.probs + b * K : nullptr, p.mass ? p.mass + b : nullptr);
    }
    return 0;
}

}  // namespace

/* Entry points for cpu_dispatch.cpp: arguments already validated; return the non-finite mask. */
uint32_t flow_step(const editr1_flow_step_params& p) {
    switch (p.dtype) {
        case EDITR1_BF16: return flow_step_t<bf16>(p);
        case EDITR1_F16: return flow_step_t<f16>(p);
        default: return flow_step_t<float>(p);
    }
}
uint32_t noise(const editr1_noise_params& p) {
    switch (p.dtype) {
        case EDITR1_BF16: return noise_t<bf16>(p);
        case EDITR1_F16: return noise_t<f16>(p);
        default: return noise_t<float>(p);
    }
}

/* All nb blocks (editr1_box_muller_blocks, for the tests): this build's registers, then its generic loop. */
void box_muller_blocks(int64_t nb, const uint32_t* W0, const uint32_t* W1, const uint32_t* W2, const uint32_t* W3,
                       float* dst) {
    int64_t done = 0;
#if defined(__AVX2__)
    done = simd::box_muller_blocks_simd<simd::Avx2>(nb, W0, W1, W2, W3, dst);
#endif
    box_muller_blocks_generic(done, nb, W0, W1, W2, W3, dst);
}

uint32_t nft_loss(const editr1_nft_loss_params& p) {
    switch (p.dtype) {
        case EDITR1_BF16: return nft_loss_t<bf16>(p);
        case EDITR1_F16: return nft_loss_t<f16>(p);
        default: return nft_loss_t<float>(p);
    }
}
uint32_t grpo_loss(const editr1_grpo_loss_params& p) {
    switch (p.dtype) {
        case EDITR1_BF16: return grpo_loss_t<bf16>(p);
        case EDITR1_F16: return grpo_loss_t<f16>(p);
        default: return grpo_loss_t<float>(p);
    }
}
uint32_t logit_score(const editr1_logit_score_params& p) {
    switch (p.dtype) {
        case EDITR1_BF16: return logit_score_t<bf16>(p);
        case EDITR1_F16: return logit_score_t<f16>(p);
        default: return logit_score_t<float>(p);
    }
}

}  // namespace EDITR1_CPU_NS
}  // namespace editr1
