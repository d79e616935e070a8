#!/usr/bin/env bash
# Benchmarks soyl on a CUDA host in one pass, for hosts lent for minutes (docs/performance.md, "GPU").
#
#   scripts/bench-gpu.sh SOYL_BINARY OUT_DIR
#
# Needs ORT_DYLIB_PATH and LD_LIBRARY_PATH pointing at the onnxruntime-gpu libraries
# (../shared/ORT.md), the models and media at ../shared, and runs from the checkout's root:
#   0. the five sample faces as one job with CUDA graphs on and off, results compared;
#   1. face1 and face6 against a `soyl serve --device cuda` that logs every lane batch with its
#      seconds (SOYL_LOG=soyl_models=debug), so a slow batch shows which lane and size it was;
#   2. the same with `--cuda-graph false` (every kernel launched on every run);
#   3. `soyl bench --device cuda`: ceiling, stages, every workload batched and at max_batch=1;
#   4. voice with 8 CPU replicas of the voice model (`--replicas 8`) against the default 4;
#   5. face1 and gallery with the face-emotion lane at 256 rows (a copy of the repository) against
#      the manifest's 64: what the longer padded runs cost single faces, what they buy galleries;
#   6. face1 and gallery with every bound CUDA run's phases logged (gathering the batch into the
#      host buffer, upload, session run, download, splitting the outputs), averaged per lane.
# Each step has its own time limit, so a stall cannot eat the host's whole lease.
# SOYL_BENCH_STEPS picks steps (default "0 1 2 3 4 5 6"); SOYL_BENCH_DURATION_S each load point's
# seconds; SOYL_BENCH_FULL_S the full run's time limit (step 3).
set -uo pipefail
soyl=${1:?usage: bench-gpu.sh SOYL_BINARY OUT_DIR}
out=${2:?usage: bench-gpu.sh SOYL_BINARY OUT_DIR}
device=${SOYL_BENCH_DEVICE:-cuda}
duration=${SOYL_BENCH_DURATION_S:-2}
steps=" ${SOYL_BENCH_STEPS:-0 1 2 3 4 5 6} "
step() { [[ $steps == *" $1 "* ]]; }
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$out/gpu.txt"

# True when the server on port $1 answers /ready with 200 (curl, or bash's /dev/tcp without it).
ready() {
  if command -v curl >/dev/null; then
    curl -sf "http://127.0.0.1:$1/ready" >/dev/null
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /ready HTTP/1.0\r\n\r\n' >&3 &&
      head -1 <&3 | grep -q ' 200') 2>/dev/null
  fi
}

# Starts `soyl serve` on a free port with lane-batch logging ($1 names its log; the rest are
# extra serve arguments) over the repository $models and waits until it is ready; sets
# $serve_pid, $serve_url, $serve_data. $log is its SOYL_LOG.
models=models/repository
log=warn,soyl_models=debug
start_serve() {
  local name=$1 port
  shift
  serve_data=$(mktemp -d)
  port=$((18000 + RANDOM % 2000))
  serve_url="http://127.0.0.1:$port"
  NO_COLOR=1 SOYL_LOG=$log "$soyl" serve --auth disabled \
    --listen "127.0.0.1:$port" --data-dir "$serve_data" --models "$models" \
    --device "$device" "$@" >"$out/$name-serve.log" 2>&1 &
  serve_pid=$!
  for _ in $(seq 1 60); do
    ready "$port" && return 0
    sleep 0.5
  done
  echo "$name: not ready after 30 s" >&2
}

stop_serve() {
  kill "$serve_pid" 2>/dev/null
  wait "$serve_pid" 2>/dev/null
  rm -rf "$serve_data"
}

