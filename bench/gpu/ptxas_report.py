#!/usr/bin/env python3
"""Summarizes nvcc -Xptxas -v output: one line per kernel with registers, stack, spills, shared memory."""
import re
import subprocess
import sys

text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
rows = []
name = arch = None
for line in text.splitlines():
    m = re.search(r"Compiling entry function '(\w+)' for '(sm_\d+)'", line)
    if m:
        name, arch = m.group(1), m.group(2)
        stack = spill_st = spill_ld = 0
        continue
    m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
    if m and name:
        stack, spill_st, spill_ld = map(int, m.groups())
        continue
    m = re.search(r"Used (\d+) registers(?:.*?(\d+) bytes smem)?", line)
    if m and name:
        rows.append((name, arch, int(m.group(1)), stack, spill_st, spill_ld, int(m.group(2) or 0)))
        name = None
try:
    demangled = subprocess.run(["c++filt"], input="\n".join(r[0] for r in rows), capture_output=True, text=True,
                               check=True).stdout.splitlines()
except Exception:  # noqa: BLE001
    demangled = [r[0] for r in rows]
print(f"{'kernel':78s} {'arch':6s} {'regs':>4s} {'stack':>5s} {'spill st/ld':>11s} {'smem':>5s}")
for r, d in zip(rows, demangled):
    d = re.sub(r"editr1::\(anonymous namespace\)::", "", d)
    d = re.sub(r"\(.*\)$", "", d)
    flag = "  <-- spills" if r[4] or r[5] else ""
    print(f"{d[:78]:78s} {r[1]:6s} {r[2]:4d} {r[3]:5d} {r[4]:5d}/{r[5]:<5d} {r[6]:5d}{flag}")
