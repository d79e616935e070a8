#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of the code that reads untrusted bytes: each
# target of fuzz/ (image decoding, audio decoding, text preprocessing, JSON and multipart
# submissions) runs for SECONDS (default 20) from its committed seeds (fuzz/seeds/<target>) plus
# the corpus it grew before (fuzz/corpus/<target>, not committed). A crash, a panic, a leak or a
# run over FUZZ_RSS_MB of memory fails the script; libFuzzer saves the input under
# fuzz/artifacts/<target>/ (replay: cargo +nightly fuzz run --sanitizer S TARGET
# fuzz/artifacts/TARGET/crash-..., with S the run's FUZZ_SANITIZER: none for CI).
#
#   FUZZ_SEED=1 FUZZ_SANITIZER=none scripts/fuzz.sh   # CI: 20 s per target, fixed seed
#   scripts/fuzz.sh 600                                # a longer hunt: random seed, AddressSanitizer
#
# With FUZZ_SEED set, libFuzzer mutates the same inputs in the same order on every run (a CI
# failure is then a regression of the change under test, reproducible with the same seed); a
# hunt without it explores differently each time, and what it finds becomes a committed seed.
#
# FUZZ_SANITIZER (default address) is cargo fuzz's --sanitizer. CI runs without one: every
# finding so far was a panic or an allocation past the limit, which need none. A cold build
# took 13 min with it at opt-level 3, 6.9 min without it at the profile of fuzz/Cargo.toml, and
# ran more inputs in CI's 20 s (image_decode 281k against 156k). The hunts keep
# AddressSanitizer for the decoders' unsafe code.
#
# cargo fuzz needs nightly (-Z sanitizer); with no nightly toolchain the stable one is used with
# RUSTC_BOOTSTRAP=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
seed=${FUZZ_SEED:-0} # 0: libFuzzer picks one
rss_mb=${FUZZ_RSS_MB:-2048}
sanitizer=${FUZZ_SANITIZER:-address}
# One target dir per sanitizer: switching would otherwise rebuild everything.
export CARGO_TARGET_DIR=${SOYL_FUZZ_TARGET_DIR:-$HOME/.cache/soyl-fuzz-target-$sanitizer}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
cd "$root/fuzz"
"${fuzz[@]}" build --sanitizer "$sanitizer"
logs=$(mktemp -d)
for target in $("${fuzz[@]}" list); do
  mkdir -p "corpus/$target"
  if ! "${fuzz[@]}" run --sanitizer "$sanitizer" "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$seconds" -seed="$seed" -rss_limit_mb="$rss_mb" -malloc_limit_mb="$rss_mb" \
      -print_final_stats=1 >"$logs/$target.log" 2>&1; then
    tail -50 "$logs/$target.log"
    echo "fuzz: $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$target.log")
  cov=$(grep -o 'cov: [0-9]*' "$logs/$target.log" | tail -1)
  echo "fuzz: $target ${seconds}s ${execs:-?} execs ${cov:-}"
done
