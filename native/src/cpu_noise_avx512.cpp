/*
 * cpu_noise_avx512.cpp — the noise (Philox-4x32-10 + Box–Muller) on AVX-512F registers, 16 blocks
 * per register: noise_simd.h instantiated for Avx512. Compiled for x86-64-v4 (CMake) and called
 * by the x86-64-v3 build of cpu_kernels.cpp only where the processor has AVX-512F
 * (cpu_has_avx512f). Only the noise has such a build: it is the one compute-bound kernel (the
 * others move bytes, where wider registers buy nothing measurable); on a Zen 5 core it draws a
 * normal in ~0.6 ns against ~1.4 ns on AVX2 registers (bench/RESULTS.md, "Noise on one core").
 * The bits are the same as every other build's (PhiloxNoiseTest).
 */
#include "internal.h"

// GCC 12's avx512fintrin.h builds shift results on _mm512_undefined_epi32(), which it then reports
// as "may be used uninitialized" wherever the intrinsics are inlined: a known false positive
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "noise_simd.h"

#ifndef __AVX512F__
#error "cpu_noise_avx512.cpp must be compiled for AVX-512F (-march=x86-64-v4)"
#endif

namespace editr1 {
namespace cpu_avx512 {

int64_t noise_blocks(uint32_t k0, uint32_t k1, uint32_t rlo, uint32_t rhi, uint32_t stream, uint32_t q0, int64_t nb,
                     uint32_t* W0, uint32_t* W1, uint32_t* W2, uint32_t* W3, float* dst) {
    const int64_t done = simd::philox_blocks_simd<simd::Avx512>(k0, k1, rlo, rhi, stream, q0, nb, W0, W1, W2, W3);
    return simd::box_muller_blocks_simd<simd::Avx512>(done, W0, W1, W2, W3, dst);
}

int64_t box_muller_blocks(int64_t nb, const uint32_t* W0, const uint32_t* W1, const uint32_t* W2, const uint32_t* W3,
                          float* dst) {
    return simd::box_muller_blocks_simd<simd::Avx512>(nb, W0, W1, W2, W3, dst);
}

}  // namespace cpu_avx512
}  // namespace editr1
