/*
 * cpu_bench — editr1's CPU kernels timed through the C API on preallocated buffers, each beside
 * the machine's ceiling for the same bytes, measured in the same run.
 *
 *   cpu_bench [--quick] [--reps N] [--threads N] [--only SUBSTRING] [--json FILE]
 *
 * --only times just the kernels whose name contains SUBSTRING (e.g. "euler 12x16x64x64 bf16"),
 * for a profiler; --reps sets the calls per median (default 21, --quick 7); --threads sets the
 * kernels' threads (editr1_set_cpu_threads; default: the CPUs the pool finds free).
 *
 * Timing: the median of `reps` calls (after one untimed call), steady clock. "Bytes" are each
 * kernel's minimum traffic (each input read once, each output written once; the counts of the
 * kernel headers and of bench/gpu/gpu_check.cpp). "copy" is memcpy of bytes/2 into a second
 * buffer, split over the same OpenMP threads the kernels use (editr1_cpu_threads()), so it moves
 * the same bytes read + written. Inputs are N(0, 1) (logits: 6·N(0, 1)), outputs are written into
 * buffers allocated and touched before timing, so no page fault lands in a measurement (the JMH
 * suite, which goes through libtorch tensors, includes the allocation of fresh outputs).
 *
 * Not a correctness check: the kernels are checked by the Java tests and bench/gpu/gpu_check.
 */
#include "editr1.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

int g_reps = 21;
const char* g_only = nullptr;
FILE* g_json = nullptr;
bool g_first_json = true;

/* A buffer of n elements of dtype dt, filled with scale·N(0, 1) (rounded to dt). */
struct Buf {
    int dt;
    size_t n;
    std::vector<uint8_t> bytes;
    Buf(int d, size_t count, uint64_t seed, float scale = 1.0f) : dt(d), n(count), bytes(count * editr1_dtype_size(d)) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<float> N;
        for (size_t i = 0; i < n; ++i) {
            float v = scale * N(rng);
            if (dt == EDITR1_F32) {
                memcpy(&bytes[i * 4], &v, 4);
            } else if (dt == EDITR1_BF16) {
                uint32_t u;
                memcpy(&u, &v, 4);
                uint16_t h = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
                memcpy(&bytes[i * 2], &h, 2);
            } else {  // f16 is not timed here; fill with zeros if ever used
                memset(&bytes[i * 2], 0, 2);
            }
        }
    }
    void* data() { return bytes.data(); }
};

