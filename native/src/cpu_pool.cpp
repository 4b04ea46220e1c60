/*
 * cpu_pool.cpp — the CPU path's threads: a small pool that keeps its speed on a busy machine.
 *
 * Why not OpenMP (what the kernels used until 2026-11-30, measured in bench/RESULTS.md): an
 * OpenMP region splits its items statically and ends in a barrier that every thread of the team
 * must reach, and libgomp's threads spin while they wait. With one other busy process on a
 * 2-core machine, one of our two threads is regularly descheduled for a whole time slice; the
 * other finishes its half and then spins at the barrier, so the core that could run the late
 * thread stays busy spinning. The fused NFT loss fell from ~1,200 to 10 ops/s that way.
 *
 * Here a job is a count of units and a function. Each participant (the caller is participant 0,
 * pool workers 1..P−1) owns a contiguous range of units, as a static schedule would give it, and
 * takes units from its front; a participant with nothing left steals single units from the back
 * of the others' ranges. So:
 *   - quiet, every thread works its own range, in the same unit→thread mapping for a kernel's
 *     pass 1 and pass 2 (the second pass re-reads this core's cache), as before;
 *   - loaded, a descheduled worker's units are done by whoever runs, and a worker that wakes up
 *     after the job was finished finds nothing to claim: the caller waits only for units already
 *     claimed, never for a thread to arrive;
 *   - a job uses only as many threads as other processes leave CPUs free (kSampleNanos below:
 *     when the machine is oversubscribed, one thread that keeps its core beats two that take
 *     turns on it);
 *   - waiting spins for a few tens of microseconds (consecutive jobs of one kernel follow each
 *     other that closely), then sleeps on a futex, so a waiting thread gives its core to the thread
 *     it waits for instead of spinning on it.
 * Results do not depend on the schedule: each unit writes its own partial sums, which the kernels
 * add in unit order.
 *
 * Each range is one 64-bit word, [seq:20 | next:22 | end:22], claimed by compare-and-swap (the
 * owner raises next, thieves lower end); the job's sequence number in the word makes a claim on
 * a finished job's stale word fail. Jobs of more than 2^22 − 1 units are run in slices.
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EDITR1_CPU_RELAX() _mm_pause()
#else
#define EDITR1_CPU_RELAX() ((void)0)
#endif

namespace editr1 {

namespace {

constexpr int kMaxParts = 64;
constexpr uint64_t kIdxBits = 22;
constexpr uint64_t kIdxMask = (1ull << kIdxBits) - 1;
constexpr int64_t kMaxUnitsPerJob = (int64_t)kIdxMask;
constexpr uint64_t kSeqMask = (1ull << (64 - 2 * kIdxBits)) - 1;

/* How long a waiting thread spins before it sleeps. The caller waits up to kSpinNanos for the last
   claimed units; a worker waits up to kWorkerSpinNanos for the next job: a kernel's jobs follow each
   other within microseconds, and between two calls the caller often spends a few hundred (fresh
   outputs are page-faulted in); a worker woken from sleep starts tens of microseconds late, its
   share is stolen, and the second pass of a two-pass kernel then misses this core's cache. Spinning
   workers yield the core every 64 polls, so a thread that needs it (OpenBLAS, libtorch) gets it. */
constexpr int64_t kSpinNanos = 50000;
constexpr int64_t kWorkerSpinNanos = 1000000;

/* Load from other processes, sampled every kSampleNanos from /proc/stat (the busy time of the CPUs
   this process may run on) minus this process's own CPU time (getrusage). Where other processes
   keep k of our n CPUs busy (a CPU counts from 0.75 busy), jobs run on n − k threads (at least one): with the Linux
   scheduler's autogroups a busy process of another session gets its fair share whatever our
   thread count, so more threads than the CPUs left only take turns on one core and evict each
   other's cache lines (measured: the NFT loss at 12×16×64×64 under one busy process, 2 threads
   297 ops/s, 1 thread 419; bench/RESULTS.md). */
