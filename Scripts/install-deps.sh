#!/usr/bin/env bash
# Installs what building and testing need on Debian/Ubuntu: the C libraries the package links,
# the real HTTP clients the tests drive, and a Python venv with the HTTP/2 client libraries.
# Idempotent: it installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail

packages=(libopenblas-dev libnghttp2-dev zlib1g-dev libdnnl-dev pkg-config curl nghttp2-client wrk python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python clients for the HTTP tests (pinned), in a venv outside the repository.
venv="${RERANK_TEST_VENV:-$HOME/.cache/rerank/test-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import httpx, h2, cohere" 2>/dev/null; then
  echo "install-deps: python venv at $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check httpx==0.28.1 h2==4.1.0 cohere==7.3.1
fi