double median_s(const std::function<void()>& fn) {
    fn();
    std::vector<double> t;
    for (int i = 0; i < g_reps; ++i) {
        auto a = std::chrono::steady_clock::now();
        fn();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

void check(int status) {
    if (status != EDITR1_OK) {
        fprintf(stderr, "cpu_bench: kernel failed: %s\n", editr1_last_error());
        exit(1);
    }
}

/* Times fn and a memcpy of the same bytes; prints one row (and a JSON record). */
void report(const std::string& name, double bytes, const std::function<void()>& fn) {
    if (g_only && name.find(g_only) == std::string::npos) return;
    const size_t half = (size_t)(bytes / 2) & ~(size_t)63;
    std::vector<uint8_t> src(half, 1), dst(half, 2);
    const int threads = editr1_cpu_threads();
    const size_t part = (half / (size_t)threads + 4095) & ~(size_t)4095;
    double copy_s = median_s([&] {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int i = 0; i < threads; ++i) {
            size_t a = std::min(half, (size_t)i * part), b = std::min(half, a + part);
            if (b > a) memcpy(dst.data() + a, src.data() + a, b - a);
        }
    });
    double s = median_s(fn);
    double gbs = bytes / s / 1e9, copy_gbs = 2.0 * half / copy_s / 1e9;
    printf("| %-44s | %9.1f | %7.1f | %7.1f | %5.1f%% |\n", name.c_str(), s * 1e6, gbs, copy_gbs, 100.0 * gbs / copy_gbs);
    fflush(stdout);
    if (g_json) {
        fprintf(g_json, "%s\n  {\"kernel\": \"%s\", \"us\": %.2f, \"bytes\": %.0f, \"gbps\": %.2f, \"copy_gbps\": %.2f, \"pct_copy\": %.1f}",
                g_first_json ? "" : ",", name.c_str(), s * 1e6, bytes, gbs, copy_gbs, 100.0 * gbs / copy_gbs);
        g_first_json = false;
    }
}

const char* dname(int dt) { return dt == EDITR1_F32 ? "f32" : dt == EDITR1_BF16 ? "bf16" : "f16"; }

void flow_cases(int dt, int64_t B, int64_t D, const char* shape) {
    const size_t n = (size_t)(B * D);
    const double s = (double)editr1_dtype_size(dt);
    Buf x(dt, n, 1), vc(dt, n, 2), vu(dt, n, 3), m1(dt, n, 4), out(dt, n, 5), x0(dt, n, 6);
    std::vector<float> lp((size_t)B);
    auto base = [&] {
        editr1_flow_step_params p{};
        p.rows = B;
        p.row_len = D;
        p.dtype = dt;
        p.x = x.data();
        p.v_cond = vc.data();
        p.x_out = out.data();
        return p;
    };
    std::string tag = std::string(" ") + shape + " " + dname(dt);
    {  // Euler: read x, v; write x'
        editr1_flow_step_params p = base();
        p.sigma = 0.5f; p.c_x = 1.0f; p.c_v = -0.2f;
        report("flow euler" + tag, 3.0 * n * s, [&] { check(editr1_flow_step_cpu(&p)); });
        // as the Sampler runs it: x' over x (the copy ceiling is still a copy into a second buffer)
        p.x_out = x.data();
        report("flow euler in place" + tag, 3.0 * n * s, [&] { check(editr1_flow_step_cpu(&p)); });
    }
    {  // DPM++(2M) + CFG with x̂0 out: read x, v_c, v_u, m1; write x', x̂0
        editr1_flow_step_params p = base();
        p.v_uncond = vu.data(); p.guidance = 4.5f; p.sigma = 0.5f;
        p.c_x = 0.6f; p.c_x0 = 0.3f; p.c_prev_x0 = 0.1f; p.x0_prev = m1.data(); p.x0_out = x0.data();
        report("flow dpm2m+cfg (x̂0 out)" + tag, 6.0 * n * s, [&] { check(editr1_flow_step_cpu(&p)); });
    }
    if (D % 64 == 0) {  // CFG + per-token rescale over C = 64 channels: read x, v_c, v_u; write x'
        editr1_flow_step_params p = base();
        p.v_uncond = vu.data(); p.guidance = 5.0f; p.rescale_channels = 64; p.sigma = 0.5f; p.c_x = 1.0f; p.c_v = -0.2f;
        report("flow cfg+rescale C=64" + tag, 4.0 * n * s, [&] { check(editr1_flow_step_cpu(&p)); });
    }
    {  // SDE with Philox noise and the log-prob: read x, v; write x', log-prob
        editr1_flow_step_params p = base();
        p.sigma = 0.5f; p.c_x = 0.9f; p.c_v = -0.1f; p.c_x0 = 0.05f; p.c_noise = 0.3f; p.noise_seed = 7;
        p.log_prob = lp.data();
        report("flow sde philox+logprob" + tag, 3.0 * n * s, [&] { check(editr1_flow_step_cpu(&p)); });
    }
}

void noise_cases(int dt, int64_t B, int64_t D, const char* shape) {
    const size_t n = (size_t)(B * D);
    const double s = (double)editr1_dtype_size(dt);
    Buf x0(dt, n, 7), out(dt, n, 8), eps(dt, n, 9);
    std::vector<float> t((size_t)B, 0.6f);
    std::string tag = std::string(" ") + shape + " " + dname(dt);
    editr1_noise_params p{};
    p.rows = B; p.row_len = D; p.dtype = dt; p.seed = 11; p.out = out.data();
    report("noise (Philox + Box-Muller)" + tag, 1.0 * n * s, [&] { check(editr1_noise_cpu(&p)); });
    p.x0 = x0.data(); p.t = t.data(); p.eps_out = eps.data();
    report("forward (x_t, eps)" + tag, 3.0 * n * s, [&] { check(editr1_noise_cpu(&p)); });
}

void nft_cases(int dt, int64_t B, int64_t D, const char* shape) {
    const size_t n = (size_t)(B * D);
    const double s = (double)editr1_dtype_size(dt);
    Buf x0(dt, n, 10), tg(dt, n, 11), vth(dt, n, 12), vold(dt, n, 13), grad(dt, n, 14);
    std::vector<float> t((size_t)B, 0.5f), r((size_t)B, 0.7f), valid((size_t)B, 1.0f), ell((size_t)B), kl((size_t)B);
    float loss = 0.0f;
    std::string tag = std::string(" ") + shape + " " + dname(dt);
    editr1_nft_loss_params p{};
    p.rows = B; p.row_len = D; p.dtype = dt; p.x0 = x0.data(); p.target = tg.data(); p.v_theta = vth.data();
    p.v_old = vold.data(); p.t = t.data(); p.r = r.data(); p.valid = valid.data();
    p.beta = 1.0; p.c = 5.0; p.lambda = 1e-4; p.floor = 1e-5; p.ell = ell.data(); p.kl = kl.data(); p.loss = &loss;
    p.grad = grad.data();
    // read x0, target, v_θ, v_old; write grad
    p.form = EDITR1_NFT_X0;
    report("nft loss+grad x0 form" + tag, 5.0 * n * s, [&] { check(editr1_nft_loss_cpu(&p)); });
    p.form = EDITR1_NFT_VELOCITY;
    report("nft loss+grad velocity form" + tag, 5.0 * n * s, [&] { check(editr1_nft_loss_cpu(&p)); });
}

void grpo_cases(int dt, int64_t B, int64_t D, const char* shape) {
    const size_t n = (size_t)(B * D);
    const double s = (double)editr1_dtype_size(dt);
    Buf x(dt, n, 16), xn(dt, n, 17), vth(dt, n, 18), vref(dt, n, 19), grad(dt, n, 20);
    std::vector<float> adv((size_t)B), lpo((size_t)B, 0.0f), valid((size_t)B, 1.0f), lp((size_t)B), ratio((size_t)B),
        ell((size_t)B), kl((size_t)B);
    for (int64_t b = 0; b < B; ++b) adv[(size_t)b] = b % 2 ? -1.0f : 1.0f;
    float loss = 0.0f;
    std::string tag = std::string(" ") + shape + " " + dname(dt);
    // the SDE step σ = 0.5 → 0.3 with a = 0.7, σ_1 = 0.9 (as SdeStep.of computes it)
    const double sigma = 0.5, dtt = -0.2, sd = 0.7 * std::sqrt(sigma / (1.0 - sigma));
    editr1_grpo_loss_params p{};
    p.rows = B; p.row_len = D; p.dtype = dt; p.x = x.data(); p.x_next = xn.data(); p.v_theta = vth.data();
    p.v_ref = vref.data(); p.advantage = adv.data(); p.log_prob_old = lpo.data(); p.valid = valid.data();
    p.c_x = 1.0 + sd * sd * dtt / (2.0 * sigma); p.c_v = (1.0 + sd * sd * (1.0 - sigma) / (2.0 * sigma)) * dtt;
    p.std_log_prob = sd * std::sqrt(-dtt); p.std_kl = sd; p.clip_range = 1e-4; p.kl_weight = 0.04;
    p.log_prob = lp.data(); p.ratio = ratio.data(); p.ell = ell.data(); p.kl = kl.data(); p.loss = &loss;
    check(editr1_grpo_loss_cpu(&p));
    lpo = lp;  // ρ = 1: the first training step after a rollout (every row at a tie of the clipped max)
    p.log_prob_old = lpo.data();
    p.grad = grad.data();
    // read x, x', v_θ, v_ref; write grad
    report("grpo loss+grad" + tag, 5.0 * n * s, [&] { check(editr1_grpo_loss_cpu(&p)); });
    p.v_ref = nullptr;
    report("grpo loss+grad no v_ref" + tag, 4.0 * n * s, [&] { check(editr1_grpo_loss_cpu(&p)); });
}

void score_case(int dt, int64_t B, int64_t V) {
    Buf logits(dt, (size_t)(B * V), 15, 6.0f);
    std::vector<float> score((size_t)B), mass((size_t)B), probs((size_t)B * 5);
    editr1_logit_score_params p{};
    p.rows = B; p.vocab = V; p.row_stride = V; p.dtype = dt; p.logits = logits.data();
    p.num_tokens = 5;
    for (int k = 0; k < 5; ++k) {  // Qwen2.5's "1".."5"
        p.token_ids[k] = 16 + k;
        p.values[k] = (float)(k + 1);
    }
    p.score = score.data(); p.mass = mass.data(); p.probs = probs.data();
    report(std::string("logit score ") + std::to_string(B) + "x" + std::to_string(V) + " " + dname(dt),
           (double)B * V * editr1_dtype_size(dt), [&] { check(editr1_logit_score_cpu(&p)); });
}

}  // namespace

