#!/usr/bin/env bash
# The whole test suite: installs the test clients if missing, runs every test target, runs the numeric tests
# again as an older CPU runs them (baseline kernels instead of AVX2+FMA; oneDNN without VNNI, hence 7-bit int8
# weights; that rerun always uses the default debug build, whatever arguments the first run got), then checks
# Deploy/ and the Dockerfile against the binaries the tests built.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/install-deps.sh
export RERANK_TEST_PYTHON="${RERANK_TEST_VENV:-$HOME/.cache/rerank/test-venv}/bin/python"
swift test --disable-swift-testing "$@"   # XCTest only: no Swift Testing suites here
RERANK_KERNELS=baseline ONEDNN_MAX_CPU_ISA=AVX2 swift test --disable-swift-testing --skip-build \
    --filter 'T5Tests|Int8ScoringTests|PointwiseScorerTests|GradientParityTests|PairwiseTeacherTests'
Scripts/check/deploy.sh .build/debug
