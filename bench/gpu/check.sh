#!/usr/bin/env bash
# The prepared GPU check, one script, a few minutes on one H100/H200:
#   1. build libeditr1 + gpu_check with CMake for sm_90 (ptxas resource report kept),
#   2. gpu_check: every CUDA kernel against the CPU path of the same library (odd lengths,
#      V = 151,936, −∞ logits, t at 0.02 and 1, f32/bf16/f16, Philox bit identity, flags),
#      then CUDA-event timings against a device-to-device copy of equal bytes,
#   3. torch_compare.py: the same kernels beside PyTorch eager and torch.compile (ctypes).
# Results go to $OUT (or bench/gpu/out): *.log and *.json; the summary tables are printed last.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${OUT:-$root/bench/gpu/out}
build=${BUILD_DIR:-/tmp/editr1-gpu-build}
mkdir -p "$out"
status=0

echo "== machine"
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1
  nvcc --version | tail -1
  echo "commit: ${EDITR1_COMMIT:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}"; } | tee "$out/machine.txt"

echo "== build (sm_90)"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
if ! { cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DEDITR1_CUDA_ARCHITECTURES=90 \
         -DEDITR1_PTXAS_VERBOSE=ON -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$build/lib" \
       && cmake --build "$build" --parallel; } > "$out/build.log" 2>&1; then
  cat "$out/machine.txt" >> "$out/build.log"
  tail -50 "$out/build.log"; echo "BUILD FAILED"; exit 2
fi
python3 "$root/bench/gpu/ptxas_report.py" "$out/build.log" > "$out/ptxas.txt" 2>&1
grep -c "sm_90" "$out/ptxas.txt" | sed 's/^/kernels compiled: /'
grep -E "spills|stack +[1-9]" "$out/ptxas.txt" || echo "no spills, no stack frames"

echo "== CUDA vs CPU, then timings"
"$build/gpu_check" --json "$out/gpu_check.json" ${GPU_CHECK_ARGS:-} > "$out/gpu_check.log" 2>&1 || status=1
grep -E "FAIL|checks," "$out/gpu_check.log" | head -40
sed -n '/^Timing/,$p' "$out/gpu_check.log"

echo "== vs PyTorch eager and torch.compile"
PYTHONUNBUFFERED=1 timeout "${TORCH_TIMEOUT_S:-360}" python3 "$root/bench/gpu/torch_compare.py" \
  --lib "$build/lib/libeditr1.so" --json "$out/torch_compare.json" --deadline-s "${COMPILE_DEADLINE_S:-240}" \
  ${TORCH_ARGS:-} 2>&1 | tee "$out/torch_compare.log" \
  | grep -vE "^\s*$|Warning|warn" || status=1
rm -f "$out/machine.txt"

exit $status
