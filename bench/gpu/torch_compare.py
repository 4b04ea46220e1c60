#!/usr/bin/env python3
"""Times libeditr1's CUDA kernels beside PyTorch eager and torch.compile versions of the same math.

All three run in one process on the same tensors: libeditr1 is loaded with ctypes and launched on
torch's current stream. Each timing is the median of many CUDA-event measurements with the L2
flushed (a 256 MB write) before every repeat. Beside each kernel: a device-to-device copy of the
same bytes (the ceiling), the GB/s on the kernel's minimum bytes, and the ratios to eager and
compiled. Before timing, the native result is checked against eager's.

    python3 bench/gpu/torch_compare.py --lib build/libeditr1.so [--json out.json] [--reps 50]
        [--deadline-s 300] [--no-compile]
"""
import argparse
import ctypes as C
import json
import math
import os
import sys
import time

import torch

# ---- the C API's structs (native/include/editr1.h), field for field ----------------------------


class FlowStep(C.Structure):
    _fields_ = [("rows", C.c_int64), ("row_len", C.c_int64), ("dtype", C.c_int32),
                ("x", C.c_void_p), ("v_cond", C.c_void_p), ("v_uncond", C.c_void_p),
                ("guidance", C.c_float), ("rescale_channels", C.c_int64),
                ("sigma", C.c_float), ("c_x", C.c_float), ("c_v", C.c_float), ("c_x0", C.c_float),
                ("c_prev_x0", C.c_float), ("c_noise", C.c_float),
                ("x0_prev", C.c_void_p), ("noise", C.c_void_p),
                ("noise_seed", C.c_uint64), ("noise_row_offset", C.c_uint64), ("noise_stream", C.c_uint32),
                ("x_given", C.c_void_p), ("x_out", C.c_void_p), ("x0_out", C.c_void_p),
                ("log_prob", C.c_void_p), ("nonfinite", C.c_void_p),
                ("workspace", C.c_void_p), ("workspace_bytes", C.c_size_t)]


class Noise(C.Structure):
    _fields_ = [("rows", C.c_int64), ("row_len", C.c_int64), ("dtype", C.c_int32),
                ("seed", C.c_uint64), ("row_offset", C.c_uint64), ("stream", C.c_uint32),
                ("x0", C.c_void_p), ("t", C.c_void_p), ("out", C.c_void_p), ("eps_out", C.c_void_p),
                ("nonfinite", C.c_void_p)]


class NftLoss(C.Structure):
    _fields_ = [("rows", C.c_int64), ("row_len", C.c_int64), ("dtype", C.c_int32), ("form", C.c_int32),
                ("target_is_xt", C.c_int32),
                ("x0", C.c_void_p), ("target", C.c_void_p), ("v_theta", C.c_void_p), ("v_old", C.c_void_p),
                ("v_ref", C.c_void_p), ("t", C.c_void_p), ("r", C.c_void_p), ("valid", C.c_void_p),
                ("beta", C.c_double), ("c", C.c_double), ("lambda_", C.c_double), ("floor", C.c_double),
                ("ell", C.c_void_p), ("kl", C.c_void_p), ("loss", C.c_void_p), ("grad", C.c_void_p),
                ("nonfinite", C.c_void_p), ("workspace", C.c_void_p), ("workspace_bytes", C.c_size_t)]


class LogitScore(C.Structure):
    _fields_ = [("rows", C.c_int64), ("vocab", C.c_int64), ("row_stride", C.c_int64), ("dtype", C.c_int32),
                ("logits", C.c_void_p), ("num_tokens", C.c_int32),
                ("token_ids", C.c_int32 * 32), ("values", C.c_float * 32), ("mode", C.c_int32),
                ("score", C.c_void_p), ("probs", C.c_void_p), ("mass", C.c_void_p),
                ("nonfinite", C.c_void_p), ("workspace", C.c_void_p), ("workspace_bytes", C.c_size_t)]


DTYPE = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}


