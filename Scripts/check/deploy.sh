#!/usr/bin/env bash
# Offline checks of Deploy/ and the Dockerfile: hadolint, shellcheck, then Scripts/check/deploy.py (Kubernetes
# schemas, flags and variables against the built binaries, shutdown budgets, systemd-analyze). Usage: Scripts/check/deploy.sh [BIN_DIR (.build/debug)]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-.build/debug}"
venv="${RERANK_OPS_VENV:-$HOME/.cache/rerank/ops-venv}"
if ! command -v systemd-analyze >/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
if ! "$venv/bin/python" -c "import yaml, kubernetes_validate" 2>/dev/null || [ ! -x "$venv/bin/hadolint" ] \
    || [ ! -x "$venv/bin/shellcheck" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r Scripts/check/requirements-ops.txt
fi
"$venv/bin/hadolint" Dockerfile
"$venv/bin/shellcheck" Deploy/kubernetes/sharded-teacher/run.sh Scripts/check/*.sh Scripts/demo/*.sh .ci/run Scripts/test.sh
"$venv/bin/python" Scripts/check/deploy.py "$bin"
