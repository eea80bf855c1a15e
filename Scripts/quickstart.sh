#!/usr/bin/env bash
# One command from a fresh Debian machine with Swift: install what is missing, build in release
# mode, and score the bundled example with the bundled demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/install-deps.sh
swift build -c release
.build/release/rerank-admin score --model Models/demo --template instructdistill --input examples/queries.jsonl
