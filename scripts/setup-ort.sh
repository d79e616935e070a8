#!/usr/bin/env bash
# Installs the ONNX Runtime shared library (CPU build) from the `onnxruntime` PyPI wheel into the
# project-local, git-ignored folder `.ort/`, where `soyl` looks for it. Idempotent: does nothing when
# the library is already there. No CDN is involved: only PyPI, through pip.
#
#   scripts/setup-ort.sh            # -> .ort/libonnxruntime.so.<version>
#   ORT_VERSION=1.32.0 scripts/setup-ort.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ver=${ORT_VERSION:-1.32.0}
dest="$root/.ort"
lib="$dest/libonnxruntime.so.$ver"
if [ -f "$lib" ]; then
  echo "ONNX Runtime $ver already in $dest"
  exit 0
fi
py=$(command -v python3 || command -v python) || { echo "setup-ort: python3 with pip is needed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "Downloading onnxruntime==$ver wheel from PyPI ..."
"$py" -m pip download -q --no-deps --only-binary=:all: -d "$work" "onnxruntime==$ver"
whl=$(ls "$work"/onnxruntime-*.whl)
mkdir -p "$dest"
"$py" - "$whl" "$dest" "$ver" <<'PY'
import sys, zipfile, os
whl, dest, ver = sys.argv[1:]
name = f"onnxruntime/capi/libonnxruntime.so.{ver}"
with zipfile.ZipFile(whl) as z:
    with z.open(name) as src, open(os.path.join(dest, os.path.basename(name)), "wb") as out:
        out.write(src.read())
PY
ln -sf "libonnxruntime.so.$ver" "$dest/libonnxruntime.so"
echo "ONNX Runtime $ver installed in $dest"
