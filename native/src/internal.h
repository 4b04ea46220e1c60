/*
 * internal.h — what the CPU and CUDA launchers share besides the per-element math:
 * argument validation (one function per kernel, used by both paths before any work), the
 * thread-local error message, the fixed partitions of rows into chunks and the CPU thread pool.
 */
#ifndef EDITR1_INTERNAL_H
#define EDITR1_INTERNAL_H

#include "editr1.h"

#include <stddef.h>
#include <stdint.h>

namespace editr1 {

/** Records a formatted message for editr1_last_error() and returns status. */
int fail(int status, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/** Clears the thread's last error; returns EDITR1_OK. */
int ok();

/** Full argument validation of each kernel's params (both backends). Returns a status. */
int validate_flow_step(const editr1_flow_step_params* p, const char* entry);
int validate_noise(const editr1_noise_params* p, const char* entry);
int validate_nft_loss(const editr1_nft_loss_params* p, const char* entry);
int validate_logit_score(const editr1_logit_score_params* p, const char* entry);
int validate_grpo_loss(const editr1_grpo_loss_params* p, const char* entry);

/** EDITR1_ERR_NONFINITE with the names of the set bits, or EDITR1_OK when mask is 0. */
int nonfinite_status(const char* entry, uint32_t mask, const char* const* names, int nnames);

extern const char* const kFlowNonfiniteNames[];
extern const int kFlowNonfiniteCount;
extern const char* const kNoiseNonfiniteNames[];
extern const int kNoiseNonfiniteCount;
extern const char* const kNftNonfiniteNames[];
extern const int kNftNonfiniteCount;
extern const char* const kScoreNonfiniteNames[];
extern const int kScoreNonfiniteCount;
extern const char* const kGrpoNonfiniteNames[];
extern const int kGrpoNonfiniteCount;

/* The CUDA path's workspace sizes (host-side arithmetic, also compiled without CUDA). */
size_t flow_step_workspace(const editr1_flow_step_params* p);
size_t nft_loss_workspace(const editr1_nft_loss_params* p);
size_t logit_score_workspace(const editr1_logit_score_params* p);
size_t grpo_loss_workspace(const editr1_grpo_loss_params* p);

/* CUDA's fixed partitions of a row (partials are summed in this fixed order, so results do
   not depend on scheduling). Exposed so workspace sizes are computed in one place. */
int64_t cuda_flow_chunks(const editr1_flow_step_params* p);
int64_t cuda_nft_chunks(int64_t row_len, int32_t dtype);
int64_t cuda_score_splits(int64_t vocab);
int64_t cuda_grpo_chunks(int64_t row_len);

/** Threads for the CPU path (editr1_set_cpu_threads, else the CPUs this process may use; cpu_pool.cpp). */
int cpu_threads();

/** One unit of CPU work: returns the non-finite mask bits it found. */
using UnitFn = uint32_t (*)(void* ctx, int64_t unit);

/**
 * Runs fn(ctx, u) for every u in [0, units) on the calling thread and up to cpu_threads() − 1
 * pool workers, and returns the OR of the masks. Each thread starts on its own contiguous share
 * (a static schedule's) and then takes single units from the others' shares, so a descheduled
 * thread delays nobody; units may run in any order and on any thread (cpu_pool.cpp says why).
 * Concurrent callers are safe: a caller that finds the pool busy runs its units alone.
 */
uint32_t run_units(int64_t units, UnitFn fn, void* ctx);

/** run_units with a callable: f(int64_t unit) -> uint32_t mask. */
template <class F>
uint32_t parallel_units(int64_t units, F& f) {
    return run_units(units, [](void* c, int64_t u) -> uint32_t { return (*static_cast<F*>(c))(u); }, &f);
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/** The processor runs the x86-64-v3 build of the CPU kernels (AVX2, FMA, F16C, BMI2). */
bool cpu_has_avx2();
/** The processor has AVX-512F: the x86-64-v3 build then draws its noise with cpu_avx512's. */
bool cpu_has_avx512f();

/* The noise on AVX-512F registers (cpu_noise_avx512.cpp, compiled for x86-64-v4; call only where
   cpu_has_avx512f()). Both as noise_simd.h's functions: the number of blocks done, from 0. */
namespace cpu_avx512 {
/** Philox words of blocks 0 .. done − 1 into W0..W3 and their normals into dst in element order. */
int64_t noise_blocks(uint32_t k0, uint32_t k1, uint32_t rlo, uint32_t rhi, uint32_t stream, uint32_t q0, int64_t nb,
                     uint32_t* W0, uint32_t* W1, uint32_t* W2, uint32_t* W3, float* dst);
/** Box–Muller of blocks 0 .. done − 1 given as word arrays, into dst in element order. */
int64_t box_muller_blocks(int64_t nb, const uint32_t* W0, const uint32_t* W1, const uint32_t* W2, const uint32_t* W3,
                          float* dst);
}  // namespace cpu_avx512

}  // namespace editr1

#endif  // EDITR1_INTERNAL_H
