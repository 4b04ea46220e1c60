/*
 * kernel_math.h — the per-element math of editr1's kernels, one source for both backends.
 *
 * Everything here is EDITR1_HD (__host__ __device__ under nvcc): the CPU launchers
 * (cpu_kernels.cpp) and the CUDA kernels (cuda_kernels.cu) call the same functions, so the two
 * paths differ only in how elements are distributed and how partial sums are combined.
 *
 * Bit-identity of the noise: Philox is integer arithmetic; Box–Muller uses editr1's own log,
 * sin and cos built from IEEE-correctly-rounded +, −, ×, ÷ and sqrt only. On the device the
 * E1_ADD/E1_MUL macros are the _rn intrinsics, which nvcc never contracts into FMA; on the host
 * the CPU sources are compiled with -ffp-contract=off. Nothing else in this file needs to match
 * bit for bit.
 */
#ifndef EDITR1_KERNEL_MATH_H
#define EDITR1_KERNEL_MATH_H

#include <stdint.h>
#include <string.h>
#include <math.h>

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define EDITR1_HD __host__ __device__ __forceinline__
#else
#define EDITR1_HD inline
#endif

namespace editr1 {

/* ---------------------------------------------------------------------------------------- */
/* Storage types and conversions                                                            */
/* ---------------------------------------------------------------------------------------- */

struct bf16 { uint16_t bits; };
struct f16 { uint16_t bits; };

EDITR1_HD float bits_to_float(uint32_t u) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float f; memcpy(&f, &u, 4); return f;
#endif
}
EDITR1_HD uint32_t float_to_bits(float f) {
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    uint32_t u; memcpy(&u, &f, 4); return u;
#endif
}

EDITR1_HD float to_float(float v) { return v; }
EDITR1_HD float to_float(bf16 v) { return bits_to_float((uint32_t)v.bits << 16); }
EDITR1_HD float to_float(f16 v) {
#ifdef __CUDA_ARCH__
    return __half2float(__ushort_as_half(v.bits));
#else
    // IEEE binary16 → binary32, exact (subnormals normalized by hand).
    uint32_t h = v.bits, sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
    uint32_t out;
    if (exp == 0x1f) {
        out = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        out = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        out = sign;
    } else {
        int e = -1;
        do { man <<= 1; ++e; } while ((man & 0x400u) == 0);
        out = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    return bits_to_float(out);
#endif
}

template <typename T> EDITR1_HD T from_float(float f);
template <> EDITR1_HD float from_float<float>(float f) { return f; }
/* round to nearest even; NaN stays a quiet NaN */
template <> EDITR1_HD bf16 from_float<bf16>(float f) {
    uint32_t u = float_to_bits(f);
    bf16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) { r.bits = (uint16_t)((u >> 16) | 0x40u); return r; }
    u += 0x7fffu + ((u >> 16) & 1u);
    r.bits = (uint16_t)(u >> 16);
    return r;
}
template <> EDITR1_HD f16 from_float<f16>(float f) {
    f16 r;
#ifdef __CUDA_ARCH__
    r.bits = __half_as_ushort(__float2half_rn(f));
#else
    // binary32 → binary16, round to nearest even (the same result cvt.rn.f16.f32 gives).
    uint32_t u = float_to_bits(f), sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) { r.bits = (uint16_t)(sign | 0x7e00u); return r; }      // NaN
    if (a >= 0x477ff000u) { r.bits = (uint16_t)(sign | 0x7c00u); return r; }     // overflow → Inf
    if (a < 0x38800000u) {                                                      // subnormal or 0
        if (a < 0x33000000u) { r.bits = (uint16_t)sign; return r; }              // < half the smallest
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e;                                              // 14..24
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u))) ++q;
        r.bits = (uint16_t)(sign | q);
        return r;
    }
    uint32_t q = ((a - 0x38000000u) >> 13);                                      // rebias 127 → 15
    uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) ++q;
    r.bits = (uint16_t)(sign | q);
#endif
    return r;
}

/* f is finite (neither NaN nor ±Inf), written so that it vectorizes on the CPU */
EDITR1_HD bool is_finite(float f) { return (float_to_bits(f) & 0x7f800000u) != 0x7f800000u; }

