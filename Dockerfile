# syntax=docker/dockerfile:1.7
#
# soyl container images, one file, four targets:
#
#   docker build -t soyl-worker:gpu .                 # default (last stage): GPU worker, `soyl worker`
#   docker build --target cpu -t soyl-worker:cpu .    # CPU-only worker (no CUDA base, CPU ONNX Runtime)
#   docker build --target api -t soyl-api .           # `soyl api` for AWS Lambda (Web Adapter extension)
#
# The images carry the binary, ONNX Runtime and the model manifests, never the model weights: the
# weights are data that change on their own schedule, and come from a mounted folder or from S3 at
# start (infra/docker/entrypoint.sh). Checked statically by infra/tests/test_dockerfile.py and
# hadolint (infra/check.sh); no Docker engine is needed for those checks.
#
# Base images are pinned by tag. Pin them by digest at release time (`docker buildx imagetools
# inspect IMAGE:TAG` prints it; write IMAGE:TAG@sha256:...): a digest cannot be verified from the
# machines this file was written on, and a wrong one would only break the build.

ARG RUST_IMAGE=rust:1.95.0-bookworm
# CUDA 13.0 + cuDNN 9: what the onnxruntime-gpu 1.31.1 wheel's CUDA provider was built against.
# The runtime flavour already holds cuBLAS 13, cuFFT 12, cuRAND 10 and cuDNN 9, the libraries the
# provider loads, so no nvidia-*-cu13 wheels are installed on top. Ubuntu 24.04: glibc 2.39, newer
# than the build stage's (bookworm, 2.36), so the binary links against an older glibc and runs.
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04
ARG UBUNTU_IMAGE=ubuntu:24.04
ARG LAMBDA_ADAPTER_IMAGE=public.ecr.aws/awsguru/aws-lambda-adapter:0.9.1

# ONNX Runtime wheels, pinned by version and by the sha256 of the exact file PyPI serves (the
# wheel is a zip; only its shared libraries are used, so the Python tag does not matter).
ARG ORT_GPU_VERSION=1.31.1
ARG ORT_GPU_WHEEL=onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl
ARG ORT_GPU_SHA256=e26c475fe361b2015f45b4b824bd13f0bb20204e59b62814e6f0acd5f3d491a6
ARG ORT_CPU_VERSION=1.32.0
ARG ORT_CPU_WHEEL=onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl
ARG ORT_CPU_SHA256=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d

# ---------------------------------------------------------------------------------------------
# build: the `soyl` binary. Manifests and the lock file first, so that `cargo fetch` (the slow,
# network-bound part) is its own layer and is reused until a dependency changes; the source
# edits of a normal change only invalidate the last layer.
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY jobs/Cargo.toml jobs/
COPY models/Cargo.toml models/
COPY worker/Cargo.toml worker/
COPY submitter/Cargo.toml submitter/
COPY tests/Cargo.toml tests/
# Empty targets so that cargo can read the workspace before the sources are there.
RUN for crate in jobs models worker submitter tests; do \
      mkdir -p "$crate/src" && touch "$crate/src/lib.rs"; \
    done \
 && echo 'fn main() {}' > submitter/src/main.rs \
 && cargo fetch --locked
COPY . .
# The cache mount keeps compiled dependencies between builds on one builder (the registry is
# already in the fetch layer); the binary is copied out because a mount is not part of the image.
RUN --mount=type=cache,target=/src/target \
    cargo build --release -p soyl-submitter --locked \
 && install -D -m 0755 target/release/soyl /out/soyl

# ---------------------------------------------------------------------------------------------
# py: pip, for downloading wheels (never installed into the runtime images as a whole).
FROM ${UBUNTU_IMAGE} AS py
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv unzip \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/pip
WORKDIR /tmp/wheels

