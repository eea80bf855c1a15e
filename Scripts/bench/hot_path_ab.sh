#!/usr/bin/env bash
# The server's hot path, two rerankd builds side by side in one run: wrk GET /health (HTTP/1.1, 32
# connections), h2load GET /health (h2c, 32 connections x 8 streams) and wrk POST /v1/rerank with one short
# document (8 connections), each build started fresh for each measurement, A and B alternated ROUNDS times.
# Loopback only; every measurement is bounded by DURATION seconds. The embedded demo model.
# Usage: Scripts/bench/hot_path_ab.sh OLD_RERANKD NEW_RERANKD   (ROUNDS=2, DURATION=5)
set -euo pipefail
OLD=${1:?old rerankd binary}
NEW=${2:?new rerankd binary}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-5}
PORT=${PORT:-18461}
for tool in wrk h2load curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk nghttp2-client curl)" >&2; exit 1; }
done

WORK=$(mktemp -d)
SERVER=""
cleanup() {
    [ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"query": "how do rainbows form", "documents": ["Sunlight refracts in droplets."]}'
wrk.headers["Content-Type"] = "application/json"
LUA

start() {
    "$1" --host 127.0.0.1 --port "$PORT" --log-level warning >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && return; sleep 0.1; done
    echo "rerankd did not start: $(cat "$WORK/server.log")" >&2
    exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

measure() {  # build, name -> requests/s
    start "$1"
    local url="http://127.0.0.1:$PORT" rate
    case $2 in
        wrk-health) rate=$(wrk -t1 -c32 -d"${DURATION}s" "$url/health" | awk '/Requests\/sec/ {print $2}') ;;
        h2load-health) rate=$(h2load -c32 -m8 -D"$DURATION" "$url/health" | awk '/^finished in/ {print $4}') ;;
        wrk-rerank) rate=$(wrk -t1 -c8 -d"${DURATION}s" -s "$WORK/post.lua" "$url/v1/rerank" | awk '/Requests\/sec/ {print $2}') ;;
    esac
    stop
    echo "$rate"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| measurement (req/s) | old | new |\n| --- | --- | --- |\n'
for name in wrk-health h2load-health wrk-rerank; do
    old=() new=()
    for _ in $(seq "$ROUNDS"); do
        old+=("$(measure "$OLD" "$name")")
        new+=("$(measure "$NEW" "$name")")
    done
    printf '| %s | %s | %s |\n' "$name" "${old[*]}" "${new[*]}"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
