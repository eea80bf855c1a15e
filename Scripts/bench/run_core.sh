#!/usr/bin/env bash
# Runs the Swift and PyTorch pointwise benchmarks back to back on the same documents and prints a table.
# Usage: Scripts/bench/run_core.sh [iterations]   (from the repository root; needs the venv of
# Scripts/fixtures/requirements.txt at $PYTHON, default /root/venv/bin/python)
set -euo pipefail
iterations="${1:-3}"
python="${PYTHON:-/root/venv/bin/python}"
swift build -c release --product rerank-admin >/dev/null
admin=.build/release/rerank-admin

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-8s %12s %12s %8s\n' shape engine docs/s ms/batch ratio
for shape in small base; do
    swift_out=$("$admin" bench --shape "$shape" --iterations "$iterations")
    torch_out=$("$python" Scripts/bench/pytorch_pointwise.py --shape "$shape" --iterations "$iterations" 2>/dev/null)
    swift_rate=$(sed -n 's/^swift docs\/s \([0-9.]*\).*(\([0-9.]*\) ms.*/\1 \2/p' <<<"$swift_out")
    torch_rate=$(sed -n 's/^pytorch docs\/s \([0-9.]*\).*(\([0-9.]*\) ms.*/\1 \2/p' <<<"$torch_out")
    read -r s_docs s_ms <<<"$swift_rate"
    read -r t_docs t_ms <<<"$torch_rate"
    printf '%-6s %-8s %12s %12s %8s\n' "$shape" swift "$s_docs" "$s_ms" "$(awk -v a="$s_docs" -v b="$t_docs" 'BEGIN{printf "%.2fx", a/b}')"
    printf '%-6s %-8s %12s %12s %8s\n' "$shape" pytorch "$t_docs" "$t_ms" "1.00x"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
