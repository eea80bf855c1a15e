#!/usr/bin/env bash
# rerankd under load, on loopback, against the core's offline speed (issue: service bars).
#  1. 64 concurrent clients x REQUESTS requests of 20 documents of ~100 words, flan-t5-small shape
#     (random weights): errors, docs/s, p50/p95/p99; then `rerank-admin bench` on the same checkpoint
#     at the same mean prompt length, for the >= 90% comparison.
#  2. Batching pays: 16 clients each sending one short document, batching on vs --max-batch-tokens 1.
# Usage: Scripts/bench/service_bench.sh   (env: REQUESTS=2, PRECISION=fp32 or int8, PYTHON for the checkpoint
# maker, CHECKPOINT)
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-/root/venv/bin/python}"
checkpoint="${CHECKPOINT:-/tmp/flan-t5-small-random}"
requests="${REQUESTS:-2}"
precision="${PRECISION:-fp32}"
port=18080
[ -d "$checkpoint" ] || "$python" Scripts/bench/make_random_checkpoint.py --shape small --out "$checkpoint"
swift build -c release --product rerankd >/dev/null
swift build -c release --product rerank-admin >/dev/null
server_pid=""
start() {
  .build/release/rerankd --host 127.0.0.1 --port $port --model "$checkpoint" --log-level warning \
    --max-queued-tokens 100000000 --request-timeout 600 --precision "$precision" "$@" &
  server_pid=$!
  for _ in $(seq 1 120); do curl -sf "localhost:$port/ready" >/dev/null && return; sleep 0.5; done
  echo "server did not become ready" >&2; exit 1
}
stop() { kill -TERM "$server_pid"; wait "$server_pid" || true; }
trap '[ -n "$server_pid" ] && kill $server_pid 2>/dev/null || true' EXIT

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); precision $precision"
echo "== load: 64 clients x $requests requests x 20 docs x ~100 words"
start
python3 Scripts/bench/load_rerank.py --port $port --clients 64 --requests "$requests" --docs 20 --words 100
metrics=$(curl -s "localhost:$port/metrics")
tokens=$(awk '/^rerank_batch_tokens_sum/ {s=$2} /^rerank_documents_total/ {d=$2} END {printf "%d", s/d}' <<<"$metrics")
echo "mean prompt tokens per document: $tokens"
stop
echo "== offline core, same checkpoint, batches of 16 x ~$tokens tokens"
.build/release/rerank-admin bench --model "$checkpoint" --tokens "$tokens" --batch 16 --iterations 3 \
    --precision "$precision"

echo "== batching pays: 16 clients x 30 requests x 1 short document"
start
python3 Scripts/bench/load_rerank.py --port $port --clients 16 --requests 30 --docs 1 --words 8
stop
echo "-- same with batching disabled (--max-batch-tokens 1)"
start --max-batch-tokens 1
python3 Scripts/bench/load_rerank.py --port $port --clients 16 --requests 30 --docs 1 --words 8
stop
