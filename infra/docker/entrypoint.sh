#!/usr/bin/env bash
# Entrypoint of the soyl worker images: puts a model repository in place, then execs the command
# (`soyl worker` by default), so that soyl is PID 1's only child and gets SIGTERM directly.
#
# Where the models come from, in order:
#   SOYL_MODELS_URI=s3://bucket/prefix/  fetch the files listed in s3://bucket/prefix/SHA256SUMS
#                                        into SOYL_MODELS_CACHE (once: a cache whose SHA256SUMS
#                                        matches is reused), verify every checksum, use it.
#   SOYL_MODELS_URI=/path or file:///path  a mounted folder laid out the same way (checked too).
#   neither, SOYL_MODELS set             used as it is (a complete repository mounted by you).
#
# The bundle layout is one folder per model, as in ../shared/models: `face-emotion/model.onnx`,
# `text-sentiment/tokenizer.json`, ... A folder that has no `model.toml` of its own gets the
# manifest shipped in the image (SOYL_MANIFESTS), with its `file` and `tokenizer` paths pointed
# at the files beside it. SHA256SUMS is `sha256sum` output with paths relative to the bundle:
#   (cd models && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | xargs sha256sum) > SHA256SUMS
#
# Needs only s3:GetObject under the prefix (no ListBucket): the file list is SHA256SUMS itself.
set -euo pipefail

manifests=${SOYL_MANIFESTS:-/opt/soyl/models/repository}
cache=${SOYL_MODELS_CACHE:-/var/lib/soyl/models}
uri=${SOYL_MODELS_URI:-}

die() { echo "soyl-entrypoint: $*" >&2; exit 1; }
log() { echo "soyl-entrypoint: $*" >&2; }

# Refuses paths that could leave the bundle folder (SHA256SUMS is data from outside).
check_paths() {
  local sums=$1 path
  while read -r _ path; do
    path=${path#\*}
    case "$path" in
      "" | /* | *..*) die "SHA256SUMS: refusing path '$path'" ;;
    esac
  done < "$sums"
}

# Writes a manifest for every model folder in $1 that lacks one, from the image's manifests.
complete_manifests() {
  local dir=$1 manifest name
  for manifest in "$manifests"/*/model.toml; do
    [ -f "$manifest" ] || continue
    name=$(basename "$(dirname "$manifest")")
    [ -d "$dir/$name" ] || continue
    [ -f "$dir/$name/model.toml" ] && continue
    # `file = "../../x/model.onnx"` -> `file = "model.onnx"`; the same for `tokenizer`.
    sed -E 's#^(file|tokenizer)( *= *)"([^"]*/)?([^"/]+)"#\1\2"\4"#' "$manifest" > "$dir/$name/model.toml"
  done
}

fetch_s3() {
  local base=${1%/} staging path
  mkdir -p "$cache"
  staging=$(mktemp -d "$cache/.fetch.XXXXXX")
  aws s3 cp --only-show-errors "$base/SHA256SUMS" "$staging/SHA256SUMS"
  if [ -f "$cache/current/SHA256SUMS" ] && cmp -s "$staging/SHA256SUMS" "$cache/current/SHA256SUMS" \
     && (cd "$cache/current" && sha256sum --quiet -c SHA256SUMS); then
    log "models in $cache/current match $base/SHA256SUMS; not downloading"
    rm -rf "$staging"
    return
  fi
  check_paths "$staging/SHA256SUMS"
  while read -r _ path; do
    path=${path#\*}
    mkdir -p "$staging/$(dirname "$path")"
    aws s3 cp --only-show-errors "$base/$path" "$staging/$path"
  done < "$staging/SHA256SUMS"
  (cd "$staging" && sha256sum --quiet --strict -c SHA256SUMS) || die "checksum mismatch in $base"
  # Swap in whole: a crash mid-download leaves the previous cache, never a half-written one.
  rm -rf "$cache/previous"
  [ -d "$cache/current" ] && mv "$cache/current" "$cache/previous"
  mv "$staging" "$cache/current"
  rm -rf "$cache/previous"
  log "models from $base verified into $cache/current"
}

case "$uri" in
  s3://*)
    command -v aws >/dev/null || die "SOYL_MODELS_URI is an s3:// URI but the aws CLI is not installed"
    fetch_s3 "$uri"
    complete_manifests "$cache/current"
    export SOYL_MODELS="$cache/current"
    ;;
  file://* | /*)
    dir=${uri#file://}
    [ -f "$dir/SHA256SUMS" ] || die "$dir/SHA256SUMS not found"
    check_paths "$dir/SHA256SUMS"
    (cd "$dir" && sha256sum --quiet --strict -c SHA256SUMS) || die "checksum mismatch in $dir"
    # A mounted folder may be read-only: the repository is assembled from links in the cache.
    mkdir -p "$cache"
    rm -rf "$cache/mounted"
    mkdir -p "$cache/mounted"
    for model in "$dir"/*/; do
      name=$(basename "$model")
      mkdir -p "$cache/mounted/$name"
      for f in "$model"*; do ln -s "$f" "$cache/mounted/$name/$(basename "$f")"; done
    done
    complete_manifests "$cache/mounted"
    export SOYL_MODELS="$cache/mounted"
    log "models from $dir verified"
    ;;
  "")
    [ -n "${SOYL_MODELS:-}" ] || log "neither SOYL_MODELS_URI nor SOYL_MODELS is set: soyl uses its default model path"
    ;;
  *)
    die "SOYL_MODELS_URI must be s3://..., file://... or an absolute path, not '$uri'"
    ;;
esac

exec "$@"
