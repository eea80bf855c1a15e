#!/usr/bin/env bash
# Regenerates the embedded demo model (Sources/rerankd/Resources/demo-model, also Models/demo) with the
# project's own pipeline: BM25 candidates -> a labelled teacher ranking -> distill (RankNet) -> eval.
# The student starts from the random-weight test checkpoint (Tests/Fixtures/ranking/random_v4, 3+2 layers,
# d_model 128); the corpus is Scripts/demo/topics.json (36 everyday topics, written for this demo). It is a
# demo: it knows those topics' words and little else. Usage: Scripts/demo/make_demo_model.sh [WORK] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:-/tmp/rerank-demo}"
steps="${2:-2000}"
swift build -c release --product rerank-admin >/dev/null
admin=.build/release/rerank-admin
start=Tests/Fixtures/ranking/random_v4
out=Sources/rerankd/Resources/demo-model

rm -rf "$work" && mkdir -p "$work"
python3 Scripts/demo/prepare.py data "$work"
"$admin" candidates --corpus "$work/corpus.jsonl" --queries "$work/train.tsv" --top-k 10 --output "$work/train_bm25.trec" --quiet
"$admin" candidates --corpus "$work/corpus.jsonl" --queries "$work/test.tsv" --top-k 1000 --output "$work/test_bm25.trec" --quiet
python3 Scripts/demo/prepare.py teacher "$work"
python3 Scripts/demo/prepare.py full-run "$work"

"$admin" distill --model "$start" --input "$work/input.jsonl" --teacher-run "$work/teacher.trec" --output "$work/student" \
    --top-m 12 --steps "$steps" --batch-queries 8 --lr 1e-3 --warmup-steps 50 --dropout 0.1 --seed 1 \
    --holdout 0.1 --eval-every 100 --report "$work/distill-report.json" --quiet

# nDCG@10 of the test queries over all 144 passages: BM25's order, or reranked by --model DIR.
ndcg10() {
    "$admin" eval --run "$work/test_full.trec" --qrels "$work/qrels.tsv" --quiet "$@" \
        | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ndcg@10"], 3))'
}
reranked() { ndcg10 --model "$1" --corpus "$work/corpus.jsonl" --queries "$work/test.tsv" --top-k 1000; }
echo "test queries, all 144 passages ranked (nDCG@10):"
echo "  BM25:            $(ndcg10)"
echo "  random start:    $(reranked "$start")"
echo "  distilled demo:  $(reranked "$work/student")"
printf '{"query": "how do rainbows form", "documents": ["Sunlight refracts in droplets.", "Stocks rose."]}\n' \
    | "$admin" score --model "$work/student" --input -

rm -rf "$out" && cp -R "$work/student" "$out"
cat > "$out/README.md" <<'MD'
# Demo checkpoint (a toy reranker)

A tiny FLAN-T5-layout student (3 encoder and 2 decoder layers, d_model 128, 1024-piece vocabulary) distilled
by `Scripts/demo/make_demo_model.sh`: it starts from random weights and learns, with RankNet, a teacher
ranking of 36 everyday topics (`Scripts/demo/topics.json`): each query's own passages first, then BM25's
closest passages from other topics. It tells those topics apart and knows little else: try the API with it,
then serve a real checkpoint with `--model DIR`.
MD
echo "demo model written to $out"
