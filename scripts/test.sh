#!/usr/bin/env bash
# The test suite: installs what the tests need (ONNX Runtime, moto_server), builds the `soyl` binary the
# end-to-end tests start, and runs every test of the workspace (unit, adapter, end to end) with
# the real models and media from ../shared.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -p soyl-jobs    # extra arguments go to cargo test
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/soyl-target}
scripts/setup-ort.sh
# Python tools some tests drive: the OpenAPI validator, and schemathesis (tests/contract.rs).
python3 -m pip install -q --disable-pip-version-check openapi-spec-validator schemathesis
# The AWS-backend tests run against a local AWS emulator (they skip without it, except in CI).
command -v moto_server >/dev/null || python3 -m pip install -q 'moto[server]'
# pip puts console scripts in the interpreter's scripts folder, which (under pyenv, say) may not
# be on PATH until a rehash: put it there, so the tests find moto_server on a fresh machine.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH
cargo build --release -p soyl-submitter --bin soyl
if [ $# -gt 0 ]; then
  cargo test --release "$@"
else
  cargo test --release --workspace
fi