constexpr int64_t kSampleNanos = 100000000;

inline uint64_t pack(uint64_t seq, uint64_t next, uint64_t end) {
    return ((seq & kSeqMask) << (2 * kIdxBits)) | (next << kIdxBits) | end;
}
inline uint64_t next_of(uint64_t w) { return (w >> kIdxBits) & kIdxMask; }
inline uint64_t end_of(uint64_t w) { return w & kIdxMask; }

long futex(std::atomic<uint32_t>* word, int op, uint32_t val) {
    return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op | FUTEX_PRIVATE_FLAG, val, nullptr, nullptr, 0);
}

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/* Spins until *word != old or the spin budget is spent; true if it changed. */
bool spin_while_equal(const std::atomic<uint32_t>& word, uint32_t old, int64_t budget) {
    const int64_t until = now_ns() + budget;
    for (int i = 1;; ++i) {
        if (word.load(std::memory_order_acquire) != old) return true;
        EDITR1_CPU_RELAX();
        if ((i & 63) == 0) {
            if (now_ns() > until) return false;
            sched_yield();
        }
    }
}

/* The CPUs other processes leave this one, from two readings of /proc/stat and getrusage. */
struct LoadSampler {
    std::atomic<int> spare{0};                       // 0: not sampled yet
    std::atomic<int64_t> next_sample{0};
    std::mutex sampling;
    int64_t last_busy_ticks = -1, last_self_us = 0, last_wall = 0;   // (under sampling)
};

struct alignas(64) Range {
    std::atomic<uint64_t> w{0};
};

struct Pool {
    std::mutex submit;                      // one job at a time; a caller that finds it taken runs alone
    std::mutex grow;                        // guards workers_started
    int workers_started = 0;
    uint64_t seq = 0;                       // the current job's sequence number (under submit)

    alignas(64) std::atomic<uint32_t> gen{0};        // futex word: bumped when a job is published
    std::atomic<int> sleepers{0};                    // workers sleeping on gen
    alignas(64) std::atomic<uint32_t> done{0};       // futex word: units finished in the current job
    std::atomic<uint32_t> units{0};
    std::atomic<int> caller_sleeping{0};
    std::atomic<uint32_t> mask{0};
    std::atomic<UnitFn> fn{nullptr};
    std::atomic<void*> ctx{nullptr};
    std::atomic<int64_t> offset{0};                  // first unit of the slice being run
    std::atomic<int> parts{1};
    Range range[kMaxParts];

    LoadSampler jobs;                                // for the jobs' thread count, every kSampleNanos
};

/* Never destroyed: its workers are detached and may sleep in futex_wait at exit. */
Pool& pool() {
    static Pool* p = new Pool();
    return *p;
}

/* Claims one unit of the current job for participant `me`: its own range first, then the back of
   the others'. Returns false when every range is empty. */
bool claim(Pool& P, int me, int parts, int64_t& unit) {
    for (int k = 0; k < parts; ++k) {
        const int victim = (me + k) % parts;
        std::atomic<uint64_t>& w = P.range[victim].w;
        uint64_t cur = w.load(std::memory_order_acquire);
        for (;;) {
            const uint64_t nx = next_of(cur), en = end_of(cur);
            if (nx >= en) break;
            const uint64_t seq = cur >> (2 * kIdxBits);
            const uint64_t upd = k == 0 ? pack(seq, nx + 1, en) : pack(seq, nx, en - 1);
            if (w.compare_exchange_weak(cur, upd, std::memory_order_acq_rel, std::memory_order_acquire)) {
                unit = (int64_t)(k == 0 ? nx : en - 1);
                return true;
            }
        }
    }
    return false;
}

