#!/usr/bin/env bash
# The Dockerfile's runtime stage, checked without a Docker engine (deploy.sh, in the test command, lints it): the
# binaries are built as the build stage builds them (release, static Swift runtime); a Debian bookworm minbase chroot
# (what debian:bookworm-slim is) gets exactly the stage's apt packages and the binaries; then, inside it, as
# the image's non-root uid: every library resolves, rerankd starts and serves the README's request, the
# HEALTHCHECK command passes, rerank-admin scores with the embedded demo model (fp32 and int8: oneDNN loads),
# and SIGTERM exits cleanly.
# Needs root (debootstrap, chroot) and Debian's mirror. Usage: Scripts/check/runtime_image.sh [MINBASE_TAR]
set -euo pipefail
cd "$(dirname "$0")/../.."
minbase="${1:-$HOME/.cache/rerank/bookworm-minbase.tar}"
step() { echo "runtime_image: $*"; }

# The packages of a stage's `apt-get install`: stage_packages 'FROM-line pattern'.
stage_packages() {
    awk -v stage="$1" '$0 ~ stage {inside=1} inside && /apt-get install/ {
        sub(/.*apt-get install/, ""); sub(/\\.*/, ""); sub(/&&.*/, ""); print; exit }' Dockerfile \
        | tr ' ' '\n' | grep -v '^-' | grep -v '^$' | tr '\n' ' '
}
packages=$(stage_packages '^FROM debian:bookworm-slim')
build_packages=$(stage_packages '^FROM swift:')
[ -n "$packages" ] && [ -n "$build_packages" ] || { echo "runtime_image: no apt-get install in a stage" >&2; exit 1; }
step "runtime packages: $packages"

step "building the release binaries as the build stage does ($build_packages; static Swift runtime; .build-static)"
# shellcheck disable=SC2086
if ! dpkg-query -W $build_packages >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $build_packages >/dev/null
fi
for product in rerankd rerank-admin; do
    swift build -c release --static-swift-stdlib --build-path .build-static --product "$product" >/dev/null
done

# A fresh minbase for every run (a package dropped from the Dockerfile must be missing here too), unpacked
# from a cached debootstrap.
if [ ! -s "$minbase" ]; then
    step "debootstrap bookworm minbase (cached in $minbase)"
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    staging=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$staging" http://deb.debian.org/debian >/dev/null
    mkdir -p "$(dirname "$minbase")"
    tar -C "$staging" -cf "$minbase.partial" . && mv "$minbase.partial" "$minbase"
    rm -rf "$staging"
fi
rootfs=$(mktemp -d)
tar -C "$rootfs" -xf "$minbase"
chmod 755 "$rootfs"  # the image's / is world-readable; mktemp's is not
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# shellcheck disable=SC2086
chroot "$rootfs" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null"
rm -rf "$rootfs/usr/local/bin/"*
cp .build-static/release/rerankd .build-static/release/rerank-admin "$rootfs/usr/local/bin/"
cp -R .build-static/release/rerank_rerankd.resources "$rootfs/usr/local/bin/"

# A container always has /proc (the Swift runtime reads its arguments and its own path there).
server="" log=""
cleanup() {
    [ -z "$server" ] || kill "$server" 2>/dev/null || true
    rm -f "$log"
    { ! mountpoint -q "$rootfs/proc" || umount "$rootfs/proc"; } && rm -rf "$rootfs"
}
trap cleanup EXIT
mountpoint -q "$rootfs/proc" || mount -t proc proc "$rootfs/proc"
inside() { chroot --userspec=10001:10001 "$rootfs" env -i HOME=/tmp PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
for binary in rerankd rerank-admin; do
    if chroot "$rootfs" ldd "/usr/local/bin/$binary" | grep "not found"; then
        echo "runtime_image: $binary needs a library the runtime stage does not install" >&2; exit 1
    fi
done
step "every library of rerankd and rerank-admin resolves"

for precision in fp32 int8; do
    printf '{"query": "how do rainbows form", "documents": ["Sunlight refracts in droplets.", "Stocks rose."]}\n' \
        | inside rerank-admin score --model /usr/local/bin/rerank_rerankd.resources/demo-model --precision "$precision" --input -
done
log=$(mktemp)
# chroot and env exec, so $! is rerankd itself and gets the SIGTERM below.
chroot --userspec=10001:10001 "$rootfs" env -i PATH=/usr/local/bin:/usr/bin:/bin RERANK_HOST=127.0.0.1 RERANK_PORT=0 \
    RERANK_DRAIN_TIMEOUT=5 rerankd >"$log" 2>&1 &
server=$!
port=""
for _ in $(seq 1 150); do
    port=$(sed -n 's/.*ready on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && break
    sleep 0.2
done
[ -n "$port" ] || { cat "$log" >&2; echo "runtime_image: rerankd did not start" >&2; exit 1; }
# The HEALTHCHECK line of the Dockerfile, run as the image runs it.
health=$(sed -n 's/.*CMD \["\/bin\/sh", "-c", "\(.*\)"\]/\1/p' Dockerfile | sed 's/\\"/"/g')
inside RERANK_PORT="$port" /bin/sh -c "$health"
step "HEALTHCHECK passes: $health"
curl -fsS "http://127.0.0.1:$port/rerank" -H 'Content-Type: application/json' \
    -d '{"query": "how do rainbows form", "texts": ["Sunlight refracts in droplets.", "Stocks rose."]}'
echo
kill -TERM "$server"
wait "$server"
server=""
step "rerankd served and exited 0 on SIGTERM"
