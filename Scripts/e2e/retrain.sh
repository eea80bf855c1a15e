#!/usr/bin/env bash
# End-to-end proof that learning happens, on this machine, with no pretrained weights: a synthetic corpus,
# the tiny random T5 teacher fixture (Tests/Fixtures/teacher/model), the random test checkpoint as the
# student (Tests/Fixtures/ranking/random_v4), a running rerankd following a model store, and
# `rerank-admin pipeline` between them:
# candidates (BM25) -> teacher (PRP, all pairs) -> distill (RankNet) -> gate -> publish. It prints the
# held-out curve (RankNet loss, Kendall tau against the teacher) and checks the server then serves the
# new student. Usage: Scripts/e2e/retrain.sh [WORK_DIR] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:-/tmp/rerank-e2e}"
steps="${2:-150}"
for product in rerank-admin rerankd; do swift build -c release --product "$product" >/dev/null; done
bin=.build/release
rm -rf "$work" && mkdir -p "$work"
python3 Scripts/e2e/make_corpus.py "$work/data" 3000 400

"$bin/rerank-admin" publish Tests/Fixtures/ranking/random_v4 --store "$work/store" >/dev/null
"$bin/rerankd" --host 127.0.0.1 --port 0 --model-store "$work/store" --model-store-poll 1 >"$work/rerankd.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*ready on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/rerankd.log")
    [ -n "$port" ] && break
    sleep 0.2
done
info() { curl -s "http://127.0.0.1:$port/info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["directory"])'; }
echo "serving before: $(info)"

start=$(date +%s)
"$bin/rerank-admin" pipeline --work-dir "$work/run" --store "$work/store" \
    --corpus "$work/data/corpus.jsonl" --queries "$work/data/queries.tsv" \
    --teacher-model Tests/Fixtures/teacher/model --top-k 8 --top-m 8 \
    --steps "$steps" --lr 1e-3 --batch-queries 8 --holdout 0.15 --quiet
echo "pipeline: $(( $(date +%s) - start )) s"
python3 - "$work/run/distill-report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print(f"{report['training_queries']} training queries, {report['held_out_queries']} held out")
print("step  held-out RankNet loss  held-out Kendall tau")
for e in report["evaluations"]:
    print(f"{int(e['step']):4d}  {e['loss']:21.4f}  {e['kendall_tau']:20.4f}")
PY
current=$(readlink "$work/store/current")
for _ in $(seq 1 50); do
    [[ "$(info)" == *"${current#versions/}"* ]] && break
    sleep 0.2
done
echo "serving after:  $(info)"
[[ "$(info)" == *"${current#versions/}"* ]] || { echo "rerankd did not pick up $current" >&2; exit 1; }
