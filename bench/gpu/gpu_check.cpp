/*
 * gpu_check — checks libeditr1's CUDA path against its CPU path, then times the CUDA kernels.
 *
 *   gpu_check [--json FILE] [--reps N] [--quick]
 *
 * Part 1 (correctness): for every kernel, on inputs meant to break it (row lengths 1, 97, 1025,
 * 65,539; V = 151,936 with −∞ and all-equal rows; t at 0.02 and 1; β ≠ 1; masked rows; in-place
 * steps; GRPO ratios inside and on both sides of the clip range with A of both signs, σ = 1 and
 * σ near 0) and in f32, bf16 and f16: run the CPU path on host buffers and the CUDA path on device
 * buffers (outputs poisoned with NaN first, so an unwritten element fails), and compare element by
 * element, reporting the worst one. Philox normals and the forward process's ε must match bit for
 * bit. The non-finite flag word must name a poisoned input.
 *
 * Part 2 (timing): CUDA events around each kernel, L2 flushed before every repeat, the median of
 * many; beside each, a device-to-device copy moving the same number of bytes (read + write),
 * measured in the same run, as the ceiling.
 *
 * Built by CMake (-DEDITR1_BUILD_GPU_CHECK=ON, the default); without CUDA or without a device it
 * says so and exits 0 after the CPU-only smoke part.
 */
#include "editr1.h"
#include "../../native/src/kernel_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#ifdef EDITR1_GPU_CHECK_CUDA
#include <cuda_runtime.h>
#endif

using editr1::bf16;
using editr1::f16;

namespace {

int g_failures = 0;
int g_checks = 0;
std::string g_json = "{\n  \"checks\": [\n";
bool g_first_json = true;

void json_item(const std::string& s) {
    if (!g_first_json) g_json += ",\n";
    g_first_json = false;
    g_json += "    " + s;
}

const char* dname(int dt) { return dt == EDITR1_F32 ? "f32" : dt == EDITR1_BF16 ? "bf16" : "f16"; }
size_t dsize(int dt) { return dt == EDITR1_F32 ? 4 : 2; }

/* host storage of n elements of a dtype, from/to float */
struct HostBuf {
    int dt;
    size_t n;
    std::vector<uint8_t> bytes;
    HostBuf(int d, size_t count) : dt(d), n(count), bytes(count * dsize(d)) {}
    float get(size_t i) const {
        if (dt == EDITR1_F32) { float f; memcpy(&f, &bytes[i * 4], 4); return f; }
        uint16_t u; memcpy(&u, &bytes[i * 2], 2);
        return dt == EDITR1_BF16 ? editr1::to_float(bf16{u}) : editr1::to_float(f16{u});
    }
    void set(size_t i, float v) {
        if (dt == EDITR1_F32) { memcpy(&bytes[i * 4], &v, 4); return; }
        uint16_t u = dt == EDITR1_BF16 ? editr1::from_float<bf16>(v).bits : editr1::from_float<f16>(v).bits;
        memcpy(&bytes[i * 2], &u, 2);
    }
    void* data() { return bytes.data(); }
    size_t size_bytes() const { return bytes.size(); }
};

HostBuf random_buf(int dt, size_t n, std::mt19937_64& rng, float scale = 1.0f) {
    HostBuf h(dt, n);
    std::normal_distribution<float> nd(0.0f, scale);
    std::uniform_int_distribution<int> spike(0, 96);
    for (size_t i = 0; i < n; ++i) {
        float v = nd(rng);
        if (spike(rng) == 0) v *= 20.0f;  // a few large values so rows are not uniform
        h.set(i, v);
    }
    return h;
}

struct Worst {
    double err = 0, budget_used = 0;
    size_t index = 0;
    float a = 0, b = 0;
};

/* |a − b| ≤ atol + rtol·|b| for every element, atol scaled by the array's largest |b| (so a value
   that cancels down from large operands is judged at the operands' scale); NaN in only one fails */
bool compare(const char* what, const float* gpu, const float* cpu, size_t n, double atol, double rtol) {
    Worst w;
    bool ok = true;
    double scale = 0;
    for (size_t i = 0; i < n; ++i)
        if (std::isfinite(cpu[i])) scale = std::max(scale, (double)std::fabs(cpu[i]));
    atol *= std::max(1.0, scale);
    for (size_t i = 0; i < n; ++i) {
        double e;
        bool na = std::isnan(gpu[i]), nb = std::isnan(cpu[i]);
        if (na || nb) e = (na && nb) ? 0.0 : INFINITY;
        else if (std::isinf(gpu[i]) || std::isinf(cpu[i])) e = gpu[i] == cpu[i] ? 0.0 : INFINITY;
        else e = std::fabs((double)gpu[i] - (double)cpu[i]);
        double used = e == 0.0 ? 0.0 : e / (atol + rtol * std::fabs((double)cpu[i]));
        if (used > w.budget_used || i == 0) {
            w.budget_used = used;
            w.err = e;
            w.index = i;
            w.a = gpu[i];
            w.b = cpu[i];
        }
        if (!(used <= 1.0)) ok = false;
    }
    ++g_checks;
    if (!ok) ++g_failures;
    printf("  %-4s %-62s worst [%zu] cuda %.8g cpu %.8g |err| %.3g (%.0f%% of budget)\n", ok ? "ok" : "FAIL", what,
           w.index, w.a, w.b, w.err, 100.0 * w.budget_used);
    char buf[512];
    snprintf(buf, sizeof buf, "{\"check\": \"%s\", \"ok\": %s, \"worst_err\": %.6g, \"budget_used\": %.4f}", what,
             ok ? "true" : "false", w.err, w.budget_used);
    json_item(buf);
    return ok;
}

bool expect(const char* what, bool cond, const std::string& detail = "") {
    ++g_checks;
    if (!cond) ++g_failures;
    printf("  %-4s %s %s\n", cond ? "ok" : "FAIL", what, detail.c_str());
    char buf[512];
    snprintf(buf, sizeof buf, "{\"check\": \"%s\", \"ok\": %s}", what, cond ? "true" : "false");
    json_item(buf);
    return cond;
}

std::vector<float> to_floats(const HostBuf& h) {
    std::vector<float> f(h.n);
    for (size_t i = 0; i < h.n; ++i) f[i] = h.get(i);
    return f;
}

/* dtype tolerances for CUDA vs CPU: FMA contraction and summation order differ, so a few ulps */
double rtol_of(int dt) { return dt == EDITR1_F32 ? 2e-5 : dt == EDITR1_BF16 ? 1.6e-2 : 2e-3; }

#ifdef EDITR1_GPU_CHECK_CUDA

#define CK(call)                                                                                       \
    do {                                                                                               \
        cudaError_t e_ = (call);                                                                       \
        if (e_ != cudaSuccess) {                                                                       \
            fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__,   \
                    cudaGetErrorString(e_));                                                           \
            exit(2);                                                                                   \
        }                                                                                              \
    } while (0)

