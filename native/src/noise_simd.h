/*
 * noise_simd.h — Philox-4x32-10 and Box–Muller on whole registers: 8 blocks per AVX2 register,
 * 16 per AVX-512F register. Included by the x86-64-v3 build of cpu_kernels.cpp (Avx2) and by
 * cpu_noise_avx512.cpp (Avx512); inside each build's own namespace (EDITR1_CPU_NS), so the two
 * instantiations never meet at link time.
 *
 * The normals are kernel_math.h's, bit for bit: Philox is integer arithmetic; Box–Muller performs
 * the same correctly rounded +, −, ×, ÷ and sqrt on the same operands as portable_logf,
 * portable_sincos_2pi and box_muller2, one lane per block, no FMA. Four steps are written differently
 * from the scalar code, each exactly equal to it (checked over every possible u0 and u1 by
 * PhiloxNoiseTest.bulkBoxMullerEqualsTheDefinitionForEveryInput):
 *   - u0 = ((float)(w >> 9) + ½)·2^-23 is (2m + 1)·2^-24 with m = w >> 9, which is 24 bits wide:
 *     it is the float of the odd integer (w >> 8) | 1 with 24 taken off its exponent, so log's split
 *     of u0 into exponent and mantissa reads that integer's float bits (one integer add);
 *   - log's reduction to [√2/2, √2) (mantissa above 0x3504f3: halve it and add 1 to k) is done
 *     without a compare, as Sun's logf does: adding 0x004afb0c carries into the exponent exactly
 *     when the mantissa is at least 0x3504f4, and (mantissa + 0x004afb0c) mod 2^23 + 0x3f3504f4 is
 *     the reduced mantissa's bits either way. (Sun adds 0x004afb0d and 0x3f3504f3, which also
 *     halves at 0x3504f3 itself, where the scalar code does not: for u0 = 0x3f3504f3 the log comes
 *     out −0x1.62e432p−2 against −0x1.62e43p−2, though the radius rounds the same there.)
 *   - u1·4 = (float)(w >> 8)·2^-22 (both exact);
 *   - the quadrant k of sincos picks (sin, cos) from (sp, cp) by its bits: odd k swaps them, sin
 *     is negated for k ∈ {2, 3}, cos for k ∈ {1, 2}; r·(−x) = −(r·x) exactly, so the sign is
 *     flipped after the product.
 *
 * Why: the noise is the CPU path's one compute-bound kernel (on a Zen 5 core, Philox took 0.89 ns
 * per normal on one chain of AVX2 registers and Box–Muller 0.87 as GCC vectorized it, with the
 * interleave), and on a loaded machine the forward process
 * runs on one thread, where it must stay ≥ 2× libtorch's randn (bench/RESULTS.md, "Noise on one
 * core"). Two independent Philox chains per step hide the multiply's latency (AVX2: 0.89 → 0.69
 * ns per normal); the rewrites above take ~11% off Box–Muller (0.87 → 0.77 ns, with the
 * transpose); AVX-512F doubles the lanes on processors that have it (Zen 4/5, Intel since
 * Skylake-SP): 0.61 ns per normal on a Zen 5 core, Philox and Box–Muller together.
 *
 * Throughput, not bytes: a normal is 4 bytes written; the words (16 bytes per 4 normals) stay in
 * the calling thread's L1/L2 (a 4,096-element chunk: 16 KB of words).
 */
#ifndef EDITR1_NOISE_SIMD_H
#define EDITR1_NOISE_SIMD_H

#include <immintrin.h>
#include <stdint.h>

#ifndef EDITR1_CPU_NS
#error "EDITR1_CPU_NS must name the ISA namespace"
#endif

