#!/usr/bin/env bash
# Builds libeditr1 with CMake into OUT_DIR/lib (Maven calls this in generate-resources).
#   native/build.sh OUT_DIR [extra CMake arguments...]
# e.g. -DEDITR1_CUDA=OFF (CPU only), -DEDITR1_CUDA_ARCHITECTURES=90, -DEDITR1_PTXAS_VERBOSE=ON
# CMake's and the compilers' output goes to OUT_DIR/build.log; this prints one line (what was
# built, or why not CUDA), or the log's tail when the build fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: native/build.sh OUT_DIR [cmake args...]}
shift
args=()
for a in "$@"; do [ -n "$a" ] && args+=("$a"); done
# nvcc is usually on PATH; a stock toolkit install is not
if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
mkdir -p "$out"
log="$out/build.log"
{
  if [ ! -f "$out/build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$out/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$out/lib" "${args[@]}"
  elif [ ${#args[@]} -gt 0 ]; then
    cmake "$out/build" "${args[@]}"
  fi
  cmake --build "$out/build" --parallel "$(nproc 2>/dev/null || echo 2)"
} > "$log" 2>&1 || { tail -40 "$log"; echo "libeditr1: build FAILED (full log: $log)" >&2; exit 1; }
grep -E "^-- editr1: " "$log" | tail -1 | sed 's/^-- //' || true