#define ST(call)                                                                                       \
    do {                                                                                               \
        int s_ = (call);                                                                               \
        if (s_ != EDITR1_OK) {                                                                         \
            fprintf(stderr, "editr1 status %d at %s:%d: %s\n", s_, __FILE__, __LINE__, editr1_last_error()); \
            exit(3);                                                                                   \
        }                                                                                              \
    } while (0)

/* a device buffer; NaN-poisoned (0xFF bytes) on creation unless copied from the host */
struct DevBuf {
    void* p = nullptr;
    size_t bytes = 0;
    DevBuf() = default;
    explicit DevBuf(size_t b) : bytes(b) {
        CK(cudaMalloc(&p, std::max<size_t>(b, 16)));
        CK(cudaMemset(p, 0xFF, std::max<size_t>(b, 16)));
    }
    explicit DevBuf(const HostBuf& h) : DevBuf(h.size_bytes()) {
        CK(cudaMemcpy(p, h.bytes.data(), h.size_bytes(), cudaMemcpyHostToDevice));
    }
    DevBuf(const DevBuf&) = delete;
    DevBuf& operator=(const DevBuf&) = delete;
    DevBuf(DevBuf&& o) noexcept : p(o.p), bytes(o.bytes) { o.p = nullptr; }
    ~DevBuf() { if (p) cudaFree(p); }
    HostBuf to_host(int dt, size_t n) const {
        HostBuf h(dt, n);
        CK(cudaMemcpy(h.data(), p, h.size_bytes(), cudaMemcpyDeviceToHost));
        return h;
    }
    std::vector<float> floats(size_t n) const {
        std::vector<float> f(n);
        CK(cudaMemcpy(f.data(), p, n * 4, cudaMemcpyDeviceToHost));
        return f;
    }
};

/* a host buffer of NaNs (CPU outputs poisoned too) */
HostBuf poisoned(int dt, size_t n) {
    HostBuf h(dt, n);
    memset(h.data(), 0xFF, h.size_bytes());
    return h;
}

// ============================================================================================
// Part 1: CUDA vs CPU
// ============================================================================================

struct FlowCase {
    const char* name;
    float sigma, cx, cv, cx0, cm1, cn, w;
    bool cfg, rescale, m1, noise_tensor, given, in_place, logprob;
};

void check_flow(int dt, int64_t d, std::mt19937_64& rng) {
    const int64_t rows = d > 10000 ? 2 : 3;
    const size_t n = (size_t)(rows * d);
    // coefficients as FlowStepParams computes them (Euler, DPM-Solver++(2M) middle step, SDE)
    const FlowCase cases[] = {
        {"euler σ=1→0.9", 1.0f, 1.0f, -0.1f, 0, 0, 0, 1, false, false, false, false, false, false, false},
        {"dpm2m middle + cfg 4.5, in place", 0.5f, 0.6f, 0, 0.52f, -0.13f, 0, 4.5f, true, false, true, false, false, true, false},
        {"cfg + per-token rescale", 0.5f, 1.0f, -0.2f, 0, 0, 0, 5.0f, true, true, false, false, false, false, false},
        {"sde σ=0.02, Philox noise, log-prob", 0.02f, 0.98f, -0.021f, 0, 0, 0.098f, 1, false, false, false, false, false, false, true},
        {"sde noise tensor, log-prob", 1.0f, 0.95f, -0.1f, 0, 0, 0.22f, 1, false, false, false, true, false, false, true},
        {"sde log-prob of a given x'", 0.5f, 0.9f, -0.2f, 0, 0, 0.3f, 1, false, false, false, false, true, false, true},
    };
    for (const FlowCase& k : cases) {
        int64_t C = 0;
        if (k.rescale) { C = d; for (int64_t c : {64, 25, 16}) if (d % c == 0) { C = c; break; } }
        HostBuf x = random_buf(dt, n, rng), vc = random_buf(dt, n, rng), vu = random_buf(dt, n, rng),
                m1 = random_buf(dt, n, rng), xi = random_buf(dt, n, rng), xg = random_buf(dt, n, rng);
        editr1_flow_step_params p{};
        p.rows = rows; p.row_len = d; p.dtype = dt;
        p.guidance = k.w; p.rescale_channels = C; p.sigma = k.sigma;
        p.c_x = k.cx; p.c_v = k.cv; p.c_x0 = k.cx0; p.c_prev_x0 = k.m1 ? k.cm1 : 0; p.c_noise = k.cn;
        p.noise_seed = 0x5eed; p.noise_row_offset = 7; p.noise_stream = 3;
        // CPU
        HostBuf xc = x, x0c = poisoned(dt, n), m1c = m1;
        std::vector<float> lpc(rows, NAN);
        editr1_flow_step_params pc = p;
        pc.x = xc.data(); pc.v_cond = vc.data(); pc.v_uncond = k.cfg ? vu.data() : nullptr;
        pc.x0_prev = k.m1 ? m1c.data() : nullptr; pc.noise = k.noise_tensor ? xi.data() : nullptr;
        pc.x_given = k.given ? xg.data() : nullptr;
        HostBuf xoc = poisoned(dt, n);
        pc.x_out = k.given ? nullptr : (k.in_place ? xc.data() : xoc.data());
        pc.x0_out = k.given ? nullptr : (k.in_place && k.m1 ? m1c.data() : x0c.data());
        pc.log_prob = k.logprob ? lpc.data() : nullptr;
        ST(editr1_flow_step_cpu(&pc));
        // CUDA
        DevBuf dx(x), dvc(vc), dvu(vu), dm1(m1), dxi(xi), dxg(xg), dxo(n * dsize(dt)), dx0(n * dsize(dt)), dlp(rows * 4);
        DevBuf dflag(4);
        editr1_flow_step_params pg = p;
        pg.x = dx.p; pg.v_cond = dvc.p; pg.v_uncond = k.cfg ? dvu.p : nullptr;
        pg.x0_prev = k.m1 ? dm1.p : nullptr; pg.noise = k.noise_tensor ? dxi.p : nullptr;
        pg.x_given = k.given ? dxg.p : nullptr;
        pg.x_out = k.given ? nullptr : (k.in_place ? dx.p : dxo.p);
        pg.x0_out = k.given ? nullptr : (k.in_place && k.m1 ? dm1.p : dx0.p);
        pg.log_prob = k.logprob ? (float*)dlp.p : nullptr;
        pg.nonfinite = (uint32_t*)dflag.p;
        size_t wsb = editr1_flow_step_workspace_bytes(&pg);
        DevBuf ws(wsb);
        pg.workspace = wsb ? ws.p : nullptr; pg.workspace_bytes = wsb;
        ST(editr1_flow_step_cuda(&pg, nullptr));
        CK(cudaDeviceSynchronize());
        uint32_t flag = 0;
        CK(cudaMemcpy(&flag, dflag.p, 4, cudaMemcpyDeviceToHost));
        char what[200];
        snprintf(what, sizeof what, "flow %s D=%lld %s", k.name, (long long)d, dname(dt));
        expect((std::string(what) + ": no non-finite flag").c_str(), flag == 0, "flag=" + std::to_string(flag));
        if (!k.given) {
            HostBuf cx = k.in_place ? xc : xoc;
            HostBuf gx = (k.in_place ? dx : dxo).to_host(dt, n);
            std::string w1 = std::string(what) + " x'";
            compare(w1.c_str(), to_floats(gx).data(), to_floats(cx).data(), n, 1e-5, rtol_of(dt));
            HostBuf c0 = k.in_place && k.m1 ? m1c : x0c;
            HostBuf g0 = (k.in_place && k.m1 ? dm1 : dx0).to_host(dt, n);
            std::string w2 = std::string(what) + " x̂0";
            compare(w2.c_str(), to_floats(g0).data(), to_floats(c0).data(), n, 1e-5, rtol_of(dt));
        }
        if (k.logprob) {
            std::string w3 = std::string(what) + " log-prob";
            compare(w3.c_str(), dlp.floats(rows).data(), lpc.data(), rows, 1e-4, 1e-4);
        }
    }
}

