"""infra/docker/entrypoint.sh, run for real with a stand-in `aws` command that serves s3:// URIs
from a local folder: models are fetched from the files SHA256SUMS lists, verified, cached, given
the image's manifests with local paths, and a tampered file stops the start."""

import hashlib
import os
import pathlib
import subprocess

import pytest

from conftest import ENTRYPOINT, REPO

MANIFESTS = REPO / "models" / "repository"

FAKE_AWS = """#!/usr/bin/env bash
# aws s3 cp [--only-show-errors] s3://bucket/key DEST -> copies $FAKE_S3/bucket/key
set -euo pipefail
[ "$1 $2" = "s3 cp" ] || exit 2
shift 2; [ "$1" = --only-show-errors ] && shift
echo "$1" >> "$FAKE_S3/.log"
cp "$FAKE_S3/${1#s3://}" "$2"
"""


def make_bundle(root: pathlib.Path):
    """A bundle like ../shared/models: one folder per manifest, with the files its paths name."""
    lines = []
    for manifest in sorted(MANIFESTS.glob("*/model.toml")):
        name = manifest.parent.name
        for line in manifest.read_text().splitlines():
            if line.startswith(("file =", "tokenizer =")):
                base = line.split('"')[1].rsplit("/", 1)[-1]
                path = root / name / base
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(f"{name}/{base}".encode())
                lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name}/{base}")
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")


@pytest.fixture
def s3(tmp_path):
    bucket = tmp_path / "s3" / "bucket" / "models" / "v1"
    bucket.mkdir(parents=True)
    make_bundle(bucket)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS)
    (bin_dir / "aws").chmod(0o755)
    return tmp_path


def run(tmp, uri, *cmd):
    env = {
        "PATH": f"{tmp / 'bin'}:{os.environ['PATH']}",
        "FAKE_S3": str(tmp / "s3"),
        "SOYL_MODELS_URI": uri,
        "SOYL_MANIFESTS": str(MANIFESTS),
        "SOYL_MODELS_CACHE": str(tmp / "cache"),
    }
    return subprocess.run(["bash", str(ENTRYPOINT), *cmd], env=env, capture_output=True, text=True)


def check_repository(path: pathlib.Path):
    manifests = sorted(path.glob("*/model.toml"))
    assert len(manifests) == len(list(MANIFESTS.glob("*/model.toml")))
    for manifest in manifests:
        for line in manifest.read_text().splitlines():
            if line.startswith(("file =", "tokenizer =")):
                target = manifest.parent / line.split('"')[1]
                assert target.is_file(), f"{manifest}: {line}"


def test_s3_models_are_fetched_verified_and_exported(s3):
    out = run(s3, "s3://bucket/models/v1/", "sh", "-c", 'echo "$SOYL_MODELS"')
    assert out.returncode == 0, out.stderr
    models = pathlib.Path(out.stdout.strip())
    assert models == s3 / "cache" / "current"
    check_repository(models)


def test_a_second_start_reuses_the_cache(s3):
    assert run(s3, "s3://bucket/models/v1/", "true").returncode == 0
    (s3 / "s3" / ".log").unlink()
    out = run(s3, "s3://bucket/models/v1/", "true")
    assert out.returncode == 0, out.stderr
    assert (s3 / "s3" / ".log").read_text().split() == ["s3://bucket/models/v1/SHA256SUMS"]


def test_a_tampered_model_stops_the_start(s3):
    victim = next((s3 / "s3" / "bucket" / "models" / "v1").glob("*/model.onnx"))
    victim.write_bytes(b"not the model")
    out = run(s3, "s3://bucket/models/v1/", "true")
    assert out.returncode != 0
    assert "checksum mismatch" in out.stderr or "FAILED" in out.stdout + out.stderr
    assert not (s3 / "cache" / "current").exists()


def test_paths_outside_the_bundle_are_refused(s3):
    sums = s3 / "s3" / "bucket" / "models" / "v1" / "SHA256SUMS"
    sums.write_text(sums.read_text() + f"{'0' * 64}  ../../etc/passwd\n")
    out = run(s3, "s3://bucket/models/v1/", "true")
    assert out.returncode != 0 and "refusing path" in out.stderr


def test_a_mounted_folder_is_verified_and_used(s3):
    out = run(s3, str(s3 / "s3" / "bucket" / "models" / "v1"), "sh", "-c", 'echo "$SOYL_MODELS"')
    assert out.returncode == 0, out.stderr
    check_repository(pathlib.Path(out.stdout.strip()))


def test_the_command_replaces_the_shell(s3):
    out = run(s3, "", "sh", "-c", "echo ran")
    assert out.returncode == 0 and out.stdout.strip() == "ran"
