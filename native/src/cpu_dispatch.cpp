/*
 * cpu_dispatch.cpp — the extern "C" CPU entry points: validate, pick the ISA build once, run,
 * and turn the kernels' non-finite masks into statuses. Also the Philox known-answer helpers
 * (the thread count lives with the pool, cpu_pool.cpp).
 */
#include "internal.h"
#include "kernel_math.h"

#include <vector>

namespace editr1 {

#define EDITR1_DECLARE_CPU_NS(ns)                                 \
    namespace ns {                                                \
    uint32_t flow_step(const editr1_flow_step_params& p);         \
    uint32_t noise(const editr1_noise_params& p);                 \
    uint32_t nft_loss(const editr1_nft_loss_params& p);           \
    uint32_t logit_score(const editr1_logit_score_params& p);     \
    uint32_t grpo_loss(const editr1_grpo_loss_params& p);         \
    void box_muller_blocks(int64_t nb, const uint32_t* W0, const uint32_t* W1, const uint32_t* W2, \
                           const uint32_t* W3, float* dst);       \
    }
EDITR1_DECLARE_CPU_NS(cpu_base)
#ifdef EDITR1_HAVE_CPU_AVX2
EDITR1_DECLARE_CPU_NS(cpu_avx2)
#endif

bool cpu_has_avx2() {
#ifdef EDITR1_HAVE_CPU_AVX2
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                            __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi2");
    return yes;
#else
    return false;
#endif
}

bool cpu_has_avx512f() {
    static const bool yes = cpu_has_avx2() && __builtin_cpu_supports("avx512f");
    return yes;
}

#ifdef EDITR1_HAVE_CPU_AVX2
#define EDITR1_CPU_CALL(fn, p) (cpu_has_avx2() ? cpu_avx2::fn(p) : cpu_base::fn(p))
#else
#define EDITR1_CPU_CALL(fn, p) cpu_base::fn(p)
#endif

}  // namespace editr1

using namespace editr1;

extern "C" {

int editr1_flow_step_cpu(const editr1_flow_step_params* p) {
    const char* entry = "editr1_flow_step_cpu";
    if (int s = validate_flow_step(p, entry)) return s;
    uint32_t mask = EDITR1_CPU_CALL(flow_step, *p);
    // non-finite outputs of non-finite inputs are no news: name the output only when no input is
    if (mask & ~EDITR1_FLOW_NF_OUTPUT) mask &= ~EDITR1_FLOW_NF_OUTPUT;
    if (p->nonfinite) *p->nonfinite = mask;
    return nonfinite_status(entry, mask, kFlowNonfiniteNames, kFlowNonfiniteCount);
}

int editr1_noise_cpu(const editr1_noise_params* p) {
    const char* entry = "editr1_noise_cpu";
    if (int s = validate_noise(p, entry)) return s;
    uint32_t mask = EDITR1_CPU_CALL(noise, *p);
    if (p->nonfinite) *p->nonfinite = mask;
    return nonfinite_status(entry, mask, kNoiseNonfiniteNames, kNoiseNonfiniteCount);
}

int editr1_nft_loss_cpu(const editr1_nft_loss_params* p) {
    const char* entry = "editr1_nft_loss_cpu";
    if (int s = validate_nft_loss(p, entry)) return s;
    uint32_t mask = EDITR1_CPU_CALL(nft_loss, *p);
    if (p->nonfinite) *p->nonfinite = mask;
    return nonfinite_status(entry, mask, kNftNonfiniteNames, kNftNonfiniteCount);
}

int editr1_logit_score_cpu(const editr1_logit_score_params* p) {
    const char* entry = "editr1_logit_score_cpu";
    if (int s = validate_logit_score(p, entry)) return s;
    uint32_t mask = EDITR1_CPU_CALL(logit_score, *p);
    if (p->nonfinite) *p->nonfinite = mask;
    return nonfinite_status(entry, mask, kScoreNonfiniteNames, kScoreNonfiniteCount);
}

int editr1_grpo_loss_cpu(const editr1_grpo_loss_params* p) {
    const char* entry = "editr1_grpo_loss_cpu";
    if (int s = validate_grpo_loss(p, entry)) return s;
    uint32_t mask = EDITR1_CPU_CALL(grpo_loss, *p);
    // non-finite outputs of non-finite inputs are no news: name the output only when no input is
    if (mask & ~EDITR1_GRPO_NF_OUTPUT) mask &= ~EDITR1_GRPO_NF_OUTPUT;
    if (p->nonfinite) *p->nonfinite = mask;
    return nonfinite_status(entry, mask, kGrpoNonfiniteNames, kGrpoNonfiniteCount);
}

const char* editr1_cpu_isa(void) {
    if (cpu_has_avx512f()) return "x86-64-v3 (AVX2; noise on AVX-512F)";
    return cpu_has_avx2() ? "x86-64-v3 (AVX2)" : "x86-64 (baseline)";
}

void editr1_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
    u32x4 c{{counter[0], counter[1], counter[2], counter[3]}};
    u32x4 r = philox4x32_10(c, key[0], key[1]);
    for (int i = 0; i < 4; ++i) out[i] = r.v[i];
}

