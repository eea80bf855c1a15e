#!/usr/bin/env bash
# rerank-admin bench (fp32, int8), PyTorch and CTranslate2 (float32, int8) on the same random FLAN-T5 weights and
# documents, interleaved per shape, in one run: prints docs/s and our two precisions' ratios to each engine.
# Usage: Scripts/bench/compare_engines.sh [iterations] [shapes]   (PYTHON: a venv of
# Scripts/bench/requirements-ctranslate2.txt, default /tmp/ct2-venv/bin/python)
# AVX2_ONLY=1 holds every engine to AVX2+FMA, as on the servers we target (no AVX-512, no VNNI): OpenBLAS's
# Haswell kernels, oneDNN and CTranslate2 capped at AVX2, PyTorch's AVX2 build of its kernels.
set -euo pipefail
isa="all this CPU has"
if [ "${AVX2_ONLY:-0}" = 1 ]; then
    isa="AVX2+FMA only (AVX2_ONLY=1)"
    export OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 CT2_FORCE_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 \
        MKL_ENABLE_INSTRUCTIONS=AVX2
fi
cd "$(dirname "$0")/../.."
iterations="${1:-3}"
shapes="${2:-small base}"
python="${PYTHON:-/tmp/ct2-venv/bin/python}"
swift build -c release --product rerank-admin >/dev/null
admin=.build/release/rerank-admin
rate() { sed -n 's/.*docs\/s \([0-9.]*\).*/\1/p' | head -1; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "instruction sets: $isa; $("$admin" bench --iterations 1 --batch 2 --tokens 8 --precision int8 | head -1 | sed 's/.*kernels=//')"
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