/* Runs units of the current job until none is left to claim. */
void work(Pool& P, int me) {
    const int parts = P.parts.load(std::memory_order_acquire);
    if (me >= parts) return;
    int64_t unit;
    while (claim(P, me, parts, unit)) {
        // a successful claim pins the job: its caller waits for this unit, so fn and ctx are its own
        const uint32_t m = P.fn.load(std::memory_order_relaxed)(P.ctx.load(std::memory_order_relaxed),
                                                                P.offset.load(std::memory_order_relaxed) + unit);
        if (m) P.mask.fetch_or(m, std::memory_order_relaxed);
        if (P.done.fetch_add(1, std::memory_order_seq_cst) + 1 == P.units.load(std::memory_order_relaxed) &&
            P.caller_sleeping.load(std::memory_order_seq_cst))
            futex(&P.done, FUTEX_WAKE, INT_MAX);
    }
}

void worker_main(int me) {
    Pool& P = pool();
    for (;;) {
        const uint32_t g = P.gen.load(std::memory_order_acquire);
        work(P, me);
        if (spin_while_equal(P.gen, g, kWorkerSpinNanos)) continue;
        P.sleepers.fetch_add(1, std::memory_order_seq_cst);
        while (P.gen.load(std::memory_order_seq_cst) == g) futex(&P.gen, FUTEX_WAIT, g);
        P.sleepers.fetch_sub(1, std::memory_order_relaxed);
    }
}

void ensure_workers(Pool& P, int parts) {
    std::lock_guard<std::mutex> lock(P.grow);
    while (P.workers_started < parts - 1) {
        const int me = ++P.workers_started;
        std::thread(worker_main, me).detach();
    }
}

/* One job of at most kMaxUnitsPerJob units on `parts` participants (the submit lock held). */
uint32_t run_slice(Pool& P, int parts, int64_t offset, int64_t units, UnitFn fn, void* ctx) {
    const uint64_t seq = ++P.seq;
    P.fn.store(fn, std::memory_order_relaxed);
    P.ctx.store(ctx, std::memory_order_relaxed);
    P.offset.store(offset, std::memory_order_relaxed);
    P.mask.store(0, std::memory_order_relaxed);
    P.units.store((uint32_t)units, std::memory_order_relaxed);
    P.done.store(0, std::memory_order_relaxed);
    P.parts.store(parts, std::memory_order_relaxed);
    // the ranges of a static schedule: the first (units % parts) participants get one more unit
    const int64_t base = units / parts, extra = units % parts;
    int64_t b = 0;
    // (ranges of participants past `parts` were emptied by their last job: every unit gets claimed)
    for (int i = 0; i < parts; ++i) {
        const int64_t n = base + (i < extra ? 1 : 0);
        P.range[i].w.store(pack(seq, (uint64_t)b, (uint64_t)(b + n)), std::memory_order_release);
        b += n;
    }
    P.gen.fetch_add(1, std::memory_order_seq_cst);
    if (P.sleepers.load(std::memory_order_seq_cst) > 0) futex(&P.gen, FUTEX_WAKE, INT_MAX);

    work(P, 0);
    // every unit is claimed; wait for those other threads still run: spin a little, then sleep
    const uint32_t total = (uint32_t)units;
    const int64_t until = now_ns() + kSpinNanos;
    for (int i = 1; P.done.load(std::memory_order_acquire) != total; ++i) {
        EDITR1_CPU_RELAX();
        if ((i & 63) != 0 || now_ns() < until) continue;
        P.caller_sleeping.store(1, std::memory_order_seq_cst);
        for (uint32_t d; (d = P.done.load(std::memory_order_seq_cst)) != total;) futex(&P.done, FUTEX_WAIT, d);
        P.caller_sleeping.store(0, std::memory_order_relaxed);
        break;
    }
    return P.mask.load(std::memory_order_relaxed);
}

/* ---- the thread count and why ---- */

std::atomic<int> g_threads{0};  // 0: the default below