void editr1_box_muller4(const uint32_t bits[4], float out[4]) {
    u32x4 b{{bits[0], bits[1], bits[2], bits[3]}};
    f32x4 n = box_muller4(b);
    for (int i = 0; i < 4; ++i) out[i] = n.v[i];
}

int editr1_box_muller_blocks(const uint32_t* words, int64_t blocks, float* out, int path) {
    const char* entry = "editr1_box_muller_blocks";
    if (!words || !out || blocks < 0) return fail(EDITR1_ERR_INVALID_ARGUMENT, "%s: words and out must be set, blocks >= 0", entry);
    if (path < 0 || path > 3) return fail(EDITR1_ERR_INVALID_ARGUMENT, "%s: path must be 0..3, got %d", entry, path);
    if ((path == 2 && !cpu_has_avx2()) || (path == 3 && !cpu_has_avx512f()))
        return fail(EDITR1_ERR_INVALID_ARGUMENT, "%s: this processor cannot run path %d (%s)", entry, path,
                    path == 2 ? "AVX2" : "AVX-512F");
    if (path == 0) {
        for (int64_t j = 0; j < blocks; ++j) {
            f32x4 n = box_muller4(u32x4{{words[4 * j], words[4 * j + 1], words[4 * j + 2], words[4 * j + 3]}});
            for (int q = 0; q < 4; ++q) out[4 * j + q] = n.v[q];
        }
        return ok();
    }
    std::vector<uint32_t> soa((size_t)(4 * blocks));  // the kernels' layout: one array per word
    uint32_t *W0 = soa.data(), *W1 = W0 + blocks, *W2 = W1 + blocks, *W3 = W2 + blocks;
    for (int64_t j = 0; j < blocks; ++j) {
        W0[j] = words[4 * j];
        W1[j] = words[4 * j + 1];
        W2[j] = words[4 * j + 2];
        W3[j] = words[4 * j + 3];
    }
    if (path == 1) {
        cpu_base::box_muller_blocks(blocks, W0, W1, W2, W3, out);
    } else if (path == 2) {
#ifdef EDITR1_HAVE_CPU_AVX2
        cpu_avx2::box_muller_blocks(blocks, W0, W1, W2, W3, out);
#endif
    } else {
        // AVX-512F registers for whole registers of blocks, the generic loop for the rest (as fill_noise)
        const int64_t done = cpu_avx512::box_muller_blocks(blocks, W0, W1, W2, W3, out);
        cpu_base::box_muller_blocks(blocks - done, W0 + done, W1 + done, W2 + done, W3 + done, out + 4 * done);
    }
    return ok();
}

}  // extern "C"
