#!/usr/bin/env python3
"""Summarizes JMH JSON results of editr1's suite as markdown: per kernel configuration the native
and torch throughput, GB/s on minimum bytes (the "bytes" secondary counter), % of the copy ceiling
measured in the same run (the CopyBench size nearest the kernel's bytes), and native/torch; then
the epoch benchmark with its phases."""
import json
import os
import re
import sys
from collections import defaultdict


def load(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            rows.extend(json.load(f))
    return rows


def main(paths):
    pairs = [p for p in paths if p.endswith(".pairs.txt")]
    paths = [p for p in paths if not p.endswith(".pairs.txt")]
    for p in pairs:
        print()
        print(f"Interleaved epochs ({os.path.basename(p)}): both trainers in one JVM, epoch k of each back to back")
        epoch_tables(p)
    if not paths:
        return
    rows = load(paths)
    copies = {}
    kernels = defaultdict(dict)
    epochs = {}
    for r in rows:
        name = r["benchmark"].split(".")[-2]
        params = dict(r.get("params", {}))
        if name == "CopyBench":
            copies[float(params["mb"])] = r["secondaryMetrics"]["bytes"]["score"]
            continue
        if name == "EpochBench":
            epochs[params["impl"]] = r["primaryMetric"]
            continue
        impl = params.pop("impl")
        key = (name,) + tuple(f"{k}={v}" for k, v in sorted(params.items()))
        kernels[key][impl] = (r["primaryMetric"]["score"], r["secondaryMetrics"]["bytes"]["score"])
    # the plain-Java implementations (impl = java, java_unchecked) where a benchmark has them
    extra = sorted({i for d in kernels.values() for i in d} - {"native", "torch"})
    print("| benchmark | params | native ops/s | torch ops/s | native GB/s | % of copy | native / torch |"
          + "".join(f" {x} ops/s | native / {x} |" for x in extra))
    print("|---|---|---:|---:|---:|---:|---:|" + "---:|---:|" * len(extra))
    fmt = lambda v, f: f.format(v) if v is not None else "-"
    for key in sorted(kernels):
        d = kernels[key]
        n = d.get("native")
        t = d.get("torch")
        ref = n or t or next(iter(d.values()))
        mb = ref[1] / ref[0] / 1e6
        ceiling = copies[min(copies, key=lambda c: abs(c - mb))] if copies else None
        pct = f"{100 * n[1] / ceiling:.0f}%" if (n and ceiling) else "-"
        ratio = lambda o: f"{n[0] / o[0]:.2f}×" if (n and o) else "-"
        row = (f"| {key[0]} | {' '.join(key[1:])} | {fmt(n and n[0], '{:.1f}')} | {fmt(t and t[0], '{:.1f}')} | "
               f"{fmt(n and n[1] / 1e9, '{:.2f}')} | {pct} | {ratio(t)} |")
        for x in extra:
            o = d.get(x)
            row += f" {fmt(o and o[0], '{:.1f}')} | {ratio(o)} |"
        print(row)
    if copies:
        print()
        print("copy ceiling (libtorch dst.copy_(src), bytes read + written): " +
              ", ".join(f"{mb:g} MB: {v / 1e9:.2f} GB/s" for mb, v in sorted(copies.items())))
    if epochs:
        print()
        print("| epoch (8 × 8 rollouts, NFT update) | ms per epoch |")
        print("|---|---:|")
        for impl, m in sorted(epochs.items()):
            print(f"| {impl} | {m['score']:.0f} ± {m.get('scoreError', 0):.0f} |")
        for p in paths:
            t = p.replace(".json", ".epochs.txt")
            if os.path.exists(t):
                epoch_tables(t)


# two-sided 95% Student t quantiles by degrees of freedom (1..30); beyond that, the normal's
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
       2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
       2.045, 2.042]


def mean_ci(xs):
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, float("nan")
    sd = (sum((x - m) ** 2 for x in xs) / (n - 1)) ** 0.5
    return m, t95(n - 1) * sd / n ** 0.5


def t95(df):
    return T95[df - 1] if df <= len(T95) else 1.96


def adjusted_ci(d, dv):
    """The paired difference at equal work: least squares d = δ + β·dv over the pairs, where dv is
    the pair's difference in samples kept by the filter (the two trainers draw different noise, so
    their rollouts, rewards and kept samples differ). Returns δ and its 95% half-width, or None
    when every pair kept equal counts (then the plain mean is the answer)."""
    n = len(d)
    md, mv = sum(d) / n, sum(dv) / n
    sxx = sum((v - mv) ** 2 for v in dv)
    if n < 3 or sxx == 0:
        return None
    beta = sum((v - mv) * (x - md) for v, x in zip(dv, d)) / sxx
    delta = md - beta * mv
    s2 = sum((x - delta - beta * v) ** 2 for v, x in zip(dv, d)) / (n - 2)
    return delta, t95(n - 2) * (s2 * (1 / n + mv * mv / sxx)) ** 0.5


