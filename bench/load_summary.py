#!/usr/bin/env python3
"""Kernels under load (bench/run.sh --load): reads the JMH JSON of the quiet run and of the loaded
run (BenchSupport.Load, -p load=busy) and prints a markdown table per kernel configuration: quiet
throughput (mean over forks), every loaded fork's throughput, the worst fork's slowdown against
quiet, and native/torch in the loaded run (worst native fork against the best torch fork). Below
the table, the widest spread of one row's quiet native forks (max/min): when the host itself moves
that much (a VM whose CPUs are stolen by its neighbours), a per-fork slowdown bound near it says
more about the host than about the kernels.
Targets (issue "CPU kernels that keep their speed on a busy machine"): slowdown <= 2.5x in every
loaded fork, native >= 2x torch under load.
usage: load_summary.py QUIET.json LOADED.json"""
import json
import sys
from collections import defaultdict


def forks(path):
    out = {}
    for r in json.load(open(path)):
        p = dict(r.get("params", {}))
        key = (r["benchmark"].split(".")[-2],) + tuple(sorted((k, v) for k, v in p.items() if k not in ("impl", "load")))
        raw = r["primaryMetric"]["rawData"]
        out[(key, p["impl"])] = [sum(f) / len(f) for f in raw]
    return out


def label(key):
    name, params = key[0], dict(key[1:])
    extra = " ".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("dtype", "shape", "kernelThreads"))
    return f"{name.replace('Bench', '')} {params.get('shape', '')} {extra}".strip(), params.get("dtype", "")


def main(quiet_path, loaded_path):
    quiet, loaded = forks(quiet_path), forks(loaded_path)
    keys = sorted({k for k, _ in quiet} | {k for k, _ in loaded})
    print("| kernel | dtype | native quiet (ops/s) | native loaded, each fork | worst slowdown | torch quiet | torch loaded, each fork | native/torch loaded (worst) | targets |")
    print("|---|---|---:|---|---:|---:|---|---:|---|")
    ok_all = True
    quiet_spread = (1.0, "")
    for k in keys:
        nq, nl = quiet.get((k, "native")), loaded.get((k, "native"))
        tq, tl = quiet.get((k, "torch")), loaded.get((k, "torch"))
        if not nq or not nl:
            continue
        q = sum(nq) / len(nq)
        quiet_spread = max(quiet_spread, (max(nq) / min(nq), " ".join(label(k))))
        slow = q / min(nl)
        ratio = min(nl) / max(tl) if tl else float("nan")
        ok = slow <= 2.5 and (not tl or ratio >= 2.0)
        ok_all &= ok
        name, dt = label(k)
        fmt = lambda xs: ", ".join(f"{x:,.0f}" if x >= 100 else f"{x:.1f}" for x in xs)
        print(f"| {name} | {dt} | {q:,.1f} | {fmt(nl)} | {slow:.2f}x | {sum(tq) / len(tq) if tq else float('nan'):,.1f} | "
              f"{fmt(tl) if tl else '-'} | {ratio:.1f}x | {'met' if ok else 'MISSED'} |")
    print()
    print(f"quiet forks' widest spread (max/min of one row's native forks): {quiet_spread[0]:.2f}x {quiet_spread[1]}".rstrip())
    print("all targets met" if ok_all else "some targets missed")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