void check_noise(int dt, int64_t d) {
    const int64_t rows = 4;
    const size_t n = (size_t)(rows * d);
    std::mt19937_64 rng(d);
    HostBuf x0 = random_buf(dt, n, rng);
    std::vector<float> t = {0.0f, 0.02f, 0.5f, 1.0f};
    editr1_noise_params p{};
    p.rows = rows; p.row_len = d; p.dtype = dt; p.seed = 0x123456789abcULL; p.row_offset = 11; p.stream = 5;
    // plain noise: bit for bit
    HostBuf zc = poisoned(dt, n);
    editr1_noise_params pc = p;
    pc.out = zc.data();
    ST(editr1_noise_cpu(&pc));
    DevBuf dz(n * dsize(dt));
    editr1_noise_params pg = p;
    pg.out = dz.p;
    ST(editr1_noise_cuda(&pg, nullptr));
    CK(cudaDeviceSynchronize());
    HostBuf zg = dz.to_host(dt, n);
    char what[160];
    snprintf(what, sizeof what, "noise D=%lld %s: CUDA == CPU bit for bit", (long long)d, dname(dt));
    expect(what, memcmp(zg.data(), zc.data(), zc.size_bytes()) == 0);
    // forward process: ε bit for bit, x_t within rounding
    HostBuf xtc = poisoned(dt, n), ec = poisoned(dt, n);
    pc.x0 = x0.data(); pc.t = t.data(); pc.out = xtc.data(); pc.eps_out = ec.data();
    ST(editr1_noise_cpu(&pc));
    DevBuf dx0(x0), dt_(t.size() * 4), dxt(n * dsize(dt)), de(n * dsize(dt));
    CK(cudaMemcpy(dt_.p, t.data(), t.size() * 4, cudaMemcpyHostToDevice));
    pg.x0 = dx0.p; pg.t = (const float*)dt_.p; pg.out = dxt.p; pg.eps_out = de.p;
    ST(editr1_noise_cuda(&pg, nullptr));
    CK(cudaDeviceSynchronize());
    HostBuf eg = de.to_host(dt, n);
    snprintf(what, sizeof what, "forward D=%lld %s: ε CUDA == CPU bit for bit", (long long)d, dname(dt));
    expect(what, memcmp(eg.data(), ec.data(), ec.size_bytes()) == 0);
    snprintf(what, sizeof what, "forward D=%lld %s x_t", (long long)d, dname(dt));
    compare(what, to_floats(dxt.to_host(dt, n)).data(), to_floats(xtc).data(), n, 1e-6, rtol_of(dt));
}

void check_philox() {
    std::mt19937 rng(1);
    int bad = 0;
    for (int i = 0; i < 4096; ++i) {
        uint32_t c[4] = {(uint32_t)rng(), (uint32_t)rng(), (uint32_t)rng(), (uint32_t)rng()}, k[2] = {(uint32_t)rng(), (uint32_t)rng()};
        if (i == 0) { memset(c, 0, sizeof c); memset(k, 0, sizeof k); }
        if (i == 1) { memset(c, 0xFF, sizeof c); memset(k, 0xFF, sizeof k); }
        uint32_t bc[4], bg[4];
        float nc[4], ng[4];
        editr1_philox4x32_10(c, k, bc);
        editr1_box_muller4(bc, nc);
        ST(editr1_philox_normals_cuda(c, k, bg, ng));
        if (memcmp(bc, bg, 16) != 0 || memcmp(nc, ng, 16) != 0) ++bad;
    }
    expect("Philox bits and Box–Muller normals: CUDA == CPU on 4096 random blocks (+ KAT counters)", bad == 0,
           bad ? std::to_string(bad) + " differ" : "");
    uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0}, out[4];
    float nn[4];
    ST(editr1_philox_normals_cuda(c0, k0, out, nn));
    expect("Philox KAT 0/0 on the device", out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
                                                 out[3] == 0x9b00dbd8u);
}