int cgroup_cpu_limit() {
    // cgroup v2: "max 100000" or "<quota> <period>"
    if (FILE* f = fopen("/sys/fs/cgroup/cpu.max", "r")) {
        char q[32] = {0};
        long period = 0;
        int n = fscanf(f, "%31s %ld", q, &period);
        fclose(f);
        if (n == 2 && strcmp(q, "max") != 0 && period > 0) {
            long quota = atol(q);
            if (quota > 0) return (int)std::max<long>(1, (quota + period - 1) / period);
        }
        return 0;
    }
    // cgroup v1
    long quota = -1, period = 0;
    if (FILE* f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r")) {
        if (fscanf(f, "%ld", &quota) != 1) quota = -1;
        fclose(f);
    }
    if (FILE* f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r")) {
        if (fscanf(f, "%ld", &period) != 1) period = 0;
        fclose(f);
    }
    return quota > 0 && period > 0 ? (int)std::max<long>(1, (quota + period - 1) / period) : 0;
}

int affinity_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
    return std::max(1, (int)std::thread::hardware_concurrency());
}

struct DefaultThreads {
    int n;
    int cpus;           // in the affinity mask
    bool sample;        // no cgroup quota below the mask: /proc/stat's CPUs are the ones we compete for
    std::string why;
};

const DefaultThreads& default_threads() {
    static const DefaultThreads d = [] {
        const int cpus = affinity_cpus(), limit = cgroup_cpu_limit();
        DefaultThreads r;
        r.n = std::min(kMaxParts, limit > 0 ? std::min(cpus, limit) : cpus);
        r.cpus = cpus;
        r.sample = !(limit > 0 && limit < cpus);
        r.why = std::to_string(cpus) + " CPU" + (cpus == 1 ? "" : "s") + " this process may run on (sched_getaffinity)";
        if (limit > 0) r.why += ", cgroup CPU quota " + std::to_string(limit);
        if (r.n == kMaxParts) r.why += ", capped at " + std::to_string(kMaxParts);
        if (r.sample) r.why += "; a job uses fewer while other processes keep some of them busy (/proc/stat, every 0.1 s)";
        return r;
    }();
    return d;
}

/* Busy clock ticks (everything but idle and iowait) summed over the CPUs in this process's affinity
   mask, or -1 when /proc/stat cannot be read. */
int64_t busy_ticks() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    FILE* f = fopen("/proc/stat", "r");
    if (!f) return -1;
    char line[512];
    int64_t busy = 0;
    bool any = false;
    while (fgets(line, sizeof line, f)) {
        int cpu;
        unsigned long long v[8] = {0};
        if (strncmp(line, "cpu", 3) != 0) break;
        if (line[3] == ' ') continue;  // the all-CPU line
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]) < 9)
            continue;
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &set)) continue;
        busy += (int64_t)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);  // user nice system irq softirq steal
        any = true;
    }
    fclose(f);
    return any ? busy : -1;
}

int64_t self_cpu_us() {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* Re-estimates how many CPUs other processes leave free over the time since the last reading, at
   most every `interval` ns. A CPU counts as taken from 0.75 of its time on: the readings are in
   clock ticks (10 ms), so a 0.1 s window is good to about ±0.2 CPU. */
void sample_load(LoadSampler& P, int64_t now, int cpus, int64_t interval) {
    if (now < P.next_sample.load(std::memory_order_relaxed)) return;
    std::unique_lock<std::mutex> lock(P.sampling, std::try_to_lock);
    if (!lock.owns_lock()) return;
    P.next_sample.store(now + interval, std::memory_order_relaxed);
    static const double tick_s = 1.0 / (double)std::max(1L, sysconf(_SC_CLK_TCK));
    const int64_t busy = busy_ticks(), self = self_cpu_us();
    if (busy >= 0 && P.last_busy_ticks >= 0 && now > P.last_wall) {
        const double wall = (double)(now - P.last_wall) * 1e-9;
        const double others = ((double)(busy - P.last_busy_ticks) * tick_s - (double)(self - P.last_self_us) * 1e-6) / wall;
        const int spare = cpus - (int)std::floor(std::max(0.0, others) + 0.25);
        P.spare.store(std::max(1, spare), std::memory_order_relaxed);
    }
    P.last_busy_ticks = busy;
    P.last_self_us = self;
    P.last_wall = now;
}

}  // namespace