int main(int argc, char** argv) {
    const char* json_path = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--quick")) g_reps = 7;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc && atoi(argv[i + 1]) > 0) g_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) g_only = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc && atoi(argv[i + 1]) > 0) editr1_set_cpu_threads(atoi(argv[++i]));
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
        else {
            fprintf(stderr, "usage: cpu_bench [--quick] [--reps N] [--threads N] [--only SUBSTRING] [--json FILE]\n");
            return 2;
        }
    }
    if (json_path && !(g_json = fopen(json_path, "w"))) {
        fprintf(stderr, "cpu_bench: cannot write %s\n", json_path);
        return 1;
    }
    printf("editr1 %s, CPU path %s, %d threads; median of %d calls\n\n", editr1_version(), editr1_cpu_isa(),
           editr1_cpu_threads(), g_reps);
    printf("| %-44s | %9s | %7s | %7s | %6s |\n", "kernel", "us", "GB/s", "copy", "% copy");
    printf("|---|---:|---:|---:|---:|\n");
    if (g_json) fprintf(g_json, "[");
    for (int dt : {EDITR1_F32, EDITR1_BF16}) {
        flow_cases(dt, 12, 16 * 64 * 64, "12x16x64x64");
        flow_cases(dt, 12, 1024 * 64, "12x1024x64");
        noise_cases(dt, 12, 16 * 64 * 64, "12x16x64x64");
        nft_cases(dt, 12, 16 * 64 * 64, "12x16x64x64");
        grpo_cases(dt, 12, 16 * 64 * 64, "12x16x64x64");
        score_case(dt, 288, 151936);
    }
    // one DRAM-sized row set (8x the realistic batch: 25 MB per f32 tensor) for the bandwidth-bound view
    flow_cases(EDITR1_F32, 96, 16 * 64 * 64, "96x16x64x64");
    nft_cases(EDITR1_F32, 96, 16 * 64 * 64, "96x16x64x64");
    grpo_cases(EDITR1_F32, 96, 16 * 64 * 64, "96x16x64x64");
    if (g_json) {
        fprintf(g_json, "\n]\n");
        fclose(g_json);
    }
    return 0;
}