def load(path):
    lib = C.CDLL(path)
    lib.editr1_last_error.restype = C.c_char_p
    for name, st in (("flow_step", FlowStep), ("nft_loss", NftLoss), ("logit_score", LogitScore)):
        getattr(lib, f"editr1_{name}_workspace_bytes").restype = C.c_size_t
        getattr(lib, f"editr1_{name}_workspace_bytes").argtypes = [C.POINTER(st)]
        getattr(lib, f"editr1_{name}_cuda").argtypes = [C.POINTER(st), C.c_void_p]
    lib.editr1_noise_cuda.argtypes = [C.POINTER(Noise), C.c_void_p]
    return lib


def ptr(t):
    return None if t is None else t.data_ptr()


class Native:
    """libeditr1 launches on torch's current stream; workspaces from torch's allocator."""

    def __init__(self, lib):
        self.lib = lib

    def _run(self, fn, p):
        s = fn(C.byref(p), C.c_void_p(torch.cuda.current_stream().cuda_stream))
        if s != 0:
            raise RuntimeError(f"status {s}: {self.lib.editr1_last_error().decode()}")

    def _ws(self, fn, p, dev):
        n = fn(C.byref(p))
        if n:
            ws = torch.empty(n, dtype=torch.uint8, device=dev)
            p.workspace, p.workspace_bytes = ws.data_ptr(), n
            return ws
        return None

    def flow(self, x, vc, out, *, sigma, cx=1.0, cv=0.0, cx0=0.0, cm1=0.0, cn=0.0, vu=None, w=1.0, C_=0,
             m1=None, x0_out=None, log_prob=None, seed=0):
        p = FlowStep(rows=x.shape[0], row_len=x[0].numel(), dtype=DTYPE[x.dtype], x=ptr(x), v_cond=ptr(vc),
                     v_uncond=ptr(vu), guidance=w, rescale_channels=C_, sigma=sigma, c_x=cx, c_v=cv, c_x0=cx0,
                     c_prev_x0=cm1 if m1 is not None else 0.0, c_noise=cn, x0_prev=ptr(m1), noise_seed=seed,
                     x_out=ptr(out), x0_out=ptr(x0_out), log_prob=ptr(log_prob))
        ws = self._ws(self.lib.editr1_flow_step_workspace_bytes, p, x.device)
        self._run(self.lib.editr1_flow_step_cuda, p)
        del ws

    def forward(self, x0, t, out, eps, seed=1):
        p = Noise(rows=x0.shape[0], row_len=x0[0].numel(), dtype=DTYPE[x0.dtype], seed=seed, x0=ptr(x0), t=ptr(t),
                  out=ptr(out), eps_out=ptr(eps))
        self._run(self.lib.editr1_noise_cuda, p)

    def nft(self, x0, eps, vth, vold, vref, t, r, valid, ell, kl, loss, grad, form=0):
        p = NftLoss(rows=x0.shape[0], row_len=x0[0].numel(), dtype=DTYPE[x0.dtype], form=form, target_is_xt=0,
                    x0=ptr(x0), target=ptr(eps), v_theta=ptr(vth), v_old=ptr(vold), v_ref=ptr(vref), t=ptr(t),
                    r=ptr(r), valid=ptr(valid), beta=1.0, c=5.0, lambda_=1e-4, floor=1e-5, ell=ptr(ell), kl=ptr(kl),
                    loss=ptr(loss), grad=ptr(grad))
        ws = self._ws(self.lib.editr1_nft_loss_workspace_bytes, p, x0.device)
        self._run(self.lib.editr1_nft_loss_cuda, p)
        del ws

    def score(self, logits, ids, values, score, probs, mass):
        p = LogitScore(rows=logits.shape[0], vocab=logits.shape[1], row_stride=logits.stride(0),
                       dtype=DTYPE[logits.dtype], logits=ptr(logits), num_tokens=len(ids), mode=0,
                       score=ptr(score), probs=ptr(probs), mass=ptr(mass))
        for i, (k, v) in enumerate(zip(ids, values)):
            p.token_ids[i], p.values[i] = k, v
        ws = self._ws(self.lib.editr1_logit_score_workspace_bytes, p, logits.device)
        self._run(self.lib.editr1_logit_score_cuda, p)
        del ws


# ---- the same math in eager PyTorch (what a user writes without custom kernels) -----------------


def flow_euler(x, v, dt):
    return x + dt * v


def flow_dpm2m_cfg(x, vc, vu, m1, w, sigma, cx, cx0, cm1):
    v = vu + w * (vc - vu)
    x0 = x - sigma * v
    return cx * x + cx0 * x0 + cm1 * m1, x0


