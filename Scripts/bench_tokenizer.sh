#!/usr/bin/env bash
# Encode throughput of the SentencePiece module in release mode on long English text (the licence
# texts under /usr/share/common-licenses, about 0.25 MB), with the T5 fixture model.
# Usage: Scripts/bench_tokenizer.sh [model (dir, spiece.model or tokenizer.json)] [seconds per measurement]
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-Tests/Fixtures/tokenizers/t5/spiece.model}"
seconds="${2:-2}"
text="$(mktemp)"
trap 'rm -f "$text"' EXIT
cat /usr/share/common-licenses/{Apache-2.0,Artistic,BSD,GPL-2,GPL-3,LGPL-2.1,LGPL-3,MPL-2.0} > "$text"
swift build -c release --product sentencepiece-bench >&2
.build/release/sentencepiece-bench "$model" "$text" "$seconds"