# ort-gpu / ort-cpu: the ONNX Runtime shared libraries out of the pinned wheels, each checked
# against its sha256 before it is opened. Own stages, so the 250 MB wheel never reaches a
# runtime layer. The wheel is a zip and only its shared libraries are used, so its Python tag does
# not matter; the platform tag (manylinux_2_28) is the glibc floor, below Ubuntu 24.04's 2.39.
FROM py AS ort-gpu
ARG ORT_GPU_VERSION
ARG ORT_GPU_WHEEL
ARG ORT_GPU_SHA256
# pipefail: the checksum line is a pipe, and a failed echo must not pass for a verified wheel.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN /opt/pip/bin/pip download --no-cache-dir --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux_2_28_x86_64 -d . "onnxruntime-gpu==${ORT_GPU_VERSION}" \
 && echo "${ORT_GPU_SHA256}  ${ORT_GPU_WHEEL}" | sha256sum -c - \
 && unzip -q -j "${ORT_GPU_WHEEL}" \
      "onnxruntime/capi/libonnxruntime.so.${ORT_GPU_VERSION}" \
      "onnxruntime/capi/libonnxruntime_providers_shared.so" \
      "onnxruntime/capi/libonnxruntime_providers_cuda.so" \
      -d /opt/onnxruntime/lib \
 && rm -f ./*.whl

FROM py AS ort-cpu
ARG ORT_CPU_VERSION
ARG ORT_CPU_WHEEL
ARG ORT_CPU_SHA256
# pipefail: the checksum line is a pipe, and a failed echo must not pass for a verified wheel.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN /opt/pip/bin/pip download --no-cache-dir --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux_2_28_x86_64 -d . "onnxruntime==${ORT_CPU_VERSION}" \
 && echo "${ORT_CPU_SHA256}  ${ORT_CPU_WHEEL}" | sha256sum -c - \
 && unzip -q -j "${ORT_CPU_WHEEL}" \
      "onnxruntime/capi/libonnxruntime.so.${ORT_CPU_VERSION}" \
      "onnxruntime/capi/libonnxruntime_providers_shared.so" \
      -d /opt/onnxruntime/lib \
 && rm -f ./*.whl

# awscli: the AWS CLI in a virtualenv, every wheel pinned by hash. Used only by the entrypoint to
# fetch models from S3. Built on the runtime stages' Ubuntu release, so the venv's interpreter
# (/usr/bin/python3.12) exists there.
FROM py AS awscli
COPY infra/docker/awscli-requirements.txt /tmp/awscli-requirements.txt
RUN python3 -m venv /opt/awscli \
 && /opt/awscli/bin/pip install --no-cache-dir --no-deps --require-hashes -r /tmp/awscli-requirements.txt

# ---------------------------------------------------------------------------------------------
# cpu: the worker on CPU only (dev boxes, CI, CPU instances). Same layout as the GPU image.
FROM ${UBUNTU_IMAGE} AS cpu
ARG ORT_CPU_VERSION
# curl for the health check; python3 for the AWS CLI; ca-certificates for S3 over TLS.
# Versions are not pinned: the base image tag fixes the Ubuntu release, and its security updates
# are wanted.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl python3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/soyl --shell /usr/sbin/nologin soyl \
 && install -d -o soyl -g soyl /var/lib/soyl/models /var/lib/soyl/data
COPY --from=awscli /opt/awscli /opt/awscli
COPY --from=ort-cpu /opt/onnxruntime /opt/onnxruntime
COPY --from=build /out/soyl /usr/local/bin/soyl
COPY models/repository /opt/soyl/models/repository
COPY infra/docker/entrypoint.sh /usr/local/bin/soyl-entrypoint
# The models cache lives in the soyl user's home, created above owned by soyl, so that a Docker
# volume mounted there starts writable (a new volume copies the image folder's owner) and keeps
# the download across task restarts on one host (infra/soyl.yaml mounts one).
ENV ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so.${ORT_CPU_VERSION} \
    LD_LIBRARY_PATH=/opt/onnxruntime/lib \
    PATH=${PATH}:/opt/awscli/bin \
    SOYL_MANIFESTS=/opt/soyl/models/repository \
    SOYL_MODELS_CACHE=/var/lib/soyl/models \
    SOYL_LISTEN=0.0.0.0:8080 \
    SOYL_DATA_DIR=/var/lib/soyl/data \
    SOYL_DEVICE=cpu \
    SOYL_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/soyl
EXPOSE 8080
# /ready answers 200 once the models are loaded; the first start may download them, hence the
# long start period. ECS runs its own copy of this check (infra/soyl.yaml), Docker runs this one.
HEALTHCHECK --interval=15s --timeout=3s --start-period=300s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/ready"]
ENTRYPOINT ["/usr/local/bin/soyl-entrypoint"]
CMD ["soyl", "worker"]

# ---------------------------------------------------------------------------------------------
# api: `soyl api` (the submitter) as an AWS Lambda container image. The Lambda Web Adapter
# extension turns invocations into HTTP requests on SOYL_LISTEN, so the binary is the same one
# that serves HTTP everywhere else. It loads no models and no ONNX Runtime.
FROM ${LAMBDA_ADAPTER_IMAGE} AS lambda-adapter
FROM ${UBUNTU_IMAGE} AS api
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin soyl
COPY --from=lambda-adapter /lambda-adapter /opt/extensions/lambda-adapter
COPY --from=build /out/soyl /usr/local/bin/soyl
# Lambda's file system is read-only except /tmp. The adapter forwards to 127.0.0.1:8080 and
# holds traffic until /health answers.
ENV SOYL_LISTEN=127.0.0.1:8080 \
    SOYL_DATA_DIR=/tmp/soyl-data \
    SOYL_LOG_FORMAT=json \
    AWS_LWA_PORT=8080 \
    AWS_LWA_READINESS_CHECK_PATH=/health
# Lambda runs the function as its own unprivileged user whatever this says; the USER line keeps
# the image non-root when it runs anywhere else.
USER 10001:10001
# Lambda ignores HEALTHCHECK; the adapter holds traffic until /health answers.
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/soyl"]
CMD ["api"]

# ---------------------------------------------------------------------------------------------
# gpu (the default target, last in the file): the worker fleet's image.
FROM ${CUDA_IMAGE} AS gpu
ARG ORT_GPU_VERSION
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl python3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/soyl --shell /usr/sbin/nologin soyl \
 && install -d -o soyl -g soyl /var/lib/soyl/models /var/lib/soyl/data
COPY --from=awscli /opt/awscli /opt/awscli
COPY --from=ort-gpu /opt/onnxruntime /opt/onnxruntime
COPY --from=build /out/soyl /usr/local/bin/soyl
COPY models/repository /opt/soyl/models/repository
COPY infra/docker/entrypoint.sh /usr/local/bin/soyl-entrypoint
# ORT finds its provider libraries next to libonnxruntime; LD_LIBRARY_PATH also covers the
# provider's own dependency on libonnxruntime_providers_shared; the base image's entries (driver
# libraries the NVIDIA runtime mounts) are kept. CUDA and cuDNN are on its default library path. SOYL_DEVICE=cuda: a worker on a GPU host that cannot load the
# CUDA provider fails at start instead of running slowly on CPU.
ENV ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so.${ORT_GPU_VERSION} \
    LD_LIBRARY_PATH=/opt/onnxruntime/lib:${LD_LIBRARY_PATH} \
    PATH=${PATH}:/opt/awscli/bin \
    SOYL_MANIFESTS=/opt/soyl/models/repository \
    SOYL_MODELS_CACHE=/var/lib/soyl/models \
    SOYL_LISTEN=0.0.0.0:8080 \
    SOYL_DATA_DIR=/var/lib/soyl/data \
    SOYL_DEVICE=cuda \
    SOYL_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/soyl
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=300s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/ready"]
ENTRYPOINT ["/usr/local/bin/soyl-entrypoint"]
CMD ["soyl", "worker"]