def flow_cfg_rescale(x, vc, vu, w, dt, C_):
    v = vu + w * (vc - vu)
    b = x.shape[0]
    v3, c3 = v.reshape(b, -1, C_), vc.reshape(b, -1, C_)
    v = (v3 * (c3.norm(dim=-1, keepdim=True) / v3.norm(dim=-1, keepdim=True))).reshape(x.shape)
    return x + dt * v


def flow_sde(x, v, cx, cv, cn):
    mean = cx * x + cv * v
    nxt = mean + cn * torch.randn_like(x)
    lp = (-((nxt - mean) ** 2) / (2 * cn * cn) - math.log(cn) - 0.5 * math.log(2 * math.pi)).flatten(1).mean(1)
    return nxt, lp


def forward_process(x0, t):
    eps = torch.randn_like(x0)
    tt = t.view(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return (1 - tt) * x0 + tt * eps, eps


def nft_loss(x0, eps, vth, vold, vref, t, r, valid, beta=1.0, c=5.0, lam=1e-4, floor=1e-5):
    tt = t.view(-1, *([1] * (x0.dim() - 1)))
    xt = (1 - tt) * x0 + tt * eps
    vp = beta * vth + (1 - beta) * vold
    vn = (1 + beta) * vold - beta * vth
    ep, en = xt - tt * vp - x0, xt - tt * vn - x0
    wp = ep.abs().flatten(1).float().mean(1).clamp_min(floor).detach()
    wn = en.abs().flatten(1).float().mean(1).clamp_min(floor).detach()
    lp = (ep.float() ** 2).flatten(1).mean(1) / wp
    ln = (en.float() ** 2).flatten(1).mean(1) / wn
    ell = c * (r * lp + (1 - r) * ln) / beta
    kl = ((vth - vref).float() ** 2).flatten(1).mean(1)
    return (valid * ell).sum() / valid.sum() + lam * (valid * kl).sum() / valid.sum()


def nft_loss_and_grad(x0, eps, vth, vold, vref, t, r, valid):
    v = vth.detach().requires_grad_(True)
    loss = nft_loss(x0, eps, v, vold, vref, t, r, valid)
    (g,) = torch.autograd.grad(loss, v)
    return loss.detach(), g


def logit_score(logits, ids, values):
    lf = logits.float()
    kl = lf[:, ids]
    p = kl.softmax(-1)
    score = (p * values).sum(-1) / values.max()
    mass = (kl - lf.logsumexp(-1, keepdim=True)).exp().sum(-1)
    return score, p, mass


# ---- timing ---------------------------------------------------------------------------------------

FLUSH = None


def median_ms(fn, reps):
    global FLUSH
    if FLUSH is None:
        FLUSH = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        FLUSH.zero_()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def copy_ms(nbytes, reps):
    half = (nbytes // 2) // 16 * 16
    src = torch.empty(half, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    return median_ms(lambda: dst.copy_(src), reps), 2 * half


def close(a, b, tol):
    a, b = a.float(), b.float()
    err = (a - b).abs().max().item()
    scale = b.abs().max().item() + 1e-12
    return err <= tol * scale, err / scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--json")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--deadline-s", type=float, default=300.0, help="stop compiling new cases after this")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    t_start = time.time()
    torch.manual_seed(0)
    nat = Native(load(args.lib))
    dev = "cuda"
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    rows_out = []
    failures = 0

    def case(name, nbytes, native_fn, eager_fn, check=None, compile_fn=None):
        nonlocal failures
        ok_note = ""
        if check is not None:
            ok, rel = check()
            ok_note = f"check {'ok' if ok else 'FAIL'} (rel {rel:.1e})"
            failures += 0 if ok else 1
        t_copy, moved = copy_ms(nbytes, args.reps)
        t_nat = median_ms(native_fn, args.reps)
        t_eag = median_ms(eager_fn, args.reps)
        t_cmp = None
        if compile_fn is not None and not args.no_compile and time.time() - t_start < args.deadline_s:
            try:
                t_cmp = median_ms(compile_fn, args.reps)
            except Exception as e:  # noqa: BLE001 — report, keep the other numbers
                print(f"  torch.compile failed for {name}: {type(e).__name__}: {e}"[:300])
        copy_gbs = moved / (t_copy * 1e6)
        gbs = nbytes / (t_nat * 1e6)
        r = dict(kernel=name, bytes=nbytes, native_us=t_nat * 1e3, eager_us=t_eag * 1e3,
                 compiled_us=None if t_cmp is None else t_cmp * 1e3, gbps=gbs, copy_gbps=copy_gbs,
                 pct_copy=100 * gbs / copy_gbs, x_eager=t_eag / t_nat,
                 x_compiled=None if t_cmp is None else t_cmp / t_nat, check=ok_note)
        rows_out.append(r)
        cmp_s = f"{t_cmp * 1e3:9.1f}" if t_cmp is not None else "        -"
        xc = f"{t_cmp / t_nat:5.2f}x" if t_cmp is not None else "    -"
        print(f"  {name:46s} {t_nat * 1e3:8.1f} {t_eag * 1e3:9.1f} {cmp_s}  {gbs:7.0f} {100 * gbs / copy_gbs:5.1f}%"
              f"  {t_eag / t_nat:5.2f}x {xc}  {ok_note}", flush=True)

    print(f"  {'kernel':46s} {'native':>8s} {'eager':>9s} {'compiled':>9s}  {'GB/s':>7s} {'%copy':>6s}"
          f"  {'vs eag':>6s} {'vs cmp':>6s}   (us, median of {args.reps}, L2 flushed)")
    for dt in (torch.float32, torch.bfloat16):
        s = torch.tensor([], dtype=dt).element_size()
        tag = "f32" if dt == torch.float32 else "bf16"
        B, D = 12, 16 * 64 * 64
        x = torch.randn(B, 16, 64, 64, device=dev, dtype=dt)
        vc, vu, m1 = torch.randn_like(x), torch.randn_like(x), torch.randn_like(x)
        out, x0o = torch.empty_like(x), torch.empty_like(x)
        n = x.numel()

        # Euler
        c_eu = torch.compile(flow_euler)
        case(f"flow euler 12x16x64x64 {tag}", 3 * n * s,
             lambda: nat.flow(x, vc, out, sigma=0.5, cv=-0.1),
             lambda: flow_euler(x, vc, -0.1),
             check=lambda: (nat.flow(x, vc, out, sigma=0.5, cv=-0.1), close(out, flow_euler(x, vc, -0.1), 1e-2))[1],
             compile_fn=lambda: c_eu(x, vc, -0.1))
        # DPM-Solver++(2M) middle step with CFG, writing x̂0
        kw = dict(w=4.5, sigma=0.5, cx=0.6, cx0=0.52, cm1=-0.13)
        c_dpm = torch.compile(flow_dpm2m_cfg)
        case(f"flow dpm2m+cfg 12x16x64x64 {tag}", 6 * n * s,
             lambda: nat.flow(x, vc, out, sigma=0.5, cx=0.6, cx0=0.52, cm1=-0.13, vu=vu, w=4.5, m1=m1, x0_out=x0o),
             lambda: flow_dpm2m_cfg(x, vc, vu, m1, **kw),
             check=lambda: (nat.flow(x, vc, out, sigma=0.5, cx=0.6, cx0=0.52, cm1=-0.13, vu=vu, w=4.5, m1=m1,
                                     x0_out=x0o), close(out, flow_dpm2m_cfg(x, vc, vu, m1, **kw)[0], 2e-2))[1],
             compile_fn=lambda: c_dpm(x, vc, vu, m1, **kw))
        # Qwen true CFG: packed 1024 tokens x 64 channels, per-token rescale
        xp, vcp, vup = x.view(B, 1024, 64), vc.view(B, 1024, 64), vu.view(B, 1024, 64)
        outp = out.view(B, 1024, 64)
        c_rs = torch.compile(flow_cfg_rescale)
        case(f"flow cfg+rescale 12x1024x64 {tag}", 4 * n * s,
             lambda: nat.flow(xp, vcp, outp, sigma=0.5, cv=-0.2, vu=vup, w=4.0, C_=64),
             lambda: flow_cfg_rescale(xp, vcp, vup, 4.0, -0.2, 64),
             check=lambda: (nat.flow(xp, vcp, outp, sigma=0.5, cv=-0.2, vu=vup, w=4.0, C_=64),
                            close(outp, flow_cfg_rescale(xp, vcp, vup, 4.0, -0.2, 64), 2e-2))[1],
             compile_fn=lambda: c_rs(xp, vcp, vup, 4.0, -0.2, 64))
        # SDE with in-kernel Philox noise and the per-row log-prob
        lp = torch.empty(B, device=dev)
        c_sde = torch.compile(flow_sde)
        case(f"flow sde+logprob 12x16x64x64 {tag}", 3 * n * s,
             lambda: nat.flow(x, vc, out, sigma=0.5, cx=0.98, cv=-0.1, cn=0.2, log_prob=lp, seed=3),
             lambda: flow_sde(x, vc, 0.98, -0.1, 0.2),
             compile_fn=lambda: c_sde(x, vc, 0.98, -0.1, 0.2))
        # forward process
        t = torch.rand(B, device=dev)
        eps = torch.empty_like(x)
        c_fw = torch.compile(forward_process)
        case(f"forward x_t+eps 12x16x64x64 {tag}", 3 * n * s,
             lambda: nat.forward(x, t, out, eps),
             lambda: forward_process(x, t),
             check=lambda: (nat.forward(x, t, out, eps),
                            close(out, (1 - t.view(-1, 1, 1, 1)) * x.float() + t.view(-1, 1, 1, 1) * eps.float(), 1e-2))[1],
             compile_fn=lambda: c_fw(x, t))
        # NFT loss and gradient
        vold, vref = torch.randn_like(x), torch.randn_like(x)
        tt, rr, valid = torch.rand(B, device=dev), torch.rand(B, device=dev), torch.ones(B, device=dev)
        ell, kl, loss, grad = (torch.empty(B, device=dev), torch.empty(B, device=dev), torch.empty(1, device=dev),
                               torch.empty_like(x))
        c_nft = torch.compile(nft_loss_and_grad)

        def nft_check():
            nat.nft(x, eps, vc, vold, vref, tt, rr, valid, ell, kl, loss, grad)
            l_ref, g_ref = nft_loss_and_grad(x.float(), eps.float(), vc.float(), vold.float(), vref.float(), tt, rr,
                                             valid)
            ok1, r1 = close(loss, l_ref.reshape(1), 1e-3)
            ok2, r2 = close(grad, g_ref, 2e-2)
            return ok1 and ok2, max(r1, r2)

        case(f"nft loss+grad 12x16x64x64 {tag}", 6 * n * s,
             lambda: nat.nft(x, eps, vc, vold, vref, tt, rr, valid, ell, kl, loss, grad),
             lambda: nft_loss_and_grad(x, eps, vc, vold, vref, tt, rr, valid),
             check=nft_check,
             compile_fn=lambda: c_nft(x, eps, vc, vold, vref, tt, rr, valid))
        # logit score
        logits = torch.randn(288, 151936, device=dev, dtype=dt) * 3
        ids = torch.arange(15, 21, device=dev)
        values = torch.arange(6, device=dev, dtype=torch.float32)
        sc, pr, ms = torch.empty(288, device=dev), torch.empty(288, 6, device=dev), torch.empty(288, device=dev)
        c_ls = torch.compile(logit_score)

        def score_check():
            nat.score(logits, list(range(15, 21)), list(range(6)), sc, pr, ms)
            s_ref, _, m_ref = logit_score(logits, ids, values)
            ok1, r1 = close(sc, s_ref, 1e-4)
            ok2, r2 = close(ms, m_ref, 1e-3)
            return ok1 and ok2, max(r1, r2)

        case(f"logit score 288x151936 {tag}", 288 * 151936 * s,
             lambda: nat.score(logits, list(range(15, 21)), list(range(6)), sc, pr, ms),
             lambda: logit_score(logits, ids, values),
             check=score_check,
             compile_fn=lambda: c_ls(logits, ids, values))
    print(f"{len(rows_out)} kernels timed, {failures} check failures, {time.time() - t_start:.0f} s")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(dict(torch=torch.__version__, device=torch.cuda.get_device_name(0), rows=rows_out,
                           failures=failures), f, indent=1)
        os.replace(tmp, args.json)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