int cpu_threads() {
    const int n = g_threads.load(std::memory_order_relaxed);
    return n > 0 ? std::min(n, kMaxParts) : default_threads().n;
}

uint32_t run_units(int64_t units, UnitFn fn, void* ctx) {
    if (units <= 0) return 0;
    const int threads = cpu_threads();
    int parts = (int)std::min<int64_t>(threads, units);
    Pool& P = pool();
    const int64_t now = now_ns();
    if (parts > 1 && default_threads().sample) {
        sample_load(P.jobs, now, default_threads().cpus, kSampleNanos);
        const int spare = P.jobs.spare.load(std::memory_order_relaxed);
        if (spare > 0) parts = std::min(parts, spare);
    }
    std::unique_lock<std::mutex> lock(P.submit, std::try_to_lock);
    if (parts <= 1 || !lock.owns_lock()) {
        // one thread, one unit, or another thread's job on the pool: the caller runs alone
        uint32_t m = 0;
        for (int64_t u = 0; u < units; ++u) m |= fn(ctx, u);
        return m;
    }
    ensure_workers(P, parts);
    uint32_t m = 0;
    for (int64_t off = 0; off < units; off += kMaxUnitsPerJob)
        m |= run_slice(P, parts, off, std::min(kMaxUnitsPerJob, units - off), fn, ctx);
    return m;
}

}  // namespace editr1

using namespace editr1;

extern "C" {

int editr1_cpu_threads(void) { return cpu_threads(); }

void editr1_set_cpu_threads(int n) { g_threads.store(n > 0 ? n : 0, std::memory_order_relaxed); }

int editr1_cpu_pool_spare(void) { return pool().jobs.spare.load(std::memory_order_relaxed); }

int editr1_cpu_spare(void) {
    // its own readings: the window is the time since the caller's last call (a trainer: one epoch)
    static LoadSampler* caller = new LoadSampler();
    if (default_threads().sample) sample_load(*caller, now_ns(), default_threads().cpus, 0);
    return caller->spare.load(std::memory_order_relaxed);
}

namespace {
/* OpenBLAS as libtorch loaded it (by soname, RTLD_NOLOAD: never a second copy), or null. */
void* openblas_symbol(const char* name) {
    static void* lib = dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD);
    return lib ? dlsym(lib, name) : nullptr;
}
}  // namespace

int editr1_blas_threads(void) {
    auto get = reinterpret_cast<int (*)(void)>(openblas_symbol("openblas_get_num_threads"));
    return get ? get() : 0;
}

int editr1_set_blas_threads(int n) {
    auto set = reinterpret_cast<void (*)(int)>(openblas_symbol("openblas_set_num_threads"));
    if (!set || n < 1) return 0;
    set(n);
    return 1;
}

const char* editr1_blas_core(void) {
    auto name = reinterpret_cast<char* (*)(void)>(openblas_symbol("openblas_get_corename"));
    return name ? name() : nullptr;
}

const char* editr1_cpu_threads_reason(void) {
    thread_local std::string why;
    const int n = g_threads.load(std::memory_order_relaxed);
    const DefaultThreads& d = default_threads();
    why = n > 0 ? "set to " + std::to_string(n) + " by editr1_set_cpu_threads (the default would be " + std::to_string(d.n) +
                      ": " + d.why + ")"
                : "default: " + d.why;
    return why.c_str();
}

}  // extern "C"
