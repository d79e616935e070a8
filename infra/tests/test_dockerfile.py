"""Static checks of the Dockerfile (no Docker engine needed): the stages and targets, pinned base
images, the ONNX Runtime wheels verified by sha256, non-root users, health checks on /ready,
`soyl worker` as the default command, ORT_DYLIB_PATH, and that every COPY source exists and is
not excluded by .dockerignore. hadolint runs in infra/check.sh."""

import fnmatch
import re
import shlex

import pytest

from conftest import DOCKERFILE, REPO

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def instructions():
    """(instruction, arguments) with line continuations joined and comments dropped."""
    lines, buf = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        s = raw.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if buf and s.startswith("#"):
            continue
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        word, _, rest = buf.partition(" ")
        lines.append((word.upper(), rest.strip()))
        buf = ""
    return lines


def global_args():
    out = {}
    for ins, rest in instructions():
        if ins == "FROM":
            break
        if ins == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            out[k] = v
    return out


def stages():
    """{stage name: [(instruction, args), ...]} in file order, with the FROM image resolved."""
    args, out, current = global_args(), {}, None
    for ins, rest in instructions():
        if ins == "FROM":
            parts = [p for p in rest.split() if not p.startswith("--")]
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            current = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else image
            out[current] = [("FROM", image)]
        elif current:
            out[current].append((ins, rest))
    return out


def last(stage, ins):
    found = [r for i, r in stages()[stage] if i == ins]
    return found[-1] if found else None


def env_of(stage):
    env = {}
    for ins, rest in stages()[stage]:
        if ins == "ENV":
            for tok in shlex.split(rest):
                k, _, v = tok.partition("=")
                env[k] = v
    return env


RUNTIME = ["gpu", "cpu", "api"]
WORKERS = ["gpu", "cpu"]


def test_targets_exist_and_the_default_target_is_the_gpu_worker():
    names = list(stages())
    for target in ["build", *RUNTIME]:
        assert target in names
    assert names[-1] == "gpu", "`docker build .` builds the last stage"


def test_base_images_are_pinned():
    images = [s[0][1] for s in stages().values()]
    stage_names = set(stages())
    for image in images:
        if image in stage_names:
            continue
        assert "$" not in image, f"unresolved base image {image}"
        assert "@sha256:" in image or re.search(r":[\w.-]+$", image.split("/")[-1]), f"{image} has no tag"
        assert not image.endswith(":latest"), image


def test_gpu_base_is_cuda_13_with_cudnn_9_runtime():
    image = stages()["gpu"][0][1]
    assert re.match(r"^nvidia/cuda:13\.\d+\.\d+-cudnn-runtime-ubuntu\d\d\.\d\d$", image), image


def test_rust_build_is_pinned_locked_and_fetches_before_copying_sources():
    build = stages()["build"]
    assert re.match(r"^rust:\d+\.\d+\.\d+-", build[0][1])
    runs = [r for i, r in build if i == "RUN"]
    assert any("cargo build --release -p soyl-submitter --locked" in r for r in runs)
    order = [(i, r) for i, r in build if i in ("COPY", "RUN")]
    fetch = next(n for n, (i, r) in enumerate(order) if "cargo fetch --locked" in r)
    copy_all = next(n for n, (i, r) in enumerate(order) if i == "COPY" and r.startswith(". "))
    assert fetch < copy_all, "dependencies must be fetched in a layer before the sources are copied"


@pytest.mark.parametrize("flavour,version", [("GPU", "1.31.1"), ("CPU", "1.32.0")])
def test_onnxruntime_wheels_are_pinned_and_sha256_verified(flavour, version):
    args = global_args()
    assert args[f"ORT_{flavour}_VERSION"] == version
    wheel = args[f"ORT_{flavour}_WHEEL"]
    assert f"-{version}-" in wheel and wheel.endswith("manylinux_2_28_x86_64.whl")
    assert HEX64.match(args[f"ORT_{flavour}_SHA256"])
    stage = stages()[f"ort-{flavour.lower()}"]
    run = " ".join(r for i, r in stage if i == "RUN")
    assert f'echo "${{ORT_{flavour}_SHA256}}  ${{ORT_{flavour}_WHEEL}}" | sha256sum -c -' in run
    assert run.index("sha256sum -c") < run.index("unzip"), "verify before extracting"
    assert any(i == "SHELL" and "pipefail" in r for i, r in stage)


def test_gpu_image_carries_the_cuda_provider():
    run = " ".join(r for i, r in stages()["ort-gpu"] if i == "RUN")
    for lib in ["libonnxruntime.so.${ORT_GPU_VERSION}", "libonnxruntime_providers_shared.so",
                "libonnxruntime_providers_cuda.so"]:
        assert lib in run


@pytest.mark.parametrize("stage", RUNTIME)
def test_runtime_stages_run_as_a_numeric_non_root_user(stage):
    user = last(stage, "USER")
    assert user and re.match(r"^\d+(:\d+)?$", user), user
    assert not user.startswith("0"), user


@pytest.mark.parametrize("stage", WORKERS)
def test_workers_check_ready_and_run_soyl_worker(stage):
    assert "/ready" in last(stage, "HEALTHCHECK")
    assert last(stage, "ENTRYPOINT") == '["/usr/local/bin/soyl-entrypoint"]'
    assert last(stage, "CMD") == '["soyl", "worker"]'
    env = env_of(stage)
    version = global_args()[f"ORT_{stage.upper()}_VERSION"]
    assert env["ORT_DYLIB_PATH"] == f"/opt/onnxruntime/lib/libonnxruntime.so.${{ORT_{stage.upper()}_VERSION}}"
    assert version in global_args()[f"ORT_{stage.upper()}_WHEEL"]
    assert env["SOYL_LISTEN"].endswith(":8080")


def test_api_target_runs_soyl_api_behind_the_lambda_adapter():
    assert last("api", "CMD") == '["api"]'
    assert any(i == "COPY" and "/opt/extensions/lambda-adapter" in r for i, r in stages()["api"])


def dockerignore():
    return [l.strip() for l in (REPO / ".dockerignore").read_text().splitlines()
            if l.strip() and not l.startswith("#")]


def test_copy_sources_exist_and_are_in_the_build_context():
    ignored = dockerignore()
    for stage, body in stages().items():
        for ins, rest in body:
            if ins != "COPY" or "--from=" in rest:
                continue
            sources = shlex.split(rest)[:-1]
            for src in sources:
                if src == ".":
                    continue
                assert (REPO / src).exists(), f"{stage}: COPY {src} does not exist"
                assert not any(fnmatch.fnmatch(src, p) or src.startswith(p.rstrip("/") + "/") or src == p
                               for p in ignored), f"{stage}: COPY {src} is excluded by .dockerignore"


def test_models_manifests_are_shipped_and_weights_are_not():
    for stage in WORKERS:
        copies = [r for i, r in stages()[stage] if i == "COPY"]
        assert any(r.startswith("models/repository ") for r in copies)
    assert not list((REPO / "models" / "repository").rglob("*.onnx"))
