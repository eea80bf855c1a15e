#!/usr/bin/env bash
# Runs schemathesis (property-based API testing) against a live rerankd with ./openapi.yaml:
# fails on any server error or response that breaks the schema. Loopback only, bounded examples.
# Usage: Scripts/check/schemathesis.sh [max-examples]   (installs schemathesis into a venv if needed)
set -euo pipefail
cd "$(dirname "$0")/../.."
examples="${1:-100}"
venv="${SCHEMATHESIS_VENV:-$HOME/.cache/rerank/schemathesis-venv}"
[ -x "$venv/bin/schemathesis" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q schemathesis==4.32.5; }
swift build -c release --product rerankd >/dev/null
port=18081
.build/release/rerankd --host 127.0.0.1 --port $port --log-level warning --admin-token check-token &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do curl -sf "localhost:$port/ready" >/dev/null && break; sleep 0.5; done
# Run from a scratch directory: schemathesis keeps its cache in the working directory.
spec="$PWD/openapi.yaml"
cd "$(mktemp -d)"
"$venv/bin/schemathesis" run "$spec" --url "http://127.0.0.1:$port" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "$examples" --header "Authorization: Bearer check-token"
