#!/usr/bin/env bash
# Benchmarks soyl on a CUDA host in one pass, for hosts lent for minutes (docs/performance.md, "GPU").
#
#   scripts/bench-gpu.sh SOYL_BINARY OUT_DIR
#
# Needs ORT_DYLIB_PATH and LD_LIBRARY_PATH pointing at the onnxruntime-gpu libraries
# (../shared/ORT.md), the models and media at ../shared, and runs from the checkout's root:
#   1. `soyl bench --device cuda`: ceiling, stages, every workload batched and at max_batch=1;
#   2. face1 and face6 against a `soyl serve --device cuda` that logs every lane batch with its
#      seconds (SOYL_LOG=soyl_models=debug), so a slow batch shows which lane and size it was;
#   3. voice with 8 CPU replicas of the voice model (`--replicas 8`) against the default 4.
# Each step has its own time limit, so a stall cannot eat the host's whole lease.
set -uo pipefail
soyl=${1:?usage: bench-gpu.sh SOYL_BINARY OUT_DIR}
out=${2:?usage: bench-gpu.sh SOYL_BINARY OUT_DIR}
device=${SOYL_BENCH_DEVICE:-cuda}
duration=${SOYL_BENCH_DURATION_S:-2}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$out/gpu.txt"

echo "== 1. soyl bench --device $device" >&2
timeout 200 "$soyl" bench --device "$device" --duration-s "$duration" --out "$out/full" \
  >"$out/full.log" 2>&1
echo "bench exit $?" >>"$out/full.log"

# Serves on a free port with lane-batch logging, runs the workloads $2, stops; $1 names the run.
debug_run() {
  local name=$1 workloads=$2
  shift 2
  local data port log=$out/$name-serve.log
  data=$(mktemp -d)
  port=$((18000 + RANDOM % 2000))
  NO_COLOR=1 SOYL_LOG=warn,soyl_models=debug "$soyl" serve --auth disabled \
    --listen "127.0.0.1:$port" --data-dir "$data" --models models/repository \
    --device "$device" "$@" >"$log" 2>&1 &
  local pid=$!
  command -v curl >/dev/null || sleep 20
  for _ in $(seq 1 60); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break
    sleep 0.5
  done
  timeout 60 "$soyl" bench --url "http://127.0.0.1:$port" --no-ceiling --workloads "$workloads" \
    --concurrency 1,16,64,256 --duration-s "$duration" --out "$out/$name" >"$out/$name.log" 2>&1
  echo "bench exit $?" >>"$out/$name.log"
  grep -E '^Vm(HWM|RSS)' "/proc/$pid/status" >>"$out/$name.log" 2>/dev/null
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -rf "$data"
}

echo "== 2. lane batches logged" >&2
debug_run lanes face1,face6
echo "== 3. 8 voice replicas" >&2
debug_run replicas8 voice --replicas 8
# The lane logs can be long: keep the slowest batches and a count per lane and size.
for name in lanes replicas8; do
  log=$out/$name-serve.log
  [ -f "$log" ] || continue
  sed 's/\x1b\[[0-9;]*m//g' "$log" | grep 'lane batch' |
    sed -E 's/.*lane=([^ ]+) batch_size=([0-9]+) seconds=([0-9.e-]+).*/\3 \1 \2/' |
    sort -g -r >"$out/$name-batches.txt"
  head -c 2000000 "$log" >"$log.head" && mv "$log.head" "$log"
  # Per lane and batch size: batches, mean and worst seconds.
  awk '{k=$2" "$3; n[k]++; s[k]+=$1; if ($1>m[k]) m[k]=$1}
       END {for (k in n) printf "%s batches=%d mean_s=%.4f max_s=%.4f\n", k, n[k], s[k]/n[k], m[k]}' \
    "$out/$name-batches.txt" | sort -k1,1 -k2,2n >"$out/$name-by-size.txt"
done
ls -la "$out" >&2