namespace editr1 {
namespace EDITR1_CPU_NS {
namespace simd {

#if defined(__AVX2__)
struct Avx2 {
    static constexpr int kLanes = 8;
    using F = __m256;
    using I = __m256i;
    static F set(float x) { return _mm256_set1_ps(x); }
    static I seti(uint32_t x) { return _mm256_set1_epi32((int)x); }
    static I iota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
    static I load(const uint32_t* p) { return _mm256_loadu_si256((const __m256i*)p); }
    static void store(uint32_t* p, I v) { _mm256_storeu_si256((__m256i*)p, v); }
    static F add(F a, F b) { return _mm256_add_ps(a, b); }
    static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
    static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
    static F div(F a, F b) { return _mm256_div_ps(a, b); }
    static F sqrt(F a) { return _mm256_sqrt_ps(a); }
    static F cvt(I a) { return _mm256_cvtepi32_ps(a); }
    static I cvtt(F a) { return _mm256_cvttps_epi32(a); }
    static F as_f(I a) { return _mm256_castsi256_ps(a); }
    static I as_i(F a) { return _mm256_castps_si256(a); }
    static I addi(I a, I b) { return _mm256_add_epi32(a, b); }
    static I subi(I a, I b) { return _mm256_sub_epi32(a, b); }
    static I andi(I a, I b) { return _mm256_and_si256(a, b); }
    static I ori(I a, I b) { return _mm256_or_si256(a, b); }
    static I xori(I a, I b) { return _mm256_xor_si256(a, b); }
    template <int N> static I srli(I a) { return _mm256_srli_epi32(a, N); }
    template <int N> static I slli(I a) { return _mm256_slli_epi32(a, N); }
    /* The 32×32 → 64-bit products of all lanes: even lanes in place, odd lanes shifted down, then
       the high and low words blended back into lane order (7 instructions per 8 products). */
    static void mulhilo(I a, I m, I& hi, I& lo) {
        const I even = _mm256_mul_epu32(a, m);
        const I odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
        lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
        hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    }
    /* odd k: b, else a */
    static F pick_odd(I k, F a, F b) { return _mm256_blendv_ps(a, b, as_f(slli<31>(k))); }
    /* z0..z3 hold normal q of blocks j..j+7; dst gets the 32 normals in element order
       (dst[4·i + q] = zq[i]): a 4×8 transpose. */
    static void store_interleaved(float* dst, F z0, F z1, F z2, F z3) {
        const F t0 = _mm256_unpacklo_ps(z0, z1), t1 = _mm256_unpackhi_ps(z0, z1);
        const F t2 = _mm256_unpacklo_ps(z2, z3), t3 = _mm256_unpackhi_ps(z2, z3);
        const F b0 = _mm256_shuffle_ps(t0, t2, 0x44), b1 = _mm256_shuffle_ps(t0, t2, 0xEE);  // blocks 0|4, 1|5
        const F b2 = _mm256_shuffle_ps(t1, t3, 0x44), b3 = _mm256_shuffle_ps(t1, t3, 0xEE);  // blocks 2|6, 3|7
        _mm256_storeu_ps(dst, _mm256_permute2f128_ps(b0, b1, 0x20));
        _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(b2, b3, 0x20));
        _mm256_storeu_ps(dst + 16, _mm256_permute2f128_ps(b0, b1, 0x31));
        _mm256_storeu_ps(dst + 24, _mm256_permute2f128_ps(b2, b3, 0x31));
    }
};
#endif

#if defined(__AVX512F__)
struct Avx512 {
    static constexpr int kLanes = 16;
    using F = __m512;
    using I = __m512i;
    static F set(float x) { return _mm512_set1_ps(x); }
    static I seti(uint32_t x) { return _mm512_set1_epi32((int)x); }
    static I iota() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
    static I load(const uint32_t* p) { return _mm512_loadu_si512(p); }
    static void store(uint32_t* p, I v) { _mm512_storeu_si512(p, v); }
    static F add(F a, F b) { return _mm512_add_ps(a, b); }
    static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
    static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
    static F div(F a, F b) { return _mm512_div_ps(a, b); }
    static F sqrt(F a) { return _mm512_sqrt_ps(a); }
    static F cvt(I a) { return _mm512_cvtepi32_ps(a); }
    static I cvtt(F a) { return _mm512_cvttps_epi32(a); }
    static F as_f(I a) { return _mm512_castsi512_ps(a); }
    static I as_i(F a) { return _mm512_castps_si512(a); }
    static I addi(I a, I b) { return _mm512_add_epi32(a, b); }
    static I subi(I a, I b) { return _mm512_sub_epi32(a, b); }
    static I andi(I a, I b) { return _mm512_and_si512(a, b); }
    static I ori(I a, I b) { return _mm512_or_si512(a, b); }
    static I xori(I a, I b) { return _mm512_xor_si512(a, b); }
    template <int N> static I srli(I a) { return _mm512_srli_epi32(a, N); }
    template <int N> static I slli(I a) { return _mm512_slli_epi32(a, N); }
    static void mulhilo(I a, I m, I& hi, I& lo) {
        const I even = _mm512_mul_epu32(a, m);
        const I odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
        lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
        hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
    }
    static F pick_odd(I k, F a, F b) { return _mm512_mask_blend_ps(_mm512_test_epi32_mask(k, seti(1)), a, b); }
    /* The 4×16 transpose: within each 128-bit lane as for AVX2 (bq's lane L holds block 4L + q),
       then a 4×4 transpose of the 128-bit lanes. */
    static void store_interleaved(float* dst, F z0, F z1, F z2, F z3) {
        const F t0 = _mm512_unpacklo_ps(z0, z1), t1 = _mm512_unpackhi_ps(z0, z1);
        const F t2 = _mm512_unpacklo_ps(z2, z3), t3 = _mm512_unpackhi_ps(z2, z3);
        const F b0 = _mm512_shuffle_ps(t0, t2, 0x44), b1 = _mm512_shuffle_ps(t0, t2, 0xEE);
        const F b2 = _mm512_shuffle_ps(t1, t3, 0x44), b3 = _mm512_shuffle_ps(t1, t3, 0xEE);
        const F lo01 = _mm512_shuffle_f32x4(b0, b1, 0x44), lo23 = _mm512_shuffle_f32x4(b2, b3, 0x44);  // lanes 0, 1
        const F hi01 = _mm512_shuffle_f32x4(b0, b1, 0xEE), hi23 = _mm512_shuffle_f32x4(b2, b3, 0xEE);  // lanes 2, 3
        _mm512_storeu_ps(dst, _mm512_shuffle_f32x4(lo01, lo23, 0x88));
        _mm512_storeu_ps(dst + 16, _mm512_shuffle_f32x4(lo01, lo23, 0xDD));
        _mm512_storeu_ps(dst + 32, _mm512_shuffle_f32x4(hi01, hi23, 0x88));
        _mm512_storeu_ps(dst + 48, _mm512_shuffle_f32x4(hi01, hi23, 0xDD));
    }
};
#endif

/* Philox words of blocks 0 .. done − 1 (counters (q0 + j, rlo, rhi, stream), key (k0, k1)) into the
   word arrays W0..W3, two registers of blocks per step (two independent multiply chains); returns
   done, the largest multiple of 2·kLanes ≤ nb. The caller does the rest. */
template <class V>
inline int64_t philox_blocks_simd(uint32_t k0, uint32_t k1, uint32_t rlo, uint32_t rhi, uint32_t stream, uint32_t q0,
                                  int64_t nb, uint32_t* W0, uint32_t* W1, uint32_t* W2, uint32_t* W3) {
    using I = typename V::I;
    constexpr int L = V::kLanes;
    const I M0 = V::seti(0xD2511F53u), M1 = V::seti(0xCD9E8D57u), lane = V::iota();
    int64_t j = 0;
    for (; j + 2 * L <= nb; j += 2 * L) {
        I a0 = V::addi(V::seti(q0 + (uint32_t)j), lane), b0 = V::addi(V::seti(q0 + (uint32_t)(j + L)), lane);
        I a1 = V::seti(rlo), a2 = V::seti(rhi), a3 = V::seti(stream);
        I b1 = a1, b2 = a2, b3 = a3;
        uint32_t key0 = k0, key1 = k1;
        for (int round = 0; round < 10; ++round) {
            if (round > 0) {
                key0 += 0x9E3779B9u;
                key1 += 0xBB67AE85u;
            }
            const I K0 = V::seti(key0), K1 = V::seti(key1);
            I ahi0, alo0, ahi1, alo1, bhi0, blo0, bhi1, blo1;
            V::mulhilo(a0, M0, ahi0, alo0);
            V::mulhilo(a2, M1, ahi1, alo1);
            V::mulhilo(b0, M0, bhi0, blo0);
            V::mulhilo(b2, M1, bhi1, blo1);
            a0 = V::xori(V::xori(ahi1, a1), K0);
            a2 = V::xori(V::xori(ahi0, a3), K1);
            b0 = V::xori(V::xori(bhi1, b1), K0);
            b2 = V::xori(V::xori(bhi0, b3), K1);
            a1 = alo1;
            a3 = alo0;
            b1 = blo1;
            b3 = blo0;
        }
        V::store(W0 + j, a0), V::store(W1 + j, a1), V::store(W2 + j, a2), V::store(W3 + j, a3);
        V::store(W0 + j + L, b0), V::store(W1 + j + L, b1), V::store(W2 + j + L, b2), V::store(W3 + j + L, b3);
    }
    return j;
}

/* r = sqrt(−2·ln u0) of box_muller2, u0 from the word w (see the header for the two rewrites). */
template <class V>
inline typename V::F box_muller_radius(typename V::I w) {
    using F = typename V::F;
    using I = typename V::I;
    const F one = V::set(1.0f), half = V::set(0.5f);
    // bits of u0 = bits of (float)((w >> 8) | 1) − 24·2^23, plus the reduction's 0x004afb0c
    const I ix = V::addi(V::as_i(V::cvt(V::ori(V::template srli<8>(w), V::seti(1)))), V::seti(0x004afb0cu - (24u << 23)));
    const F dk = V::cvt(V::subi(V::template srli<23>(ix), V::seti(127)));
    const F f = V::sub(V::as_f(V::addi(V::andi(ix, V::seti(0x007fffffu)), V::seti(0x3f3504f4u))), one);
    const F s = V::div(f, V::add(V::set(2.0f), f));
    const F z = V::mul(s, s);
    const F w2 = V::mul(z, z);
    const F t1 = V::mul(w2, V::add(V::set(0.40000972152f), V::mul(w2, V::set(0.24279078841f))));
    const F t2 = V::mul(z, V::add(V::set(0.66666662693f), V::mul(w2, V::set(0.28498786688f))));
    const F R = V::add(t2, t1);
    const F hfsq = V::mul(V::mul(half, f), f);
    F a = V::mul(s, V::add(hfsq, R));
    a = V::add(a, V::mul(dk, V::set(9.0580006145e-06f)));
    a = V::sub(a, hfsq);
    a = V::add(a, f);
    a = V::add(a, V::mul(dk, V::set(6.9313812256e-01f)));
    return V::sqrt(V::mul(V::set(-2.0f), a));
}

/* (r·cos 2πu1, r·sin 2πu1) of box_muller2, u1 from the word w. */
template <class V>
inline void box_muller_polar(typename V::F r, typename V::I w, typename V::F& zc, typename V::F& zs) {
    using F = typename V::F;
    using I = typename V::I;
    const F one = V::set(1.0f), half = V::set(0.5f);
    const F u4 = V::mul(V::cvt(V::template srli<8>(w)), V::set(2.384185791015625e-07f));  // 2^-22
    const I k = V::cvtt(V::add(u4, half));
    const F a = V::mul(V::sub(u4, V::cvt(k)), V::set(1.57079632679489662f));
    const F z = V::mul(a, a);
    const F p1 = V::add(V::mul(V::set(-1.9515295891e-4f), z), V::set(8.3321608736e-3f));
    const F p2 = V::sub(V::mul(p1, z), V::set(1.6666654611e-1f));
    const F sp = V::add(V::mul(V::mul(p2, z), a), a);
    const F q1 = V::sub(V::mul(V::set(2.443315711809948e-5f), z), V::set(1.388731625493765e-3f));
    const F q2 = V::add(V::mul(q1, z), V::set(4.166664568298827e-2f));
    const F cp = V::add(V::sub(V::mul(V::mul(q2, z), z), V::mul(half, z)), one);
    const F s = V::pick_odd(k, sp, cp), c = V::pick_odd(k, cp, sp);
    const I sign_s = V::template slli<31>(V::template srli<1>(k));                 // k ∈ {2, 3}
    const I sign_c = V::template slli<31>(V::template srli<1>(V::addi(k, V::seti(1))));  // k ∈ {1, 2}
    zc = V::as_f(V::xori(V::as_i(V::mul(r, c)), sign_c));
    zs = V::as_f(V::xori(V::as_i(V::mul(r, s)), sign_s));
}

/* Box–Muller of blocks 0 .. done − 1 given as word arrays, written to dst in element order
   (dst[4j + q] = normal q of block j); returns done, the largest multiple of kLanes ≤ nb. */
template <class V>
inline int64_t box_muller_blocks_simd(int64_t nb, const uint32_t* W0, const uint32_t* W1, const uint32_t* W2,
                                      const uint32_t* W3, float* dst) {
    using F = typename V::F;
    constexpr int L = V::kLanes;
    int64_t j = 0;
    for (; j + L <= nb; j += L) {
        F z0, z1, z2, z3;
        box_muller_polar<V>(box_muller_radius<V>(V::load(W0 + j)), V::load(W1 + j), z0, z1);
        box_muller_polar<V>(box_muller_radius<V>(V::load(W2 + j)), V::load(W3 + j), z2, z3);
        V::store_interleaved(dst + 4 * j, z0, z1, z2, z3);
    }
    return j;
}

}  // namespace simd
}  // namespace EDITR1_CPU_NS
}  // namespace editr1

#endif  // EDITR1_NOISE_SIMD_H
