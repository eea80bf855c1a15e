#!/usr/bin/env bash
# rerank-admin bench (fp32, int8), PyTorch and CTranslate2 (float32, int8) on the same random FLAN-T5 weights and
# documents, interleaved per shape, in one run: prints docs/s and our two precisions' ratios to each engine.
# Usage: Scripts/bench/compare_engines.sh [iterations] [shapes]   (PYTHON: a venv of
# Scripts/bench/requirements-ctranslate2.txt, default /tmp/ct2-venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/../.."
iterations="${1:-3}"
shapes="${2:-small base}"
python="${PYTHON:-/tmp/ct2-venv/bin/python}"
swift build -c release --product rerank-admin >/dev/null
admin=.build/release/rerank-admin
rate() { sed -n 's/.*docs\/s \([0-9.]*\).*/\1/p' | head -1; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-22s %8s %12s %12s\n' shape engine docs/s "fp32 ours/it" "int8 ours/it"
for shape in $shapes; do
    ours=$("$admin" bench --shape "$shape" --iterations "$iterations" | rate)
    ours_i8=$("$admin" bench --shape "$shape" --iterations "$iterations" --precision int8 | rate)
    torch=$("$python" Scripts/bench/pytorch_pointwise.py --shape "$shape" --iterations "$iterations" 2>/dev/null | rate)
    ct2_f32=$("$python" Scripts/bench/ctranslate2_pointwise.py --shape "$shape" --compute-type float32 \
        --iterations "$iterations" 2>/dev/null | rate)
    ct2_i8=$("$python" Scripts/bench/ctranslate2_pointwise.py --shape "$shape" --compute-type int8 \
        --iterations "$iterations" 2>/dev/null | rate)
    for row in "rerank-admin fp32:$ours" "rerank-admin int8:$ours_i8" "pytorch fp32:$torch" \
        "ctranslate2 float32:$ct2_f32" "ctranslate2 int8:$ct2_i8"; do
        name="${row%%:*}" value="${row##*:}"
        printf '%-6s %-22s %8s %12s %12s\n' "$shape" "$name" "$value" \
            "$(awk -v a="$ours" -v b="$value" 'BEGIN{printf "%.2fx", a/b}')" \
            "$(awk -v a="$ours_i8" -v b="$value" 'BEGIN{printf "%.2fx", a/b}')"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
