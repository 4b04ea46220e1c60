/*
 * common.cpp — errors, argument validation and workspace sizes, shared by both backends.
 */
#include "internal.h"
#include "kernel_math.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif

#include <string>

namespace editr1 {

namespace {
thread_local std::string g_last_error;
}

int fail(int status, const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_last_error = buf;
    return status;
}

int ok() {
    g_last_error.clear();
    return EDITR1_OK;
}

const char* const kFlowNonfiniteNames[] = {"x", "v_cond", "v_uncond", "x0_prev", "noise", "x_given",
                                           "output (x' or x̂0 overflowed)"};
const int kFlowNonfiniteCount = 7;
const char* const kNoiseNonfiniteNames[] = {"x0", "t (non-finite or outside [0, 1])"};
const int kNoiseNonfiniteCount = 2;
const char* const kNftNonfiniteNames[] = {"x0", "target", "v_theta", "v_old", "v_ref",
                                          "t (non-finite, outside [0, 1], or 0 with an x_t target in velocity form)",
                                          "r (non-finite or outside [0, 1])", "valid (not 0 or 1)"};
const int kNftNonfiniteCount = 8;
const char* const kScoreNonfiniteNames[] = {"logits (NaN or +Inf)"};
const int kScoreNonfiniteCount = 1;
const char* const kGrpoNonfiniteNames[] = {"x", "x_next", "v_theta", "v_ref", "advantage", "log_prob_old",
                                           "valid (not 0 or 1)",
                                           "output (log-prob, ratio, loss or gradient overflowed)"};
const int kGrpoNonfiniteCount = 8;

int nonfinite_status(const char* entry, uint32_t mask, const char* const* names, int nnames) {
    if (mask == 0) return ok();
    std::string which;
    for (int i = 0; i < nnames; ++i) {
        if (mask & (1u << i)) {
            if (!which.empty()) which += ", ";
            which += names[i];
        }
    }
    return fail(EDITR1_ERR_NONFINITE, "%s: non-finite values in %s", entry, which.c_str());
}

namespace {

bool known_dtype(int32_t d) { return d == EDITR1_F32 || d == EDITR1_BF16 || d == EDITR1_F16; }

#define E1_REQUIRE(cond, ...)                                      \
    do {                                                           \
        if (!(cond)) return fail(EDITR1_ERR_INVALID_ARGUMENT, __VA_ARGS__); \
    } while (0)

int check_dtype(const char* entry, int32_t dtype) {
    if (!known_dtype(dtype))
        return fail(EDITR1_ERR_UNSUPPORTED_DTYPE, "%s: dtype %d is not f32 (0), bf16 (1) or f16 (2)", entry, dtype);
    return EDITR1_OK;
}

/* [a, a + n) and [b, b + m) overlap (byte ranges) */
bool overlaps(const void* a, size_t n, const void* b, size_t m) {
    if (!a || !b) return false;
    const char* pa = (const char*)a;
    const char* pb = (const char*)b;
    return pa < pb + m && pb < pa + n;
}

}  // namespace

int validate_flow_step(const editr1_flow_step_params* p, const char* entry) {
    E1_REQUIRE(p, "%s: params is NULL", entry);
    E1_REQUIRE(p->rows >= 1, "%s: rows must be >= 1 (got %lld)", entry, (long long)p->rows);
    E1_REQUIRE(p->row_len >= 1, "%s: row_len must be >= 1 (got %lld)", entry, (long long)p->row_len);
    if (int s = check_dtype(entry, p->dtype)) return s;
    E1_REQUIRE(p->x, "%s: x is NULL", entry);
    E1_REQUIRE(p->v_cond, "%s: v_cond is NULL", entry);
    E1_REQUIRE(p->x_out || p->x_given, "%s: x_out is NULL (allowed only with x_given)", entry);
    E1_REQUIRE(isfinite(p->guidance) && isfinite(p->sigma) && isfinite(p->c_x) && isfinite(p->c_v) &&
                   isfinite(p->c_x0) && isfinite(p->c_prev_x0) && isfinite(p->c_noise),
               "%s: guidance, sigma and the step coefficients must be finite", entry);
    E1_REQUIRE(p->rescale_channels >= 0, "%s: rescale_channels must be >= 0 (got %lld)", entry,
               (long long)p->rescale_channels);
    if (p->rescale_channels > 0) {
        E1_REQUIRE(p->v_uncond, "%s: rescale_channels needs v_uncond (norm rescale is part of CFG)", entry);
        E1_REQUIRE(p->row_len % p->rescale_channels == 0,
                   "%s: row_len %lld is not a multiple of rescale_channels %lld", entry, (long long)p->row_len,
                   (long long)p->rescale_channels);
    }
    E1_REQUIRE(p->c_prev_x0 == 0.0f || p->x0_prev, "%s: c_prev_x0 is %g but x0_prev is NULL", entry,
               (double)p->c_prev_x0);
    E1_REQUIRE(!p->log_prob || p->c_noise > 0.0f, "%s: log_prob needs c_noise > 0 (got %g)", entry,
               (double)p->c_noise);
    E1_REQUIRE(!p->x_given || p->c_noise > 0.0f, "%s: x_given needs c_noise > 0 (got %g)", entry,
               (double)p->c_noise);
    size_t bytes = (size_t)p->rows * (size_t)p->row_len * editr1_dtype_size(p->dtype);
    const void* inputs[] = {p->v_cond, p->v_uncond, p->noise, p->x_given};
    const char* names[] = {"v_cond", "v_uncond", "noise", "x_given"};
    for (int i = 0; i < 4; ++i) {
        E1_REQUIRE(!overlaps(p->x_out, bytes, inputs[i], bytes), "%s: x_out overlaps %s", entry, names[i]);
        E1_REQUIRE(!overlaps(p->x0_out, bytes, inputs[i], bytes), "%s: x0_out overlaps %s", entry, names[i]);
    }
    E1_REQUIRE(!p->x_out || p->x_out == p->x || !overlaps(p->x_out, bytes, p->x, bytes),
               "%s: x_out partially overlaps x (in place must be the same pointer)", entry);
    E1_REQUIRE(!p->x_out || !overlaps(p->x_out, bytes, p->x0_prev, bytes), "%s: x_out overlaps x0_prev", entry);
    E1_REQUIRE(!p->x0_out || !overlaps(p->x0_out, bytes, p->x, bytes), "%s: x0_out overlaps x", entry);
    E1_REQUIRE(!p->x0_out || p->x0_out == p->x0_prev || !overlaps(p->x0_out, bytes, p->x0_prev, bytes),
               "%s: x0_out partially overlaps x0_prev", entry);
    E1_REQUIRE(!overlaps(p->x_out, bytes, p->x0_out, bytes), "%s: x_out overlaps x0_out", entry);
    return EDITR1_OK;
}

int validate_noise(const editr1_noise_params* p, const char* entry) {
    E1_REQUIRE(p, "%s: params is NULL", entry);
    E1_REQUIRE(p->rows >= 1, "%s: rows must be >= 1 (got %lld)", entry, (long long)p->rows);
    E1_REQUIRE(p->row_len >= 1, "%s: row_len must be >= 1 (got %lld)", entry, (long long)p->row_len);
    if (int s = check_dtype(entry, p->dtype)) return s;
    E1_REQUIRE(p->out, "%s: out is NULL", entry);
    E1_REQUIRE(!p->x0 || p->t, "%s: t is NULL (the forward process needs one t per row)", entry);
    E1_REQUIRE(p->x0 || !p->eps_out, "%s: eps_out is set but x0 is NULL (plain noise goes to out)", entry);
    size_t bytes = (size_t)p->rows * (size_t)p->row_len * editr1_dtype_size(p->dtype);
    E1_REQUIRE(!p->eps_out || !overlaps(p->out, bytes, p->eps_out, bytes), "%s: out overlaps eps_out", entry);
    E1_REQUIRE(!p->eps_out || !overlaps(p->eps_out, bytes, p->x0, bytes), "%s: eps_out overlaps x0", entry);
    E1_REQUIRE(p->out == p->x0 || !overlaps(p->out, bytes, p->x0, bytes),
               "%s: out partially overlaps x0 (in place must be the same pointer)", entry);
    return EDITR1_OK;
}

int validate_nft_loss(const editr1_nft_loss_params* p, const char* entry) {
    E1_REQUIRE(p, "%s: params is NULL", entry);
    E1_REQUIRE(p->rows >= 1, "%s: rows must be >= 1 (got %lld)", entry, (long long)p->rows);
    E1_REQUIRE(p->row_len >= 1, "%s: row_len must be >= 1 (got %lld)", entry, (long long)p->row_len);
    if (int s = check_dtype(entry, p->dtype)) return s;
    E1_REQUIRE(p->form == EDITR1_NFT_X0 || p->form == EDITR1_NFT_VELOCITY,
               "%s: form must be 0 (x0) or 1 (velocity), got %d", entry, p->form);
    E1_REQUIRE(p->x0, "%s: x0 is NULL", entry);
    E1_REQUIRE(p->target, "%s: target (ε or x_t) is NULL", entry);
    E1_REQUIRE(p->v_theta, "%s: v_theta is NULL", entry);
    E1_REQUIRE(p->v_old, "%s: v_old is NULL", entry);
    E1_REQUIRE(p->t, "%s: t is NULL", entry);
    E1_REQUIRE(p->r, "%s: r is NULL", entry);
    E1_REQUIRE(p->valid, "%s: valid is NULL", entry);
    E1_REQUIRE(p->loss, "%s: loss is NULL", entry);
    E1_REQUIRE(isfinite(p->beta) && p->beta > 0.0, "%s: beta must be finite and > 0 (got %g)", entry, p->beta);
    E1_REQUIRE(isfinite(p->c) && p->c > 0.0, "%s: c must be finite and > 0 (got %g)", entry, p->c);
    E1_REQUIRE(isfinite(p->lambda) && p->lambda >= 0.0, "%s: lambda must be finite and >= 0 (got %g)", entry,
               p->lambda);
    E1_REQUIRE(isfinite(p->floor) && p->floor > 0.0, "%s: floor must be finite and > 0 (got %g)", entry, p->floor);
    size_t bytes = (size_t)p->rows * (size_t)p->row_len * editr1_dtype_size(p->dtype);
    const void* inputs[] = {p->x0, p->target, p->v_theta, p->v_old, p->v_ref};
    const char* names[] = {"x0", "target", "v_theta", "v_old", "v_ref"};
    for (int i = 0; i < 5; ++i)
        E1_REQUIRE(!overlaps(p->grad, bytes, inputs[i], bytes), "%s: grad overlaps %s", entry, names[i]);
    return EDITR1_OK;
}

int validate_grpo_loss(const editr1_grpo_loss_params* p, const char* entry) {
    E1_REQUIRE(p, "%s: params is NULL", entry);
    E1_REQUIRE(p->rows >= 1, "%s: rows must be >= 1 (got %lld)", entry, (long long)p->rows);
    E1_REQUIRE(p->row_len >= 1, "%s: row_len must be >= 1 (got %lld)", entry, (long long)p->row_len);
    if (int s = check_dtype(entry, p->dtype)) return s;
    E1_REQUIRE(p->x, "%s: x is NULL", entry);
    E1_REQUIRE(p->x_next, "%s: x_next is NULL", entry);
    E1_REQUIRE(p->v_theta, "%s: v_theta is NULL", entry);
    E1_REQUIRE(p->advantage, "%s: advantage is NULL", entry);
    E1_REQUIRE(p->log_prob_old, "%s: log_prob_old is NULL", entry);
    E1_REQUIRE(p->valid, "%s: valid is NULL", entry);
    E1_REQUIRE(p->loss, "%s: loss is NULL", entry);
    E1_REQUIRE(isfinite(p->c_x) && isfinite(p->c_v), "%s: c_x and c_v must be finite (got %g, %g)", entry, p->c_x,
               p->c_v);
    E1_REQUIRE(isfinite(p->std_log_prob) && p->std_log_prob > 0.0,
               "%s: std_log_prob must be finite and > 0 (got %g)", entry, p->std_log_prob);
    E1_REQUIRE(!p->v_ref || (isfinite(p->std_kl) && p->std_kl > 0.0),
               "%s: std_kl must be finite and > 0 with v_ref (got %g)", entry, p->std_kl);
    E1_REQUIRE(isfinite(p->clip_range) && p->clip_range >= 0.0, "%s: clip_range must be finite and >= 0 (got %g)",
               entry, p->clip_range);
    E1_REQUIRE(isfinite(p->kl_weight) && p->kl_weight >= 0.0, "%s: kl_weight must be finite and >= 0 (got %g)",
               entry, p->kl_weight);
    size_t bytes = (size_t)p->rows * (size_t)p->row_len * editr1_dtype_size(p->dtype);
    const void* inputs[] = {p->x, p->x_next, p->v_theta, p->v_ref};
    const char* names[] = {"x", "x_next", "v_theta", "v_ref"};
    for (int i = 0; i < 4; ++i)
        E1_REQUIRE(!overlaps(p->grad, bytes, inputs[i], bytes), "%s: grad overlaps %s", entry, names[i]);
    return EDITR1_OK;
}

int validate_logit_score(const editr1_logit_score_params* p, const char* entry) {
    E1_REQUIRE(p, "%s: params is NULL", entry);
    E1_REQUIRE(p->rows >= 1, "%s: rows must be >= 1 (got %lld)", entry, (long long)p->rows);
    E1_REQUIRE(p->vocab >= 1, "%s: vocab must be >= 1 (got %lld)", entry, (long long)p->vocab);
    E1_REQUIRE(p->row_stride >= p->vocab, "%s: row_stride %lld is smaller than vocab %lld", entry,
               (long long)p->row_stride, (long long)p->vocab);
    if (int s = check_dtype(entry, p->dtype)) return s;
    E1_REQUIRE(p->logits, "%s: logits is NULL", entry);
    E1_REQUIRE(p->num_tokens >= 1 && p->num_tokens <= EDITR1_MAX_SCORE_TOKENS,
               "%s: num_tokens must be in 1..%d (got %d)", entry, EDITR1_MAX_SCORE_TOKENS, p->num_tokens);
    E1_REQUIRE(p->mode == EDITR1_SCORE_EXPECTED || p->mode == EDITR1_SCORE_ARGMAX,
               "%s: mode must be 0 (expected) or 1 (argmax), got %d", entry, p->mode);
    E1_REQUIRE(p->score || p->probs || p->mass, "%s: score, probs and mass are all NULL", entry);
    float vmax = -INFINITY;
    for (int k = 0; k < p->num_tokens; ++k) {
        E1_REQUIRE(p->token_ids[k] >= 0 && p->token_ids[k] < p->vocab,
                   "%s: token_ids[%d] = %d is outside the vocabulary [0, %lld)", entry, k, p->token_ids[k],
                   (long long)p->vocab);
        for (int j = 0; j < k; ++j)
            E1_REQUIRE(p->token_ids[j] != p->token_ids[k], "%s: token id %d is listed twice (k = %d and %d)",
                       entry, p->token_ids[k], j, k);
        E1_REQUIRE(isfinite(p->values[k]), "%s: values[%d] is not finite", entry, k);
        vmax = fmaxf(vmax, p->values[k]);
    }
    E1_REQUIRE(vmax > 0.0f, "%s: the largest token value must be > 0 (scores are value / max value), got %g",
               entry, (double)vmax);
    return EDITR1_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* CUDA partitions and workspaces (kept here so the CPU-only build reports the same sizes)   */
/* ---------------------------------------------------------------------------------------- */

static const int64_t kFlowChunkElems = 2048;   // elements per block on the elementwise path
static const int64_t kFlowChunkTokens = 8;     // tokens per block (one warp each) when rescaling
static const int64_t kNftChunkElems = 2048;
static const int64_t kGrpoChunkElems = 2048;
static const int64_t kScoreSplitElems = 8192;

int64_t cuda_flow_chunks(const editr1_flow_step_params* p) {
    if (p->rescale_channels > 0) return ceil_div(p->row_len / p->rescale_channels, kFlowChunkTokens);
    return ceil_div(p->row_len, kFlowChunkElems);
}
int64_t cuda_nft_chunks(int64_t row_len, int32_t) { return ceil_div(row_len, kNftChunkElems); }
int64_t cuda_score_splits(int64_t vocab) { return ceil_div(vocab, kScoreSplitElems); }
int64_t cuda_grpo_chunks(int64_t row_len) { return ceil_div(row_len, kGrpoChunkElems); }

size_t flow_step_workspace(const editr1_flow_step_params* p) {
    if (!p || !p->log_prob || p->rows < 1 || p->row_len < 1) return 0;
    if (p->rescale_channels > 0 && p->row_len % p->rescale_channels != 0) return 0;
    return (size_t)p->rows * (size_t)cuda_flow_chunks(p) * sizeof(double);
}
size_t nft_loss_workspace(const editr1_nft_loss_params* p) {
    if (!p || p->rows < 1 || p->row_len < 1) return 0;
    return (size_t)p->rows * (size_t)cuda_nft_chunks(p->row_len, p->dtype) * NFT_NSUMS * sizeof(double);
}
size_t grpo_loss_workspace(const editr1_grpo_loss_params* p) {
    if (!p || p->rows < 1 || p->row_len < 1) return 0;
    return (size_t)p->rows * (size_t)cuda_grpo_chunks(p->row_len) * GRPO_NSUMS * sizeof(double);
}
size_t logit_score_workspace(const editr1_logit_score_params* p) {
    if (!p || p->rows < 1 || p->vocab < 1) return 0;
    return (size_t)p->rows * (size_t)cuda_score_splits(p->vocab) * 2 * sizeof(float);
}

}  // namespace editr1

using namespace editr1;

extern "C" {

const char* editr1_last_error(void) { return g_last_error.c_str(); }
const char* editr1_version(void) { return EDITR1_VERSION_STRING; }

size_t editr1_dtype_size(int32_t dtype) {
    switch (dtype) {
        case EDITR1_F32: return 4;
        case EDITR1_BF16: return 2;
        case EDITR1_F16: return 2;
        default: return 0;
    }
}

// glibc's own counts (mallinfo2, glibc >= 2.33); -1 where the C library cannot say. `held`:
// what the arenas have taken from the kernel (sbrk'd and mprotected heap space, free chunks
// included) plus mmapped chunks, i.e. what the C heap can hold resident; otherwise the bytes in
// arena chunks in use plus mmapped chunks (large tensors), without the freed memory kept for reuse.
static long long heap_bytes(bool held) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return (long long)((held ? mi.arena : mi.uordblks) + mi.hblkhd);
#else
    (void)held;
    return -1;
#endif
}

long long editr1_heap_bytes_in_use(void) { return heap_bytes(false); }
long long editr1_heap_bytes_held(void) { return heap_bytes(true); }

int editr1_retain_heap(long long bytes) {
#if defined(__GLIBC__)
    if (bytes <= 0) return 0;
    // M_MMAP_THRESHOLD: blocks below it come from the arenas, not from a fresh mmap per allocation;
    // glibc refuses more than HEAP_MAX_SIZE / 2 (32 MiB on 64-bit). M_TRIM_THRESHOLD: free memory at
    // an arena's top kept instead of handed back (madvise(MADV_DONTNEED) or munmap). Setting either
    // also stops glibc from adapting both to the sizes freed so far, which is what made the outcome
    // differ from one process to the next (bench/RESULTS.md, "the C heap under load").
    const long long kMmapMax = 32LL << 20;
    const long long trim = bytes < 0x7fffffffLL ? bytes : 0x7fffffffLL;
    const int ok = mallopt(M_MMAP_THRESHOLD, (int)(bytes < kMmapMax ? bytes : kMmapMax)) && mallopt(M_TRIM_THRESHOLD, (int)trim);
    return ok ? 1 : 0;
#else
    (void)bytes;
    return 0;
#endif
}

size_t editr1_flow_step_workspace_bytes(const editr1_flow_step_params* p) { return flow_step_workspace(p); }
size_t editr1_nft_loss_workspace_bytes(const editr1_nft_loss_params* p) { return nft_loss_workspace(p); }
size_t editr1_logit_score_workspace_bytes(const editr1_logit_score_params* p) { return logit_score_workspace(p); }
size_t editr1_grpo_loss_workspace_bytes(const editr1_grpo_loss_params* p) { return grpo_loss_workspace(p); }

}  // extern "C"
