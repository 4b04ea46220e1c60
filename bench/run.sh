#!/usr/bin/env bash
# Builds editr1 and runs the CPU benchmarks:
#   1. cpu_bench (bench/cpu): the kernels through the C API on preallocated buffers, each beside a
#      memcpy of the same bytes (the machine's ceiling, same threads, same run);
#   2. the JMH suite: the kernels native vs torch through the Java façade, the copy ceiling,
#      one training epoch fused vs composed (EpochBench, one fork per implementation);
#   3. EpochPairs: both trainers in one JVM, epoch k of each back to back, paired;
#   4. AllReduceBench: the bucketed Gloo gradient all-reduce on 2 local ranks vs a local copy of the
#      same bytes (prints its own markdown table).
# Results: bench/results/<name>.json (JMH JSON, cpu_bench JSON), <name>.pairs.txt, and a markdown
# summary on stdout (bench/summarize.py).
#   bench/run.sh            the full suite
#   bench/run.sh --quick    a subset in under 5 minutes (f32, one shape per kernel, short iterations)
#   bench/run.sh --load     every kernel family at its realistic size, f32 and bf16, native and
#                           torch: one JMH run quiet, one with a competing busy process that the
#                           benchmark starts and stops itself (-p load=busy), 5 forks each
#                           (~25 minutes; bench/load_summary.py prints the table)
#   bench/run.sh [JMH args] anything else goes to JMH (e.g. FlowStepBench -p dtype=bf16)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mvn -B -q -DskipTests package test-compile
mvn -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath > /dev/null
cp="target/test-classes:target/classes:$(cat target/bench.classpath)"
mkdir -p bench/results
cpu_bench=target/native/build/cpu_bench
jvm="-Dorg.bytedeco.javacpp.maxBytes=0 -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 -Xss4m"
run() {  # name, JMH args...
  local name=$1; shift
  java -cp "$cp" org.openjdk.jmh.Main "$@" -jvmArgsAppend "$jvm" -rf json -rff "bench/results/$name.json" \
    2> >(grep "EPOCH_TIMINGS" > "bench/results/$name.epochs.txt" || true)
}
if [ "${1:-}" = "--quick" ]; then
  common=(-f 1 -wi 2 -w 1s -i 3 -r 1s)
  run quick-kernels "${common[@]}" -p impl=native,torch -p dtype=f32 -p shape=12x16x64x64,288x151936 -p step=euler,dpm2m_cfg \
    'FlowStepBench|NftLossBench|GrpoLossBench|LogitScoreBench|NoiseBench'
  run quick-copy "${common[@]}" -p mb=9.4,18.9,28.3,175.0 CopyBench
  run quick-epoch -wi 2 -i 5 EpochBench
  java $jvm -cp "$cp" dev.editr1.bench.EpochPairs 24 > bench/results/quick-epoch.pairs.txt
  "$cpu_bench" --quick --json bench/results/quick-cpu-bench.json
  java $jvm -cp "$cp" dev.editr1.bench.AllReduceBench --ranks 2 --mb 0.29,4,16 --reps 5 --json bench/results/quick-allreduce.json \
    | grep -v '\[Gloo\]' | tee bench/results/quick-allreduce.md
  python3 bench/summarize.py bench/results/quick-{kernels,copy,epoch}.json bench/results/quick-epoch.pairs.txt
elif [ "${1:-}" = "--load" ]; then
  shift
  common=(-f "${LOAD_FORKS:-5}" -wi 2 -w 1s -i 2 -r 1s -p impl=native,torch -p dtype=f32,bf16 "$@")
  families=("FlowStepBench -p shape=12x1024x64 -p step=dpm2m_cfg" "NoiseBench -p shape=12x16x64x64 -p op=forward"
            "NftLossBench -p shape=12x16x64x64" "GrpoLossBench -p shape=12x16x64x64" "LogitScoreBench -p shape=288x151936")
  for cond in none busy; do
    for f in "${families[@]}"; do
      read -r bench args <<< "$f"
      # shellcheck disable=SC2086
      run "load-$cond-$bench" "${common[@]}" -p load=$cond $args "^dev.editr1.bench.$bench\\."
    done
    python3 -c 'import json,sys; print(json.dumps(sum((json.load(open(p)) for p in sys.argv[2:]), [])))' \
      x bench/results/load-$cond-*Bench.json > "bench/results/load-$cond.json"
  done
  python3 bench/load_summary.py bench/results/load-none.json bench/results/load-busy.json
elif [ $# -gt 0 ]; then
  run custom "$@"
  python3 bench/summarize.py bench/results/custom.json
else
  common=(-f 1 -wi 3 -w 2s -i 5 -r 2s)
  run kernels "${common[@]}" 'FlowStepBench|NftLossBench|GrpoLossBench|LogitScoreBench|NoiseBench'
  run copy "${common[@]}" CopyBench
  run epoch EpochBench
  java $jvm -cp "$cp" dev.editr1.bench.EpochPairs 200 > bench/results/epoch.pairs.txt
  "$cpu_bench" --json bench/results/cpu-bench.json
  java $jvm -cp "$cp" dev.editr1.bench.AllReduceBench --ranks 2 --json bench/results/allreduce.json \
    | grep -v '\[Gloo\]' | tee bench/results/allreduce.md
  python3 bench/summarize.py bench/results/kernels.json bench/results/copy.json bench/results/epoch.json \
    bench/results/epoch.pairs.txt
fi