def epoch_tables(path, warmup=3):
    """Per-phase means per implementation, then the paired differences: the same epoch index ran
    in both trials (fresh trainer, same seed), so torch − native per epoch removes the epoch-to-
    epoch variation of the work. The first `warmup` epochs (JMH's warm-up iterations) are left out."""
    runs = defaultdict(dict)
    kept = defaultdict(dict)
    peaks = defaultdict(dict)
    for line in open(path):
        m = re.match(r"EPOCH_TIMINGS (\w+) (.*)", line.strip())
        if m:
            rec = json.loads(m.group(2))
            secs = dict(rec["seconds"])
            if "kernel_seconds" in rec:
                secs["kernels (inside the 4 ops)"] = rec["kernel_seconds"]
            runs[m.group(1)][rec["epoch"]] = secs
            if "valid_samples" in rec:
                kept[m.group(1)][rec["epoch"]] = rec["valid_samples"]
            if "tensor_mb_peak" in rec:
                peaks[m.group(1)][rec["epoch"]] = rec["tensor_mb_peak"] - rec["tensor_mb_at_start"]
    if not runs:
        return
    impls = sorted(runs)
    keys = list(next(iter(next(iter(runs.values())).values())).keys())
    print()
    print("| phase (mean s, epochs ≥ %d) | " % warmup + " | ".join(impls) + " |")
    print("|---|" + "---:|" * len(impls))
    for k in keys:
        cells = []
        for i in impls:
            xs = [v[k] for e, v in runs[i].items() if e >= warmup and k in v]
            cells.append(f"{sum(xs) / len(xs):.4f}" if xs else "-")
        print(f"| {k} | " + " | ".join(cells) + " |")
    # the pair: fused (native) vs composed (torch), or EpochPairs' default (plain) vs a setting (variant)
    a, b = ("native", "torch") if "torch" in runs else ("plain", "variant")
    if any(peaks[i] for i in impls):
        med = lambda xs: sorted(xs)[len(xs) // 2] if xs else float("nan")
        print()
        print("peak tensor memory above the epoch's start (median MB, epochs ≥ %d): " % warmup
              + ", ".join(f"{i} {med([v for e, v in peaks[i].items() if e >= warmup]):.1f}" for i in impls))
    if a in runs and b in runs:
        common = sorted(e for e in runs[a] if e in runs[b] and e >= warmup)
        if len(common) >= 2:
            print()
            print(f"paired over {len(common)} epochs (same epoch index in both trials): {b} − {a}, mean [95% CI]")
            print()
            both = [e for e in common if e in kept[a] and e in kept[b]]
            adjust = len(both) == len(common)
            if adjust:
                dv = [kept[b][e] - kept[a][e] for e in common]
                print(f"kept samples (the loss and backward phases scale with them): {a} "
                      f"{sum(kept[a][e] for e in common) / len(common):.1f}, {b} "
                      f"{sum(kept[b][e] for e in common) / len(common):.1f} per epoch; "
                      f"equal in {sum(1 for v in dv if v == 0)} of {len(common)} pairs")
                print()
            print(f"| phase | {b} − {a} (ms) | at equal kept samples (ms) | {a} / {b} |")
            print("|---|---:|---:|---:|")
            for k in keys:
                d = [1e3 * (runs[b][e][k] - runs[a][e][k]) for e in common if k in runs[b][e] and k in runs[a][e]]
                if not d:
                    continue
                m, h = mean_ci(d)
                adj_ci = adjusted_ci(d, dv) if adjust and len(d) == len(dv) else None
                adj = f"{adj_ci[0]:+.1f} [{adj_ci[0] - adj_ci[1]:+.1f}, {adj_ci[0] + adj_ci[1]:+.1f}]" if adj_ci else "-"
                ta = sum(runs[a][e][k] for e in common)
                tb = sum(runs[b][e][k] for e in common)
                ratio = f"{ta / tb:.3f}" if tb > 0 else "-"
                print(f"| {k} | {m:+.1f} [{m - h:+.1f}, {m + h:+.1f}] | {adj} | {ratio} |")

if __name__ == "__main__":
    main(sys.argv[1:])