/* f stays finite when stored as T (round to nearest even): one compare instead of a round trip.
   bf16: |f| below the midpoint between its largest finite value and 2^128 (0x7F7F8000);
   f16: |f| < 65520, the midpoint between 65504 and 65536. NaN compares false. */
template <typename T> EDITR1_HD bool fits_in(float f);
template <> EDITR1_HD bool fits_in<float>(float f) { return is_finite(f); }
template <> EDITR1_HD bool fits_in<bf16>(float f) { return fabsf(f) < 3.3961775292304957e38f; }
template <> EDITR1_HD bool fits_in<f16>(float f) { return fabsf(f) < 65520.0f; }

/* ---------------------------------------------------------------------------------------- */
/* Philox-4x32-10 (Salmon et al., Random123) and Box–Muller                                  */
/* ---------------------------------------------------------------------------------------- */

struct u32x4 { uint32_t v[4]; };

EDITR1_HD void mulhilo32(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    hi = (uint32_t)(p >> 32);
    lo = (uint32_t)p;
}

/* Scalar locals rather than arrays, so both compilers keep the state in registers (and GCC can
   vectorize a loop of independent blocks). */
EDITR1_HD u32x4 philox4x32_10(u32x4 c, uint32_t k0, uint32_t k1) {
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    uint32_t c0 = c.v[0], c1 = c.v[1], c2 = c.v[2], c3 = c.v[3];
#ifdef __CUDA_ARCH__
#pragma unroll
#else
#pragma GCC unroll 10
#endif
    for (int round = 0; round < 10; ++round) {
        if (round > 0) { k0 += W0; k1 += W1; }
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo32(M0, c0, hi0, lo0);
        mulhilo32(M1, c2, hi1, lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    u32x4 r;
    r.v[0] = c0;
    r.v[1] = c1;
    r.v[2] = c2;
    r.v[3] = c3;
    return r;
}

#ifdef __CUDA_ARCH__
#define E1_ADD(a, b) __fadd_rn((a), (b))
#define E1_SUB(a, b) __fsub_rn((a), (b))
#define E1_MUL(a, b) __fmul_rn((a), (b))
#define E1_DIV(a, b) __fdiv_rn((a), (b))
#define E1_SQRT(a) __fsqrt_rn(a)
#else
#define E1_ADD(a, b) ((a) + (b))
#define E1_SUB(a, b) ((a) - (b))
#define E1_MUL(a, b) ((a) * (b))
#define E1_DIV(a, b) ((a) / (b))
#define E1_SQRT(a) sqrtf(a)
#endif

/* ln(u) for u in (0, 1], from musl's logf (Sun's polynomial), in plain IEEE operations. */
EDITR1_HD float portable_logf(float x) {
    const float ln2_hi = 6.9313812256e-01f, ln2_lo = 9.0580006145e-06f;
    const float Lg1 = 0.66666662693f, Lg2 = 0.40000972152f, Lg3 = 0.28498786688f, Lg4 = 0.24279078841f;
    uint32_t ix = float_to_bits(x);
    int k = (int)(ix >> 23) - 127;              // inputs are normal: u >= 2^-24
    ix = (ix & 0x007fffffu) + 0x3f800000u;      // mantissa in [1, 2)
    // reduce to [sqrt(2)/2, sqrt(2)): 0x3f3504f3 is sqrt(2)/2
    if (ix > 0x3fb504f3u) { ix -= 0x00800000u; k += 1; }
    float f = E1_SUB(bits_to_float(ix), 1.0f);
    float dk = (float)k;
    float s = E1_DIV(f, E1_ADD(2.0f, f));
    float z = E1_MUL(s, s);
    float w = E1_MUL(z, z);
    float t1 = E1_MUL(w, E1_ADD(Lg2, E1_MUL(w, Lg4)));
    float t2 = E1_MUL(z, E1_ADD(Lg1, E1_MUL(w, Lg3)));
    float R = E1_ADD(t2, t1);
    float hfsq = E1_MUL(E1_MUL(0.5f, f), f);
    float a = E1_MUL(s, E1_ADD(hfsq, R));
    a = E1_ADD(a, E1_MUL(dk, ln2_lo));
    a = E1_SUB(a, hfsq);
    a = E1_ADD(a, f);
    return E1_ADD(a, E1_MUL(dk, ln2_hi));
}

/* sin and cos of 2π·u for u in [0, 1): quadrant from round(4u) (exact), then cephes' minimax
   polynomials on [−π/4, π/4]. */
EDITR1_HD void portable_sincos_2pi(float u, float& s_out, float& c_out) {
    float u4 = E1_MUL(u, 4.0f);                 // exact
    float kf = (float)(int)E1_ADD(u4, 0.5f);    // nearest quadrant, 0..4 (positive: truncation is floor)
    float y = E1_SUB(u4, kf);                   // exact, in [−0.5, 0.5]
    float a = E1_MUL(y, 1.57079632679489662f);  // angle in [−π/4, π/4]
    float z = E1_MUL(a, a);
    // sin a = a + a·z·((−1.9515295891e-4·z + 8.3321608736e-3)·z − 1.6666654611e-1)
    float p1 = E1_ADD(E1_MUL(-1.9515295891e-4f, z), 8.3321608736e-3f);
    float p2 = E1_SUB(E1_MUL(p1, z), 1.6666654611e-1f);
    float sp = E1_ADD(E1_MUL(E1_MUL(p2, z), a), a);
    // cos a = 1 − z/2 + z²·((2.443315711809948e-5·z − 1.388731625493765e-3)·z + 4.166664568298827e-2)
    float q1 = E1_SUB(E1_MUL(2.443315711809948e-5f, z), 1.388731625493765e-3f);
    float q2 = E1_ADD(E1_MUL(q1, z), 4.166664568298827e-2f);
    float cp = E1_ADD(E1_SUB(E1_MUL(E1_MUL(q2, z), z), E1_MUL(0.5f, z)), 1.0f);
    int k = ((int)kf) & 3;
    float s = sp, c = cp;
    if (k == 1) { s = cp; c = -sp; }
    else if (k == 2) { s = -sp; c = -cp; }
    else if (k == 3) { s = -cp; c = sp; }
    s_out = s;
    c_out = c;
}

/* Four normals, returned by value so the device keeps them in registers (no local array). */
struct f32x4 { float v[4]; };

/* One Box–Muller pair from two words: u0 = (top 23 bits + ½)·2^-23 ∈ [2^-24, 1 − 2^-24] (exact in
   f32, never 0 or 1), u1 = (top 24 bits)·2^-24 ∈ [0, 1) (exact). */
EDITR1_HD void box_muller2(uint32_t w0, uint32_t w1, float& z0, float& z1) {
    const float two_m23 = 1.1920928955078125e-07f;  // 2^-23
    const float two_m24 = 5.9604644775390625e-08f;  // 2^-24
    // (int32_t) first: the values fit, the conversion is exact either way, and signed int → float
    // vectorizes on AVX2 where unsigned does not
    float u0 = E1_MUL(E1_ADD((float)(int32_t)(w0 >> 9), 0.5f), two_m23);
    float u1 = E1_MUL((float)(int32_t)(w1 >> 8), two_m24);
    float r = E1_SQRT(E1_MUL(-2.0f, portable_logf(u0)));
    float s, c;
    portable_sincos_2pi(u1, s, c);
    z0 = E1_MUL(r, c);
    z1 = E1_MUL(r, s);
}

/* Four normals from one Philox block: pairs (b0, b1) and (b2, b3). */
EDITR1_HD f32x4 box_muller4(const u32x4& b) {
    float z0, z1, z2, z3;
    box_muller2(b.v[0], b.v[1], z0, z1);
    box_muller2(b.v[2], b.v[3], z2, z3);
    f32x4 out;
    out.v[0] = z0;
    out.v[1] = z1;
    out.v[2] = z2;
    out.v[3] = z3;
    return out;
}

/* The four normals of elements 4q .. 4q+3 of a row: Philox counter (q, row lo, row hi, stream),
   key = seed. This form takes the key and row as 32-bit words and q < 2^32, so a loop of blocks
   vectorizes; noise4 below is the general form. */
EDITR1_HD f32x4 noise4_low(uint32_t k0, uint32_t k1, uint32_t rowLo, uint32_t rowHi, uint32_t stream, uint32_t q) {
    u32x4 c;
    c.v[0] = q;
    c.v[1] = rowLo;
    c.v[2] = rowHi;
    c.v[3] = stream;
    return box_muller4(philox4x32_10(c, k0, k1));
}

/* Any q: rows longer than 2^34 elements fold q's high word into the stream word. */
EDITR1_HD f32x4 noise4(uint64_t seed, uint64_t row, uint32_t stream, uint64_t q) {
    return noise4_low((uint32_t)seed, (uint32_t)(seed >> 32), (uint32_t)row, (uint32_t)(row >> 32),
                      stream ^ ((uint32_t)(q >> 32) << 16), (uint32_t)q);
}

EDITR1_HD float noise_at(uint64_t seed, uint64_t row, uint32_t stream, uint64_t e) {
    f32x4 n = noise4(seed, row, stream, e >> 2);
    const unsigned lane = (unsigned)(e & 3);
    // selects, not an indexed load: keeps n in registers on the device
    return lane == 0 ? n.v[0] : lane == 1 ? n.v[1] : lane == 2 ? n.v[2] : n.v[3];
}

/* ---------------------------------------------------------------------------------------- */
/* Flow step                                                                                */
/* ---------------------------------------------------------------------------------------- */

struct FlowCoeffs {
    float guidance, sigma, c_x, c_v, c_x0, c_prev_x0, c_noise;
};

/* the guided velocity before any per-token rescale */
EDITR1_HD float guided_velocity(float vc, float vu, bool has_uncond, float w) {
    return has_uncond ? vu + w * (vc - vu) : vc;
}

/* μ (the deterministic part of x') and x̂0 from x, the final v and m1 (0 when absent) */
EDITR1_HD void flow_mean(const FlowCoeffs& k, float x, float v, float m1, float& mean, float& x0hat) {
    x0hat = x - k.sigma * v;
    mean = k.c_x * x + k.c_v * v + k.c_x0 * x0hat + k.c_prev_x0 * m1;
}

/* ---------------------------------------------------------------------------------------- */
/* DiffusionNFT loss                                                                        */
/* ---------------------------------------------------------------------------------------- */

/* Per-row sums accumulated in the first pass (f64 across elements). */
enum NftSum { NFT_ABS_POS = 0, NFT_ABS_NEG, NFT_SQ_POS, NFT_SQ_NEG, NFT_SQ_KL, NFT_NSUMS };

struct NftRow {
    float t, r, beta;
    bool xt;          /* target holds x_t */
    bool velocity;    /* velocity form */
};

/* The per-element quantities of SPEC §6: e± (x0 form) or v± − v* (velocity form). */
EDITR1_HD void nft_errors(const NftRow& q, float x0, float target, float vth, float vold,
                          float& d_pos, float& d_neg) {
    float vpos = q.beta * vth + (1.0f - q.beta) * vold;
    float vneg = (1.0f + q.beta) * vold - q.beta * vth;
    // v* = ε − x0, or (x_t − x0)/t when the target is x_t
    if (!q.velocity) {
        float xt = q.xt ? target : (1.0f - q.t) * x0 + q.t * target;
        d_pos = (xt - q.t * vpos) - x0;
        d_neg = (xt - q.t * vneg) - x0;
    } else {
        float vstar = q.xt ? (target - x0) / q.t : target - x0;
        d_pos = vpos - vstar;
        d_neg = vneg - vstar;
    }
}

/* Per-row results from the sums: ℓ, kl and the gradient's coefficients
   grad = g_pos·d_pos + g_neg·d_neg + g_kl·(v_θ − v_ref), all already scaled by valid/Σvalid. */
struct NftRowOut {
    double ell, kl;
    float g_pos, g_neg, g_kl;
};

EDITR1_HD NftRowOut nft_row_finish(const double* sums, int64_t D, double t, double r, double valid,
                                   double sum_valid, double beta, double c, double lambda,
                                   double floor_w, bool velocity, bool has_ref) {
    NftRowOut o;
    double inv_d = 1.0 / (double)D;
    double scale = sum_valid > 0.0 ? valid / sum_valid : 0.0;
    double lpos, lneg, gpos, gneg;
    if (!velocity) {
        double wpos = fmax(sums[NFT_ABS_POS] * inv_d, floor_w);
        double wneg = fmax(sums[NFT_ABS_NEG] * inv_d, floor_w);
        lpos = sums[NFT_SQ_POS] * inv_d / wpos;
        lneg = sums[NFT_SQ_NEG] * inv_d / wneg;
        // ∂ℓ/∂v_θ = (2·c·t/D)·((1 − r)·e⁻/w⁻ − r·e⁺/w⁺)
        gpos = -2.0 * c * t * inv_d * r / wpos;
        gneg = 2.0 * c * t * inv_d * (1.0 - r) / wneg;
    } else {
        lpos = sums[NFT_SQ_POS] * inv_d;
        lneg = sums[NFT_SQ_NEG] * inv_d;
        // ∂ℓ/∂v_θ = (2·c/D)·(r·(v⁺ − v*) − (1 − r)·(v⁻ − v*))
        gpos = 2.0 * c * inv_d * r;
        gneg = -2.0 * c * inv_d * (1.0 - r);
    }
    o.ell = c * (r * lpos + (1.0 - r) * lneg) / beta;
    o.kl = has_ref ? sums[NFT_SQ_KL] * inv_d : 0.0;
    o.g_pos = (float)(scale * gpos);
    o.g_neg = (float)(scale * gneg);
    o.g_kl = has_ref ? (float)(scale * lambda * 2.0 * inv_d) : 0.0f;
    return o;
}

/* ---------------------------------------------------------------------------------------- */
/* Flow-GRPO loss                                                                           */
/* ---------------------------------------------------------------------------------------- */

/* Per-row sums accumulated in the first pass (f64 across elements). */
enum GrpoSum { GRPO_SQ_LP = 0, GRPO_SQ_KL, GRPO_NSUMS };

/* The step's per-element coefficients in f32: c_x − 1 (taken from the host's f64 c_x, so the
   small part keeps its bits) and c_v. */
struct GrpoStep {
    float c_xm1, c_v;
};

/* x' − μ_θ with μ_θ = c_x·x + c_v·v, as (x' − x) − ((c_x − 1)·x + c_v·v): x' − x is exact when x'
   and x are within a factor 2 of each other (Sterbenz), and the second term is small, so the
   residual keeps its bits even when it is ~1e-3 of |x| (σ near 0), where forming μ_θ first
   would cancel away ~10 of f32's 24. */
EDITR1_HD float grpo_residual(const GrpoStep& k, float x, float x_next, float v) {
    return (x_next - x) - (k.c_xm1 * x + k.c_v * v);
}

/* Per-row results from the sums: logp_θ, ρ, ℓ and kl (f64), and the gradient's coefficients
   grad = g_lp·(x' − μ_θ) + g_kl·(v_θ − v_ref), both already scaled by valid/Σvalid. finite is
   false when any value written from this row (logp, ρ, ℓ, kl, the coefficients) is not a finite
   f32: ρ = exp(logp_θ − logp_old) overflows f32 past a log-ratio of ~88.7. */
struct GrpoRowOut {
    double log_prob, ratio, ell, kl;
    float g_lp, g_kl;
    bool finite;
};

EDITR1_HD GrpoRowOut grpo_row_finish(const double* sums, int64_t D, double adv, double log_prob_old,
                                     double valid, double sum_valid, double c_v, double std_lp, double std_kl,
                                     double clip_range, double kl_weight, bool has_ref) {
    GrpoRowOut o;
    const double inv_d = 1.0 / (double)D;
    const double var_lp = std_lp * std_lp;
    o.log_prob = -sums[GRPO_SQ_LP] * inv_d / (2.0 * var_lp) - log(std_lp) - 0.91893853320467274178;  // ½·log 2π
    o.ratio = exp(o.log_prob - log_prob_old);
    const double lo = 1.0 - clip_range, hi = 1.0 + clip_range;
    const double clipped = fmin(fmax(o.ratio, lo), hi);
    o.ell = fmax(-adv * o.ratio, -adv * clipped);
    // ∂ℓ/∂ρ: 0 where the clipped term is strictly the larger (ρ past the bound on the side the
    // sign of A makes binding), −A elsewhere. Ties (ρ inside [lo, hi], bounds included, or A = 0)
    // get −A, what torch.maximum's autograd gives: it sends half the gradient to each argument
    // at equality, and clamp's backward passes it on its closed range: ½·(−A) + ½·(−A)·1.
    const bool clipped_wins = (adv > 0.0 && o.ratio > hi) || (adv < 0.0 && o.ratio < lo);
    const double dl_drho = clipped_wins ? 0.0 : -adv;
    const double scale = sum_valid > 0.0 ? valid / sum_valid : 0.0;
    // a zero factor stays zero even when ρ overflowed (0·∞ would be NaN)
    const double glp = (scale == 0.0 || dl_drho == 0.0) ? 0.0 : scale * dl_drho * o.ratio * c_v * inv_d / var_lp;
    o.kl = has_ref ? c_v * c_v * sums[GRPO_SQ_KL] * inv_d / (2.0 * std_kl * std_kl) : 0.0;
    const double gkl = has_ref ? scale * kl_weight * c_v * c_v * inv_d / (std_kl * std_kl) : 0.0;
    o.g_lp = (float)glp;
    o.g_kl = (float)gkl;
    o.finite = is_finite((float)o.log_prob) && is_finite((float)o.ratio) && is_finite((float)o.ell) &&
               is_finite((float)o.kl) && is_finite(o.g_lp) && is_finite(o.g_kl);
    return o;
}

/* ---------------------------------------------------------------------------------------- */
/* Online softmax (logit score)                                                             */
/* ---------------------------------------------------------------------------------------- */

/* A running (max m, Σ exp(x − m)) pair; m = −∞ with s = 0 is the empty state. */
struct SoftmaxAcc { float m; float s; };

EDITR1_HD float exp_diff(float a, float m) {
    // exp(a − m) where a ≤ m; a = m = −∞ would give NaN, and contributes nothing
    return a == -INFINITY ? 0.0f : expf(a - m);
}

EDITR1_HD SoftmaxAcc softmax_merge(SoftmaxAcc a, SoftmaxAcc b) {
    float m = fmaxf(a.m, b.m);
    SoftmaxAcc r;
    r.m = m;
    r.s = (a.s == 0.0f ? 0.0f : a.s * exp_diff(a.m, m)) + (b.s == 0.0f ? 0.0f : b.s * exp_diff(b.m, m));
    return r;
}

/* Given the row's global (max, sum) and its K token logits, write score, probs and mass. */
EDITR1_HD void score_row_finish(SoftmaxAcc all, const float* klogit, const float* values, int K,
                                int mode, float* score, float* probs, float* mass) {
    float kmax = -INFINITY;
    int karg = 0;
    float vmax = values[0];
    for (int k = 0; k < K; ++k) {
        if (klogit[k] > kmax) { kmax = klogit[k]; karg = k; }   // strict: ties go to the lower k
        vmax = fmaxf(vmax, values[k]);
    }
    if (kmax == -INFINITY) {
        if (score) *score = NAN;
        if (mass) *mass = 0.0f;
        if (probs) for (int k = 0; k < K; ++k) probs[k] = 0.0f;
        return;
    }
    double ks = 0.0, kv = 0.0, kall = 0.0;
    for (int k = 0; k < K; ++k) {
        double e = klogit[k] == -INFINITY ? 0.0 : exp((double)klogit[k] - (double)kmax);
        ks += e;
        kv += e * (double)values[k];
        kall += klogit[k] == -INFINITY ? 0.0 : exp((double)klogit[k] - (double)all.m);
    }
    if (probs) {
        for (int k = 0; k < K; ++k)
            probs[k] = klogit[k] == -INFINITY ? 0.0f : (float)(exp((double)klogit[k] - (double)kmax) / ks);
    }
    if (score) *score = mode == 1 ? values[karg] / vmax : (float)(kv / ks / (double)vmax);
    if (mass) *mass = (float)(kall / (double)all.s);
}

}  // namespace editr1

#endif  // EDITR1_KERNEL_MATH_H
