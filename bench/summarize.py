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
    print("| benchmark | params | native ops/s | torch ops/s | native GB/s | % of copy | native / torch |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for key in sorted(kernels):
        d = kernels[key]
        n = d.get("native")
        t = d.get("torch")
        bytes_per_op = n[1] / n[0] if n else (t[1] / t[0] if t else 0)
        mb = bytes_per_op / 1e6
        ceiling = None
        if copies:
            near = min(copies, key=lambda c: abs(c - mb))
            ceiling = copies[near]
        pct = f"{100 * n[1] / ceiling:.0f}%" if (n and ceiling) else "-"
        ratio = f"{n[0] / t[0]:.2f}×" if (n and t) else "-"
        print(f"| {key[0]} | {' '.join(key[1:])} | {n[0]:.1f} | {t[0]:.1f} | {n[1] / 1e9:.2f} | {pct} | {ratio} |"
              if n and t else f"| {key[0]} | {' '.join(key[1:])} | {n[0] if n else '-'} | {t[0] if t else '-'} | - | - | - |")
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
                phases = defaultdict(lambda: defaultdict(list))
                for line in open(t):
                    m = re.match(r"EPOCH_TIMINGS (\w+) (.*)", line.strip())
                    if m:
                        for k, v in json.loads(m.group(2))["seconds"].items():
                            phases[m.group(1)][k].append(v)
                if phases:
                    keys = list(next(iter(phases.values())).keys())
                    print()
                    print("| phase (mean s) | " + " | ".join(sorted(phases)) + " |")
                    print("|---|" + "---:|" * len(phases))
                    for k in keys:
                        print(f"| {k} | " + " | ".join(f"{sum(phases[i][k]) / len(phases[i][k]):.3f}" for i in sorted(phases)) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
