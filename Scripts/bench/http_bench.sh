#!/usr/bin/env bash
# HTTP speed bar: wrk (HTTP/1.1 keep-alive, 64 connections) and h2load (h2c, 32 connections x 10
# streams) against http-echo (release) and nginx (`return 200`) in the same run, plus memory per idle
# connection. Loopback only; every run is bounded by DURATION seconds.
# Usage: Scripts/bench/http_bench.sh            (DURATION=10 by default; SKIP_BUILD=1 to reuse the build)
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10}
ECHO_PORT=${ECHO_PORT:-18181}
NGINX_PORT=${NGINX_PORT:-18182}
NGINX_H2_PORT=${NGINX_H2_PORT:-18183}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-1000}
ulimit -n 65536 2>/dev/null || ulimit -n 8192

for tool in wrk h2load nginx python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk nghttp2-client nginx)" >&2; exit 1; }
done
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --product http-echo >/dev/null
ECHO_BIN=$(swift build -c release --show-bin-path)/http-echo

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$ECHO_BIN" --port "$ECHO_PORT" --log-level error >"$WORK/echo.log" 2>&1 &
ECHO_PID=$!
PIDS+=("$ECHO_PID")

mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path $WORK/nginx/body;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        listen 127.0.0.1:$NGINX_H2_PORT http2;
        location / { return 200 "hello\n"; }
    }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" >"$WORK/nginx/out.log" 2>&1 &
PIDS+=("$!")
sleep 1

run_wrk() { # name url
    local out
    out=$(wrk -t1 -c64 -d"${DURATION}s" --latency "$2")
    local rps p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$( (grep -E "Socket errors|Non-2xx" <<<"$out" || true) | tr '\n' ' ')
    printf "%-28s %12s req/s  p99 %-9s errors: %s\n" "$1" "$rps" "$p99" "${errors:-none}"
    echo "$rps" >"$WORK/$1.rps"
}

run_h2load() { # name url
    local out
    out=$(h2load -c32 -m10 -D "$DURATION" --log-file="$WORK/$1.log" "$2")
    local rps failed p99
    rps=$(awk '/^finished in/ {print $4}' <<<"$out")
    failed=$(awk '/^requests:/ {print $10, "failed,", $12, "errored"}' <<<"$out")
    # Log lines: start (us since epoch), status, duration (us).
    p99=$(awk '{print $3}' "$WORK/$1.log" | sort -n | awk '{a[NR]=$1} END {printf "%.2fms", a[int(NR*0.99)]/1000}')
    printf "%-28s %12s req/s  p99 %-9s %s\n" "$1" "$rps" "$p99" "$failed"
    echo "$rps" >"$WORK/$1.rps"
}

echo "machine: $(nproc) cores, $(uname -srm); duration ${DURATION}s per run"
run_wrk "http1 http-echo" "http://127.0.0.1:$ECHO_PORT/"
run_wrk "http1 nginx" "http://127.0.0.1:$NGINX_PORT/"
run_h2load "h2c http-echo" "http://127.0.0.1:$ECHO_PORT/"
run_h2load "h2c nginx" "http://127.0.0.1:$NGINX_H2_PORT/"
awk -v a="$(cat "$WORK/http1 http-echo.rps")" -v b="$(cat "$WORK/http1 nginx.rps")" \
    'BEGIN {printf "ratio http1 http-echo/nginx: %.2f\n", a / b}'
awk -v a="$(cat "$WORK/h2c http-echo.rps")" -v b="$(cat "$WORK/h2c nginx.rps")" \
    'BEGIN {printf "ratio h2c   http-echo/nginx: %.2f\n", a / b}'

# Memory per idle keep-alive connection, on a fresh process (the load runs above leave freed heap
# behind that would hide the growth): RSS before and after N connections that each made a request.
IDLE_PORT=$((ECHO_PORT + 10))
"$ECHO_BIN" --port "$IDLE_PORT" --log-level error >"$WORK/idle.log" 2>&1 &
IDLE_PID=$!
PIDS+=("$IDLE_PID")
sleep 0.5
python3 - "$IDLE_PID" "$IDLE_PORT" "$IDLE_CONNECTIONS" <<'PY'
import socket, sys, time
pid, port, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
time.sleep(0.5)
before = rss_kib()
sockets = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    s.settimeout(5)
    data = b""
    while b"hello\n" not in data:
        data += s.recv(4096)
    sockets.append(s)
time.sleep(1)
after = rss_kib()
print(f"idle connections: {n}, RSS {before} KiB -> {after} KiB, {(after - before) * 1024 / n:.0f} bytes per idle connection")
for s in sockets:
    s.close()
PY