void check_nft(int dt, int64_t d, std::mt19937_64& rng) {
    const int64_t rows = 4;
    const size_t n = (size_t)(rows * d);
    struct Cfg { const char* name; int form; double beta; bool ref; bool xt; };
    const Cfg cfgs[] = {{"x0 form", EDITR1_NFT_X0, 1.0, true, false},
                        {"x0 form β=0.3", EDITR1_NFT_X0, 0.3, true, false},
                        {"velocity form β=1.7", EDITR1_NFT_VELOCITY, 1.7, true, false},
                        {"x0 form, no v_ref", EDITR1_NFT_X0, 1.0, false, false},
                        {"velocity form, x_t target", EDITR1_NFT_VELOCITY, 1.0, true, true}};
    std::vector<float> t = {0.02f, 0.5f, 1.0f, 0.7f}, r = {0.0f, 0.5f, 1.0f, 0.83f}, valid = {1, 1, 1, 0};
    for (const Cfg& c : cfgs) {
        HostBuf x0 = random_buf(dt, n, rng), tg = random_buf(dt, n, rng), vth = random_buf(dt, n, rng),
                vold = random_buf(dt, n, rng, 0.5f), vref = random_buf(dt, n, rng);
        editr1_nft_loss_params p{};
        p.rows = rows; p.row_len = d; p.dtype = dt; p.form = c.form; p.target_is_xt = c.xt;
        p.beta = c.beta; p.c = 5.0; p.lambda = 1e-4; p.floor = 1e-5;
        std::vector<float> ellc(rows, NAN), klc(rows, NAN), lossc(1, NAN);
        HostBuf gc = poisoned(dt, n);
        editr1_nft_loss_params pc = p;
        pc.x0 = x0.data(); pc.target = tg.data(); pc.v_theta = vth.data(); pc.v_old = vold.data();
        pc.v_ref = c.ref ? vref.data() : nullptr; pc.t = t.data(); pc.r = r.data(); pc.valid = valid.data();
        pc.ell = ellc.data(); pc.kl = klc.data(); pc.loss = lossc.data(); pc.grad = gc.data();
        ST(editr1_nft_loss_cpu(&pc));
        DevBuf dx0(x0), dtg(tg), dth(vth), dold(vold), dref(vref), dgrad(n * dsize(dt)), dell(rows * 4), dkl(rows * 4),
            dloss(4), dts(rows * 4), drs(rows * 4), dvs(rows * 4);
        CK(cudaMemcpy(dts.p, t.data(), rows * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(drs.p, r.data(), rows * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(dvs.p, valid.data(), rows * 4, cudaMemcpyHostToDevice));
        editr1_nft_loss_params pg = p;
        pg.x0 = dx0.p; pg.target = dtg.p; pg.v_theta = dth.p; pg.v_old = dold.p; pg.v_ref = c.ref ? dref.p : nullptr;
        pg.t = (const float*)dts.p; pg.r = (const float*)drs.p; pg.valid = (const float*)dvs.p;
        pg.ell = (float*)dell.p; pg.kl = (float*)dkl.p; pg.loss = (float*)dloss.p; pg.grad = dgrad.p;
        size_t wsb = editr1_nft_loss_workspace_bytes(&pg);
        DevBuf ws(wsb);
        pg.workspace = ws.p; pg.workspace_bytes = wsb;
        ST(editr1_nft_loss_cuda(&pg, nullptr));
        CK(cudaDeviceSynchronize());
        char what[200];
        snprintf(what, sizeof what, "nft %s D=%lld %s", c.name, (long long)d, dname(dt));
        std::string w = what;
        compare((w + " ℓ").c_str(), dell.floats(rows).data(), ellc.data(), rows, 1e-6, 1e-4);
        compare((w + " kl").c_str(), dkl.floats(rows).data(), klc.data(), rows, 1e-6, 1e-4);
        compare((w + " loss").c_str(), dloss.floats(1).data(), lossc.data(), 1, 1e-6, 1e-4);
        std::vector<float> gcf = to_floats(gc);
        double gmax = 0;
        for (float v : gcf) gmax = std::max(gmax, (double)std::fabs(v));
        compare((w + " grad").c_str(), to_floats(dgrad.to_host(dt, n)).data(), gcf.data(), n, 1e-4 * gmax,
                std::max(1e-4, rtol_of(dt)));
    }
}

/* The SDE step's scalars as SdeStep.of computes them (a = 0.7). */
struct SdeScalars { double c_x, c_v, std_lp, s; };
SdeScalars sde_scalars(double sigma, double next, double sigma1) {
    const double s = 0.7 * std::sqrt(sigma / (1.0 - (sigma == 1.0 ? sigma1 : sigma))), dt = next - sigma;
    return {1.0 + s * s * dt / (2.0 * sigma), (1.0 + s * s * (1.0 - sigma) / (2.0 * sigma)) * dt, s * std::sqrt(-dt), s};
}

void check_grpo(int dt, int64_t d, std::mt19937_64& rng) {
    const int64_t rows = 8;
    const size_t n = (size_t)(rows * d);
    struct Cfg { const char* name; double sigma, next, sigma1, eps, beta; bool ref; };
    const Cfg cfgs[] = {{"σ=1→0.9 (σ_1 rule)", 1.0, 0.9, 0.9, 1e-4, 0.04, true},
                        {"σ=0.5→0.3, no v_ref", 0.5, 0.3, 0.9, 1e-4, 0.04, false},
                        {"σ=1e-3→0, ε=0.2 β=0.3", 1e-3, 0.0, 0.9, 0.2, 0.3, true}};
    // rows: ρ = 1, inside the range, 3ε above (A > 0: clipped wins; A < 0: unclipped), 3ε below
    // (A > 0: unclipped; A < 0: clipped), A = 0, a masked row
    const float adv[rows] = {1.3f, -0.7f, 0.9f, -1.1f, 0.6f, -0.8f, 0.0f, 2.0f};
    const double at_eps[rows] = {0, 0.5, 3, 3, -3, -3, 2, -2};
    std::vector<float> valid = {1, 1, 1, 1, 1, 1, 1, 0};
    std::normal_distribution<float> nd;
    for (const Cfg& c : cfgs) {
        const SdeScalars k = sde_scalars(c.sigma, c.next, c.sigma1);
        HostBuf x = random_buf(dt, n, rng), vth = random_buf(dt, n, rng), vref = random_buf(dt, n, rng), xn(dt, n);
        for (size_t i = 0; i < n; ++i)  // x' drawn with a velocity near v_θ (ξ without spikes)
            xn.set(i, (float)(k.c_x * x.get(i) + k.c_v * (vth.get(i) + 0.05f * nd(rng)) + k.std_lp * nd(rng)));
        editr1_grpo_loss_params p{};
        p.rows = rows; p.row_len = d; p.dtype = dt;
        p.c_x = k.c_x; p.c_v = k.c_v; p.std_log_prob = k.std_lp; p.std_kl = k.s; p.clip_range = c.eps; p.kl_weight = c.beta;
        // the old log-probs that place each row's ratio, from a first CPU call
        std::vector<float> lpo(rows, 0.0f), lpc(rows, NAN), rc(rows, NAN), ellc(rows, NAN), klc(rows, NAN), lossc(1, NAN);
        editr1_grpo_loss_params pc = p;
        pc.x = x.data(); pc.x_next = xn.data(); pc.v_theta = vth.data(); pc.v_ref = c.ref ? vref.data() : nullptr;
        pc.advantage = adv; pc.log_prob_old = lpo.data(); pc.valid = valid.data();
        pc.log_prob = lpc.data(); pc.ratio = rc.data(); pc.ell = ellc.data(); pc.kl = klc.data(); pc.loss = lossc.data();
        ST(editr1_grpo_loss_cpu(&pc));
        for (int b = 0; b < rows; ++b) lpo[b] = (float)(lpc[b] - std::log(1.0 + at_eps[b] * c.eps));
        HostBuf gc = poisoned(dt, n);
        pc.grad = gc.data();
        ST(editr1_grpo_loss_cpu(&pc));
        DevBuf dx(x), dxn(xn), dth(vth), dref(vref), dgrad(n * dsize(dt)), dadv(rows * 4), dlpo(rows * 4), dvs(rows * 4),
            dlp(rows * 4), dr(rows * 4), dell(rows * 4), dkl(rows * 4), dloss(4);
        CK(cudaMemcpy(dadv.p, adv, rows * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(dlpo.p, lpo.data(), rows * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(dvs.p, valid.data(), rows * 4, cudaMemcpyHostToDevice));
        editr1_grpo_loss_params pg = p;
        pg.x = dx.p; pg.x_next = dxn.p; pg.v_theta = dth.p; pg.v_ref = c.ref ? dref.p : nullptr;
        pg.advantage = (const float*)dadv.p; pg.log_prob_old = (const float*)dlpo.p; pg.valid = (const float*)dvs.p;
        pg.log_prob = (float*)dlp.p; pg.ratio = (float*)dr.p; pg.ell = (float*)dell.p; pg.kl = (float*)dkl.p;
        pg.loss = (float*)dloss.p; pg.grad = dgrad.p;
        size_t wsb = editr1_grpo_loss_workspace_bytes(&pg);
        DevBuf ws(wsb);
        pg.workspace = ws.p; pg.workspace_bytes = wsb;
        ST(editr1_grpo_loss_cuda(&pg, nullptr));
        CK(cudaDeviceSynchronize());
        char what[200];
        snprintf(what, sizeof what, "grpo %s D=%lld %s", c.name, (long long)d, dname(dt));
        std::string w = what;
        // f32 sums in another order (and FMA contraction): logp differs by a few ulps of its quadratic
        // term q = mean((x' − μ)²)/(2·std²), and ρ = exp(logp − logp_old) relatively as much. q is
        // large where x' does not fit the step's Gaussian (bf16 rounding of a 20σ x at σ = 1e-3).
        double qmax = 0;
        for (int b = 0; b < rows; ++b)
            qmax = std::max(qmax, -(lpc[b] + std::log(k.std_lp) + 0.5 * std::log(2.0 * M_PI)));
        const double rel = 2e-5 + 1e-6 * qmax;
        compare((w + " logp").c_str(), dlp.floats(rows).data(), lpc.data(), rows, 1e-6, 1e-5);
        compare((w + " ratio").c_str(), dr.floats(rows).data(), rc.data(), rows, 1e-6, rel);
        compare((w + " ℓ").c_str(), dell.floats(rows).data(), ellc.data(), rows, rel, rel);
        compare((w + " kl").c_str(), dkl.floats(rows).data(), klc.data(), rows, 1e-6, 1e-4);
        compare((w + " loss").c_str(), dloss.floats(1).data(), lossc.data(), 1, 3 * rel, rel);
        std::vector<float> gcf = to_floats(gc);
        double gmax = 0;
        for (float v : gcf) gmax = std::max(gmax, (double)std::fabs(v));
        compare((w + " grad").c_str(), to_floats(dgrad.to_host(dt, n)).data(), gcf.data(), n, 1e-4 * gmax,
                std::max(1e-4, rtol_of(dt)));
    }
}

void check_score(int dt, int64_t v, std::mt19937_64& rng) {
    const int64_t rows = 6;
    HostBuf l = random_buf(dt, (size_t)(rows * v), rng, 2.0f);
    auto L = [&](int64_t b, int64_t i, float x) { l.set((size_t)(b * v + i), x); };
    if (v > 20) {
        L(0, 19, 14.0f); L(0, 18, 12.5f); L(0, 20, 11.0f);                         // a confident judge
        for (int64_t i = 0; i < v; i += 3) L(1, i, -INFINITY);                     // −∞ spread over the row
        L(1, 16, 3.0f); L(1, 19, 2.0f);
        for (int64_t i = 0; i < v; ++i) L(2, i, 1.25f);                             // all equal
        for (int i = 15; i <= 20; ++i) L(3, i, -INFINITY);                         // unscorable
        for (int64_t i = 0; i < v; ++i) L(4, i, l.get((size_t)(4 * v + i)) + 1000.0f); // large logits
    }
    editr1_logit_score_params p{};
    p.rows = rows; p.vocab = v; p.row_stride = v; p.dtype = dt; p.num_tokens = 6;
    for (int k = 0; k < 6; ++k) { p.token_ids[k] = v > 20 ? 15 + k : k; p.values[k] = (float)k; }
    for (int mode : {EDITR1_SCORE_EXPECTED, EDITR1_SCORE_ARGMAX}) {
        p.mode = mode;
        std::vector<float> sc(rows, 7.f), pc(rows * 6, 7.f), mc(rows, 7.f);
        editr1_logit_score_params q = p;
        q.logits = l.data(); q.score = sc.data(); q.probs = pc.data(); q.mass = mc.data();
        ST(editr1_logit_score_cpu(&q));
        DevBuf dl(l), ds(rows * 4), dp(rows * 6 * 4), dm(rows * 4);
        editr1_logit_score_params g = p;
        g.logits = dl.p; g.score = (float*)ds.p; g.probs = (float*)dp.p; g.mass = (float*)dm.p;
        size_t wsb = editr1_logit_score_workspace_bytes(&g);
        DevBuf ws(wsb);
        g.workspace = ws.p; g.workspace_bytes = wsb;
        ST(editr1_logit_score_cuda(&g, nullptr));
        CK(cudaDeviceSynchronize());
        char what[160];
        snprintf(what, sizeof what, "score V=%lld %s %s", (long long)v, mode ? "argmax" : "expected", dname(dt));
        std::string w = what;
        compare((w + " score").c_str(), ds.floats(rows).data(), sc.data(), rows, 1e-6, 1e-5);
        compare((w + " probs").c_str(), dp.floats(rows * 6).data(), pc.data(), rows * 6, 1e-7, 1e-5);
        compare((w + " mass").c_str(), dm.floats(rows).data(), mc.data(), rows, 1e-9, 1e-4);
    }
}

void check_flags() {
    // a NaN in v_cond of a CUDA flow step sets exactly the v_cond bit
    const int64_t rows = 2, d = 1025;
    std::mt19937_64 rng(3);
    HostBuf x = random_buf(EDITR1_F32, rows * d, rng), v = random_buf(EDITR1_F32, rows * d, rng);
    v.set(777, NAN);
    DevBuf dx(x), dv(v), dout(rows * d * 4), dflag(4);
    editr1_flow_step_params p{};
    p.rows = rows; p.row_len = d; p.dtype = EDITR1_F32; p.x = dx.p; p.v_cond = dv.p; p.x_out = dout.p;
    p.sigma = 0.5f; p.c_x = 1; p.c_v = -0.1f; p.nonfinite = (uint32_t*)dflag.p;
    ST(editr1_flow_step_cuda(&p, nullptr));
    uint32_t flag = 0;
    CK(cudaMemcpy(&flag, dflag.p, 4, cudaMemcpyDeviceToHost));
    expect("CUDA non-finite flag names v_cond", (flag & EDITR1_FLOW_NF_V_COND) && !(flag & EDITR1_FLOW_NF_X),
           "flag=" + std::to_string(flag));
    // a NaN logit
    HostBuf l = random_buf(EDITR1_F32, 2 * 151936, rng);
    l.set(151936 + 5000, NAN);
    DevBuf dl(l), ds(8), dflag2(4);
    editr1_logit_score_params q{};
    q.rows = 2; q.vocab = 151936; q.row_stride = 151936; q.dtype = EDITR1_F32; q.logits = dl.p; q.num_tokens = 1;
    q.token_ids[0] = 15; q.values[0] = 1; q.score = (float*)ds.p; q.nonfinite = (uint32_t*)dflag2.p;
    size_t wsb = editr1_logit_score_workspace_bytes(&q);
    DevBuf ws(wsb);
    q.workspace = ws.p; q.workspace_bytes = wsb;
    ST(editr1_logit_score_cuda(&q, nullptr));
    CK(cudaMemcpy(&flag, dflag2.p, 4, cudaMemcpyDeviceToHost));
    expect("CUDA non-finite flag names the logits", flag == EDITR1_SCORE_NF_LOGITS, "flag=" + std::to_string(flag));
    {  // a NaN in x' of a GRPO loss sets the x_next bit (the spoiled outputs may add the output bit)
        HostBuf xn = random_buf(EDITR1_F32, rows * d, rng), vt = random_buf(EDITR1_F32, rows * d, rng);
        xn.set(555, NAN);
        std::vector<float> adv = {1, -1}, lpo = {0, 0}, valid = {1, 1};
        DevBuf dxn(xn), dvt(vt), dgrad(rows * d * 4), dloss(4), dadv(8), dlpo(8), dvs(8), dflag3(4);
        CK(cudaMemcpy(dadv.p, adv.data(), 8, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(dlpo.p, lpo.data(), 8, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(dvs.p, valid.data(), 8, cudaMemcpyHostToDevice));
        editr1_grpo_loss_params g{};
        g.rows = rows; g.row_len = d; g.dtype = EDITR1_F32; g.x = dx.p; g.x_next = dxn.p; g.v_theta = dvt.p;
        g.advantage = (const float*)dadv.p; g.log_prob_old = (const float*)dlpo.p; g.valid = (const float*)dvs.p;
        g.c_x = 0.9; g.c_v = -0.25; g.std_log_prob = 0.3; g.std_kl = 0.7; g.clip_range = 1e-4; g.kl_weight = 0.04;
        g.loss = (float*)dloss.p; g.grad = dgrad.p; g.nonfinite = (uint32_t*)dflag3.p;
        size_t gwsb = editr1_grpo_loss_workspace_bytes(&g);
        DevBuf gws(gwsb);
        g.workspace = gws.p; g.workspace_bytes = gwsb;
        ST(editr1_grpo_loss_cuda(&g, nullptr));
        CK(cudaMemcpy(&flag, dflag3.p, 4, cudaMemcpyDeviceToHost));
        expect("CUDA non-finite flag names x_next of the GRPO loss",
               (flag & EDITR1_GRPO_NF_X_NEXT) && !(flag & (EDITR1_GRPO_NF_X | EDITR1_GRPO_NF_V_THETA)),
               "flag=" + std::to_string(flag));
    }
    // a missing workspace is an argument error, not a crash
    q.workspace = nullptr;
    expect("CUDA launch without its workspace is refused", editr1_logit_score_cuda(&q, nullptr) == EDITR1_ERR_INVALID_ARGUMENT,
           editr1_last_error());
}

// ============================================================================================
// Part 2: timing
// ============================================================================================

struct Timer {
    cudaEvent_t a, b;
    DevBuf flush;
    int reps;
    explicit Timer(int r) : flush((size_t)256 << 20), reps(r) {
        CK(cudaEventCreate(&a));
        CK(cudaEventCreate(&b));
    }
    /* median over reps of fn's time, L2 flushed (256 MB written) before each */
    double median_ms(const std::function<void()>& fn) {
        fn();  // warm-up
        CK(cudaDeviceSynchronize());
        std::vector<float> t;
        for (int i = 0; i < reps; ++i) {
            CK(cudaMemsetAsync(flush.p, i & 0xff, flush.bytes));
            CK(cudaEventRecord(a));
            fn();
            CK(cudaEventRecord(b));
            CK(cudaEventSynchronize(b));
            float ms = 0;
            CK(cudaEventElapsedTime(&ms, a, b));
            t.push_back(ms);
        }
        std::sort(t.begin(), t.end());
        return t[t.size() / 2];
    }
};

void report(Timer& tm, const char* name, double bytes, const std::function<void()>& fn) {
    // the ceiling: a device-to-device copy moving the same bytes (bytes/2 read + bytes/2 written)
    size_t half = (size_t)(bytes / 2) & ~(size_t)15;
    DevBuf src(half), dst(half);
    double copy_ms = tm.median_ms([&] { CK(cudaMemcpyAsync(dst.p, src.p, half, cudaMemcpyDeviceToDevice)); });
    double ms = tm.median_ms(fn);
    double gbs = bytes / (ms * 1e6), copy_gbs = 2.0 * half / (copy_ms * 1e6);
    printf("  %-58s %9.2f us %8.1f GB/s   copy %8.1f GB/s  %5.1f%%\n", name, ms * 1e3, gbs, copy_gbs,
           100.0 * gbs / copy_gbs);
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"timing\": \"%s\", \"us\": %.3f, \"bytes\": %.0f, \"gbps\": %.1f, \"copy_gbps\": %.1f, \"pct_copy\": %.1f}",
             name, ms * 1e3, bytes, gbs, copy_gbs, 100.0 * gbs / copy_gbs);
    json_item(buf);
}

void time_all(int reps, bool quick) {
    Timer tm(reps);
    std::mt19937_64 rng(9);
    printf("\nTiming (median of %d, L2 flushed; bytes = minimum traffic; copy = D2D of equal bytes)\n", reps);
    for (int dt : {EDITR1_F32, EDITR1_BF16}) {
        for (int64_t rows : {12LL, 96LL}) {
            if (quick && rows == 96) continue;
            const int64_t d = 16 * 64 * 64;  // SD3 latent at 512 px; a packed 1024 × 64 latent has the same D
            const size_t n = (size_t)(rows * d), s = dsize(dt);
            HostBuf hx = random_buf(dt, n, rng), hv = random_buf(dt, n, rng);
            DevBuf x(hx), vc(hv), vu(hv), m1(hx), out(n * s), x0(n * s), lp(rows * 4);
            char name[160];
            editr1_flow_step_params p{};
            p.rows = rows; p.row_len = d; p.dtype = dt; p.x = x.p; p.v_cond = vc.p; p.x_out = out.p;
            p.sigma = 0.5f; p.c_x = 1; p.c_v = -0.1f;
            snprintf(name, sizeof name, "flow euler %lldx%lld %s", (long long)rows, (long long)d, dname(dt));
            report(tm, name, 3.0 * n * s, [&] { ST(editr1_flow_step_cuda(&p, nullptr)); });
            editr1_flow_step_params q = p;
            q.v_uncond = vu.p; q.guidance = 4.5f; q.x0_prev = m1.p; q.c_x = 0.6f; q.c_v = 0; q.c_x0 = 0.5f;
            q.c_prev_x0 = -0.1f; q.x0_out = x0.p;
            snprintf(name, sizeof name, "flow dpm2m+cfg (x̂0 out) %lldx%lld %s", (long long)rows, (long long)d, dname(dt));
            report(tm, name, 6.0 * n * s, [&] { ST(editr1_flow_step_cuda(&q, nullptr)); });
            editr1_flow_step_params r = p;
            r.v_uncond = vu.p; r.guidance = 4.0f; r.rescale_channels = 64;
            snprintf(name, sizeof name, "flow cfg+rescale C=64 %lldx1024x64 %s", (long long)rows, dname(dt));
            report(tm, name, 4.0 * n * s, [&] { ST(editr1_flow_step_cuda(&r, nullptr)); });
            editr1_flow_step_params sd = p;
            sd.c_noise = 0.2f; sd.log_prob = (float*)lp.p;
            size_t wsb = editr1_flow_step_workspace_bytes(&sd);
            DevBuf ws(wsb);
            sd.workspace = ws.p; sd.workspace_bytes = wsb;
            snprintf(name, sizeof name, "flow sde philox+logprob %lldx%lld %s", (long long)rows, (long long)d, dname(dt));
            report(tm, name, 3.0 * n * s, [&] { ST(editr1_flow_step_cuda(&sd, nullptr)); });

            std::vector<float> ts(rows, 0.4f), rs(rows, 0.7f), vs(rows, 1.0f);
            DevBuf dts(rows * 4), drs(rows * 4), dvs(rows * 4), eps(n * s);
            CK(cudaMemcpy(dts.p, ts.data(), rows * 4, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(drs.p, rs.data(), rows * 4, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(dvs.p, vs.data(), rows * 4, cudaMemcpyHostToDevice));
            editr1_noise_params np{};
            np.rows = rows; np.row_len = d; np.dtype = dt; np.seed = 1; np.x0 = x.p; np.t = (const float*)dts.p;
            np.out = out.p; np.eps_out = eps.p;
            snprintf(name, sizeof name, "forward (x_t, ε) %lldx%lld %s", (long long)rows, (long long)d, dname(dt));
            report(tm, name, 3.0 * n * s, [&] { ST(editr1_noise_cuda(&np, nullptr)); });

            DevBuf vold(hv), vref(hx), grad(n * s), ell(rows * 4), kl(rows * 4), loss(4);
            editr1_nft_loss_params nf{};
            nf.rows = rows; nf.row_len = d; nf.dtype = dt; nf.form = EDITR1_NFT_X0; nf.x0 = x.p; nf.target = eps.p;
            nf.v_theta = vc.p; nf.v_old = vold.p; nf.v_ref = vref.p; nf.t = (const float*)dts.p;
            nf.r = (const float*)drs.p; nf.valid = (const float*)dvs.p; nf.beta = 1; nf.c = 5; nf.lambda = 1e-4;
            nf.floor = 1e-5; nf.ell = (float*)ell.p; nf.kl = (float*)kl.p; nf.loss = (float*)loss.p; nf.grad = grad.p;
            size_t nwsb = editr1_nft_loss_workspace_bytes(&nf);
            DevBuf nws(nwsb);
            nf.workspace = nws.p; nf.workspace_bytes = nwsb;
            snprintf(name, sizeof name, "nft loss+grad x0 form %lldx%lld %s", (long long)rows, (long long)d, dname(dt));
            report(tm, name, 6.0 * n * s, [&] { ST(editr1_nft_loss_cuda(&nf, nullptr)); });
            editr1_nft_loss_params nv = nf;
            nv.form = EDITR1_NFT_VELOCITY;
            snprintf(name, sizeof name, "nft loss+grad velocity form %lldx%lld %s", (long long)rows, (long long)d, dname(dt));
            report(tm, name, 6.0 * n * s, [&] { ST(editr1_nft_loss_cuda(&nv, nullptr)); });

            // GRPO at σ = 0.5 → 0.3: x' = ε's buffer (written above), A = r's 0.7, logp_old = t's 0.4
            const SdeScalars k = sde_scalars(0.5, 0.3, 0.9);
            DevBuf lpg(rows * 4), rag(rows * 4);
            editr1_grpo_loss_params gp{};
            gp.rows = rows; gp.row_len = d; gp.dtype = dt; gp.x = x.p; gp.x_next = eps.p; gp.v_theta = vc.p;
            gp.v_ref = vref.p; gp.advantage = (const float*)drs.p; gp.log_prob_old = (const float*)dts.p;
            gp.valid = (const float*)dvs.p; gp.c_x = k.c_x; gp.c_v = k.c_v; gp.std_log_prob = k.std_lp; gp.std_kl = k.s;
            gp.clip_range = 1e-4; gp.kl_weight = 0.04; gp.log_prob = (float*)lpg.p; gp.ratio = (float*)rag.p;
            gp.ell = (float*)ell.p; gp.kl = (float*)kl.p; gp.loss = (float*)loss.p; gp.grad = grad.p;
            size_t gwsb = editr1_grpo_loss_workspace_bytes(&gp);
            DevBuf gws(gwsb);
            gp.workspace = gws.p; gp.workspace_bytes = gwsb;
            // read x, x', v_θ, v_ref; write grad
            snprintf(name, sizeof name, "grpo loss+grad %lldx%lld %s", (long long)rows, (long long)d, dname(dt));
            report(tm, name, 5.0 * n * s, [&] { ST(editr1_grpo_loss_cuda(&gp, nullptr)); });
        }
        {
            const int64_t rows = 288, v = 151936;
            HostBuf hl = random_buf(dt, (size_t)(rows * v), rng, 3.0f);
            DevBuf l(hl), sc(rows * 4), pr(rows * 6 * 4), ms(rows * 4);
            editr1_logit_score_params q{};
            q.rows = rows; q.vocab = v; q.row_stride = v; q.dtype = dt; q.logits = l.p; q.num_tokens = 6;
            for (int k = 0; k < 6; ++k) { q.token_ids[k] = 15 + k; q.values[k] = (float)k; }
            q.score = (float*)sc.p; q.probs = (float*)pr.p; q.mass = (float*)ms.p;
            size_t wsb = editr1_logit_score_workspace_bytes(&q);
            DevBuf ws(wsb);
            q.workspace = ws.p; q.workspace_bytes = wsb;
            char name[160];
            snprintf(name, sizeof name, "logit score 288x151936 %s", dname(dt));
            report(tm, name, (double)rows * v * dsize(dt), [&] { ST(editr1_logit_score_cuda(&q, nullptr)); });
        }
    }
}

#endif  // EDITR1_GPU_CHECK_CUDA

}  // namespace

int main(int argc, char** argv) {
    std::string json_path;
    int reps = 50;
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--json" && i + 1 < argc) json_path = argv[++i];
        else if (a == "--reps" && i + 1 < argc) reps = atoi(argv[++i]);
        else if (a == "--quick") quick = true;
        else { fprintf(stderr, "usage: gpu_check [--json FILE] [--reps N] [--quick]\n"); return 64; }
    }
    printf("libeditr1 %s, CUDA path built: %s (%s)\n", editr1_version(), editr1_cuda_built() ? "yes" : "no",
           editr1_cuda_architectures());
    int devices = editr1_cuda_device_count();
#ifdef EDITR1_GPU_CHECK_CUDA
    if (devices <= 0) {
        printf("no usable CUDA device (%s): nothing to check here; the CUDA kernels compiled.\n",
               editr1_cuda_error_string());
        return 0;
    }
    printf("device 0: %s\n\nCorrectness: CUDA path vs CPU path\n", editr1_cuda_device_name(0));
    std::mt19937_64 rng(2026);
    check_philox();
    check_flags();
    for (int dt : {EDITR1_F32, EDITR1_BF16, EDITR1_F16}) {
        for (int64_t d : {1LL, 97LL, 1025LL, 65539LL}) {
            check_flow(dt, d, rng);
            check_noise(dt, d);
            check_nft(dt, d, rng);
            check_grpo(dt, d, rng);
        }
        for (int64_t v : {6LL, 97LL, 151936LL}) check_score(dt, v, rng);
    }
    printf("\n%d checks, %d failed\n", g_checks, g_failures);
    time_all(reps, quick);
#else
    printf("built without CUDA (%d): nothing to check\n", devices);
#endif
    g_json += "\n  ],\n  \"failures\": " + std::to_string(g_failures) + "\n}\n";
    if (!json_path.empty()) {
        std::string tmp = json_path + ".tmp";
        FILE* f = fopen(tmp.c_str(), "w");
        if (f) {
            fputs(g_json.c_str(), f);
            fclose(f);
            rename(tmp.c_str(), json_path.c_str());
        }
    }
    return g_failures == 0 ? 0 : 1;
}
