#!/usr/bin/env bash
# The main job on one machine: installs ONNX Runtime (scripts/setup-ort.sh), builds soyl, starts
# `soyl serve` on a fresh data directory, submits the bundled sample media
# (../shared/media/faces/*.jpg), prints each result, and stops the server.
#
#   scripts/demo.sh                 # sample faces
#   scripts/demo.sh my/photo.jpg    # your own files
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/soyl-target}
scripts/setup-ort.sh
echo "Building soyl (release) ..."
cargo build --release -q -p soyl-submitter
soyl="$CARGO_TARGET_DIR/release/soyl"

if [ $# -gt 0 ]; then files=("$@"); else files=("$root"/../shared/media/faces/*.jpg); fi
data=$(mktemp -d)
log="$data/serve.log"
"$soyl" serve --auth disabled --listen 127.0.0.1:0 --data-dir "$data" >"$data/stdout" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do
  url=$(sed -n 's/^soyl listening on //p' "$data/stdout")
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "soyl serve did not start"; cat "$log"; exit 1; }
echo "soyl serve is up at $url ($(curl -fsS "$url/ready" 2>/dev/null || echo 'ready check skipped: no curl'))"
echo

for f in "${files[@]}"; do
  record=$("$soyl" submit --url "$url" --wait "$f")
  name=$(basename "$f")
  python3 - "$name" "$record" <<'PY'
import json, sys
name, record = sys.argv[1], json.loads(sys.argv[2])
if record["status"] != "succeeded":
    print(f"{name}: {record['status']} {record.get('error')}")
    sys.exit(0)
for item in record["result"].get("face", []):
    faces = item["faces"]
    print(f"{name}: {len(faces)} face(s) in {item['width']}x{item['height']}")
    for face in faces:
        b = face["box"]
        print(f"  {face['top']:<9} p={face['emotions'][face['top']]:.2f}  valence={face['valence']:+.2f} "
              f"arousal={face['arousal']:+.2f}  box=({b['x']:.0f},{b['y']:.0f},{b['w']:.0f}x{b['h']:.0f}) "
              f"detection={face['detection']:.2f}")
models = ", ".join(f"{k} {v}" for k, v in record["result"]["models"].items())
print(f"  models: {models}")
PY
done
echo
echo "Full record of the last job:"
echo "$record"
