#!/usr/bin/env bash
# Fuzzes the HTTP/1.1 request parser with libFuzzer for a bounded time (default 60 s), starting from
# the seed requests in Scripts/fuzz/corpus. The parser sources are compiled straight into the fuzzer.
# Usage: Scripts/fuzz/http1_parser.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_BUDGET=${1:-60}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
src=Sources/HTTPServer
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name HTTPServer \
    "$src/HTTP1RequestParser.swift" "$src/HTTP1RequestHead.swift" "$src/HTTPHeaders.swift" \
    "$src/HTTPRequest.swift" "$src/HTTPError.swift" "$src/HTTPServerConfiguration.swift" \
    Scripts/fuzz/HTTP1ParserFuzzer.swift -o "$OUT/http1-parser-fuzzer" 2> >(grep -v "ld.gold: warning" >&2)
mkdir -p "$OUT/corpus"
cp Scripts/fuzz/corpus/* "$OUT/corpus/"
# Swift's own crash backtracer trips AddressSanitizer; libFuzzer reports crashes itself.
# Findings go outside the tree; a new one becomes a regression test in MalformedRequestTests.
artifacts="${FUZZ_ARTIFACTS:-$HOME/.cache/rerank/fuzz}"
mkdir -p "$artifacts"
SWIFT_BACKTRACE=enable=no "$OUT/http1-parser-fuzzer" -max_total_time="$SECONDS_BUDGET" -max_len=2048 -timeout=5 \
    -artifact_prefix="$artifacts/" "$OUT/corpus"