# Serves with the extra arguments after $2, runs the workloads $2 against it, stops; $1 names it.
debug_run() {
  local name=$1 workloads=$2
  shift 2
  start_serve "$name" "$@"
  timeout 60 "$soyl" bench --url "$serve_url" --no-ceiling --workloads "$workloads" \
    --concurrency 1,16,64,256 --duration-s "$duration" --out "$out/$name" >"$out/$name.log" 2>&1
  echo "bench exit $?" >>"$out/$name.log"
  grep -E '^Vm(HWM|RSS)' "/proc/$serve_pid/status" >>"$out/$name.log" 2>/dev/null
  stop_serve
}

if step 0; then
  echo "== 0. the sample faces with CUDA graphs on and off" >&2
  faces=(../shared/media/faces/*.jpg)
  for graph in true false; do
    start_serve "graph-$graph" --cuda-graph "$graph"
    timeout 60 "$soyl" submit --url "$serve_url" --wait "${faces[@]}" >"$out/faces-graph-$graph.json" 2>&1
    stop_serve
  done
  python3 scripts/compare-results.py "$out/faces-graph-true.json" "$out/faces-graph-false.json" \
    >"$out/faces-compare.txt" 2>&1
  cat "$out/faces-compare.txt" >&2
fi
if step 1; then
  echo "== 1. lane batches logged (CUDA graphs on)" >&2
  debug_run lanes face1,face6,gallery
fi
if step 2; then
  echo "== 2. lane batches logged, --cuda-graph false" >&2
  debug_run nograph face1,face6,gallery --cuda-graph false
fi
if step 3; then
  echo "== 3. soyl bench --device $device" >&2
  timeout "${SOYL_BENCH_FULL_S:-300}" "$soyl" bench --device "$device" --duration-s "$duration" --out "$out/full" \
    >"$out/full.log" 2>&1
  echo "bench exit $?" >>"$out/full.log"
fi
if step 4; then
  echo "== 4. 8 voice replicas" >&2
  debug_run replicas8 voice --replicas 8
fi
if step 5; then
  echo "== 5. face-emotion lane at 256 rows against 64" >&2
  # A sibling of models/repository, so the manifests' relative model paths still resolve.
  rm -rf models/repo-emotion256 && cp -r models/repository models/repo-emotion256
  sed -i 's/^max_batch = 64$/max_batch = 256/' models/repo-emotion256/face-emotion/model.toml
  grep -q '^max_batch = 256$' models/repo-emotion256/face-emotion/model.toml || echo "step 5: no 64 to replace" >&2
  for rows in 64 256; do
    [ "$rows" = 256 ] && models=models/repo-emotion256
    debug_run "emotion$rows" face1,gallery
    models=models/repository
  done
  rm -rf models/repo-emotion256
fi
if step 6; then
  echo "== 6. bound CUDA run phases" >&2
  log=warn,soyl_models=debug,soyl_models::tensor_lane=trace
  for w in face1 gallery; do
    debug_run "phases-$w" "$w"
    # Per lane: runs and the mean microseconds of each phase.
    sed 's/\x1b\[[0-9;]*m//g' "$out/phases-$w-serve.log" | grep 'bound run' |
      awk -v w="$w" '{for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) f[kv[1]] = kv[2];
            k = f["lane"]; n[k]++; items[k] += f["items"];
            g[k] += f["gather_us"]; u[k] += f["upload_us"]; r[k] += f["run_us"];
            d[k] += f["download_us"]; s[k] += f["split_us"]}
           END {for (k in n) printf "%s %s runs=%d mean_items=%.1f gather_us=%.0f upload_us=%.0f run_us=%.0f download_us=%.0f split_us=%.0f\n",
                w, k, n[k], items[k]/n[k], g[k]/n[k], u[k]/n[k], r[k]/n[k], d[k]/n[k], s[k]/n[k]}' \
      >>"$out/phases.txt"
  done
  log=warn,soyl_models=debug
  cat "$out/phases.txt" >&2
fi
# The lane logs can be long: keep the slowest batches and a count per lane and size.
for name in lanes nograph replicas8 emotion256 emotion64 phases-face1 phases-gallery; do
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
