#!/usr/bin/env bash
# Runs the product as ops run it, in a real container runtime (podman; no Docker engine needed, root):
#   1. builds the image from the Dockerfile (base images made locally where no registry is reachable, passed
#      as build ARGs; see shared CONTAINERS.md),
#   2. runs it as `docker run` would: read-only root, uid 10001, cold start to /ready, the README request, and
#      SIGTERM with a request in flight (it is answered, the process exits 0),
#   3. plays the Deployment with its ConfigMaps, claims and secret (`podman kube play`): an empty store gives
#      /health 200 and /ready 503, the bootstrap Job's pod publishes the first model into the store volume and
#      the running pod serves it without a restart, captures land on the data volume,
#   4. runs the retraining CronJob's pod template as a pod against the same volumes (a real pipeline on the
#      captured requests, the bootstrap's teacher: exit 0 and a new version served, or exit 3 and nothing
#      published), then the sharded teacher's Jobs (as run.sh renders them, 2 shards) and merge as pods,
#      and the pipeline resuming from the merged teacher output.
# Every step is printed; measurements go to $CONTAINER_REPORT (default /tmp/rerank-container-report.txt).
# Loopback and the pods' own network only. Usage: Scripts/check/container.sh   (KEEP=1 leaves pods and images)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT_DIR=$PWD

step() { printf '\n== container: %s\n' "$*"; }
fail() { printf 'container: FAILED: %s\n' "$*" >&2; exit 1; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null \
    || ! command -v curl >/dev/null || ! python3 -c 'import yaml' 2>/dev/null; then
    step "installing podman, runc, debootstrap, curl, python3-yaml"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        podman runc uidmap slirp4netns fuse-overlayfs debootstrap ca-certificates curl python3-yaml >/dev/null
fi

STATE=${CONTAINER_STATE:-/var/tmp/rerank-container}
REPORT=${CONTAINER_REPORT:-/tmp/rerank-container-report.txt}
mkdir -p "$STATE"
: >"$REPORT"
# crun and systemd cgroups fail on hybrid-cgroup hosts; runc with cgroupfs works (CONTAINERS.md).
printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\n' >"$STATE/containers.conf"
export CONTAINERS_CONF="$STATE/containers.conf"
podman() { $sudo env CONTAINERS_CONF="$CONTAINERS_CONF" podman --runtime runc "$@"; }
report() { echo "$*" | tee -a "$REPORT"; }
now() { date +%s.%N; }
seconds_since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

# The Dockerfile's own FROM names: with no registry here, local builds of them stand in.
DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
SWIFT_IMAGE=docker.io/library/swift:6.3-bookworm
IMAGE=localhost/rerank:check
MANIFEST_IMAGE=registry.example.com/rerank:0.1.0

# ---------------------------------------------------------------------------------------------------------
step "base images (debootstrap minbase = bookworm-slim; the Swift build base from this machine's toolchain)"
rootfs="$STATE/bookworm"
minbase() {
    [ -x "$rootfs/bin/sh" ] || $sudo debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
}
if ! podman image exists "$DEBIAN_IMAGE"; then
    minbase
    $sudo tar -C "$rootfs" -c . | podman import - "$DEBIAN_IMAGE" >/dev/null
fi
if ! podman image exists "$SWIFT_IMAGE"; then
    toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
    mirror=$(git config --system --get-regexp 'url\..*insteadof' | awk 'NR == 1 {sub(/^url\./, "", $1); sub(/\.insteadof$/, "", $1); print $1}')
    [ -d "$toolchain/usr/bin" ] || fail "no Swift toolchain found beside $(command -v swift)"
    work="$STATE/swift-base"
    $sudo rm -rf "$work"
    mkdir -p "$work"
    minbase
    # The toolchain joins the Debian tree; the package mirror mapping (where there is one) goes into git's config.
    $sudo tar -c -C "$rootfs" . -C / "${toolchain#/}" \
        | podman import --change "ENV PATH=$toolchain/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
            - localhost/rerank-base/swift-toolchain >/dev/null
    gitconfig=""
    [ -z "$mirror" ] || gitconfig="RUN printf '[url \"%s\"]\\n\\tinsteadOf = https://github.com/\\n' '$mirror' > /etc/gitconfig"
    cat >"$work/Containerfile" <<EOF
FROM localhost/rerank-base/swift-toolchain
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binutils git gnupg2 \
    libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libpython3-dev libsqlite3-0 libstdc++-12-dev libxml2-dev \
    libncurses-dev libz3-dev pkg-config tzdata zlib1g-dev ca-certificates && rm -rf /var/lib/apt/lists/*
$gitconfig
EOF
    podman build --isolation chroot --network host -t "$SWIFT_IMAGE" -f "$work/Containerfile" "$work" >/dev/null
fi
report "base images: $DEBIAN_IMAGE, $SWIFT_IMAGE"

# ---------------------------------------------------------------------------------------------------------
step "image from the Dockerfile"
mirror=$(git config --system --get-regexp 'url\..*insteadof' | awk 'NR == 1 {sub(/^url\./, "", $1); sub(/\.insteadof$/, "", $1); print $1}')
mount=()
[ -z "$mirror" ] || mount=(-v "$mirror:$mirror:ro")
started=$(now)
podman build --isolation chroot --network host --pull=never "${mount[@]}" -t "$IMAGE" -f Dockerfile . >"$STATE/build.log" 2>&1 || { tail -40 "$STATE/build.log"; fail "podman build"; }
podman tag "$IMAGE" "$MANIFEST_IMAGE"
report "image build: $(seconds_since "$started") s; size $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1 / 1e6}')"

remove_pods() {
    podman rm -f -t 0 rerank-run >/dev/null 2>&1 || true
    for pod in $(podman pod ps -q --filter name=rerankd-pod) rerank-bootstrap rerank-retrain rerank-shard-prepare \
        rerank-shard-0 rerank-shard-1 rerank-shard-merge rerank-shard-retrain; do
        podman pod rm -f -t 0 "$pod" >/dev/null 2>&1 || true
    done
    podman volume rm -f rerank-models rerank-data >/dev/null 2>&1 || true
    podman secret rm rerankd >/dev/null 2>&1 || true
}
trap '[ "${KEEP:-0}" = 1 ] || remove_pods' EXIT
remove_pods   # what an earlier run left

# ---------------------------------------------------------------------------------------------------------
step "docker run: read-only root, uid 10001, the README request"
PORT=${CONTAINER_PORT:-18480}
started=$(now)
podman run -d --name rerank-run --read-only -p "127.0.0.1:$PORT:8080" "$IMAGE" >/dev/null
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null || { podman logs rerank-run | tail -20; fail "/ready never answered 200"; }
report "cold start to /ready (container start included, embedded demo model): $(seconds_since "$started") s"
[ "$(podman exec rerank-run id -u)" = 10001 ] || fail "not running as uid 10001"
answer=$(curl -sf "http://127.0.0.1:$PORT/rerank" -H 'Content-Type: application/json' \
    -d '{"query": "how do rainbows form", "texts": ["Sunlight refracts in droplets.", "Stocks rose."]}')
echo "$answer" | grep -q '"index":0' || fail "README request: $answer"
echo "README request: $answer"

step "SIGTERM drains: a request in flight finishes, the process exits 0"
# 300 documents of 150 words: seconds of scoring, so SIGTERM lands while the request runs.
python3 -c 'import json; print(json.dumps({"query": "q", "texts": [" ".join(f"word{(i * 7 + j) % 500}" for j in range(150)) for i in range(300)]}))' \
    >"$STATE/drain-request.json"
curl -s -o "$STATE/drain.json" -w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT/rerank" \
    -H 'Content-Type: application/json' --data-binary "@$STATE/drain-request.json" >"$STATE/drain.status" &
in_flight=$!
sleep 0.5
podman stop -t 40 rerank-run >/dev/null
wait "$in_flight" || true
read -r drain_status drain_seconds <"$STATE/drain.status" || true
[ "${drain_status:-}" = 200 ] || fail "the request in flight at SIGTERM got '${drain_status:-no answer}'"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0.5 else 1)" "$drain_seconds" \
    || fail "the request took ${drain_seconds} s: it was not in flight at SIGTERM"
exit_code=$(podman inspect rerank-run --format '{{.State.ExitCode}}')
podman logs rerank-run 2>&1 | tail -3
[ "$exit_code" = 0 ] || fail "rerankd exited $exit_code on SIGTERM"
report "SIGTERM with a 300-document request in flight: answered 200 after ${drain_seconds} s, exit 0"
podman rm -f -t 0 rerank-run >/dev/null

# ---------------------------------------------------------------------------------------------------------
step "the Deployment, its ConfigMaps, claims and secret (podman kube play)"
printf '{"admin-token":"%s","api-key":"%s"}' "$(printf admin-token-check | base64)" "$(printf api-key-check | base64)" \
    | podman secret create rerankd - >/dev/null
# One replica is enough to play; the probes' URLs are checked from inside the pod (kube play publishes no port).
python3 - "$STATE/deployment.yaml" <<'PY'
import sys, yaml
docs = []
for name in ["config.yaml", "storage.yaml", "rerankd.yaml"]:
    for doc in yaml.safe_load_all(open(f"Deploy/kubernetes/{name}")):
        if doc and doc["kind"] in ("ConfigMap", "PersistentVolumeClaim", "Deployment"):
            if doc["kind"] == "Deployment":
                doc["spec"]["replicas"] = 1
            if doc["kind"] == "ConfigMap" and "RERANK_CAPTURE_RATE" in doc["data"]:
                doc["data"]["RERANK_CAPTURE_RATE"] = "1"  # every request, so the retraining below has queries
            docs.append(doc)
yaml.safe_dump_all(docs, open(sys.argv[1], "w"))
PY
podman kube play "$STATE/deployment.yaml" >/dev/null
server=$(podman ps --filter label=app.kubernetes.io/name=rerankd --format '{{.Names}}' | grep -v infra | head -1)
[ -n "$server" ] || fail "no rerankd container after kube play"
inside() { podman exec "$server" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:8080$1"; }
for _ in $(seq 300); do [ "$(inside /health)" = 200 ] && break; sleep 0.2; done
[ "$(inside /health)" = 200 ] || { podman logs "$server" | tail -20; fail "/health on an empty store"; }
[ "$(inside /ready)" = 503 ] || fail "/ready on an empty store is $(inside /ready), expected 503"
report "empty store: /health 200, /ready 503"
[ "$(podman inspect "$server" --format '{{.Config.User}}')" = 10001 ] || echo "note: user from the pod's securityContext"
podman exec "$server" sh -c 'test ! -w /usr/local/bin' || fail "root filesystem is writable"

step "the bootstrap Job's pod publishes the first model into the store volume"
python3 - "$STATE/bootstrap.yaml" "$ROOT_DIR/Models/demo" <<'PY'
import sys, yaml
job = next(d for d in yaml.safe_load_all(open("Deploy/kubernetes/bootstrap.yaml")) if d and d["kind"] == "Job")
template = job["spec"]["template"]
spec = template["spec"]
# The teacher source an operator would point at: here the repository's demo checkpoint.
for volume in spec["volumes"]:
    if volume["name"] == "teacher-source":
        volume.clear()
        volume.update({"name": "teacher-source", "hostPath": {"path": sys.argv[2], "type": "Directory"}})
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "rerank-bootstrap"}, "spec": spec}
yaml.safe_dump(pod, open(sys.argv[1], "w"))
PY
started=$(now)
podman kube play "$STATE/bootstrap.yaml" >/dev/null
bootstrap=$(podman ps -a --pod --filter pod=rerank-bootstrap --format '{{.Names}}' | grep -v infra | head -1)
status=$(podman wait "$bootstrap")
podman logs "$bootstrap" 2>&1 | tail -5
[ "$status" = 0 ] || fail "bootstrap exited $status"
for _ in $(seq 300); do [ "$(inside /ready)" = 200 ] && break; sleep 0.1; done
[ "$(inside /ready)" = 200 ] || { podman logs "$server" | tail -20; fail "the published model was not served"; }
report "first publish to served (bootstrap pod start, publish, the server's poll and load): $(seconds_since "$started") s"
served=$(podman exec "$server" curl -s http://127.0.0.1:8080/rerank -H 'Authorization: Bearer api-key-check' \
    -H 'Content-Type: application/json' -d '{"query": "how do rainbows form", "texts": ["Sunlight refracts in droplets.", "Stocks rose."]}')
echo "$served" | grep -q '"index"' || fail "rerank on the served model: $served"
echo "served: $served"
first_version=$(podman exec "$server" readlink /models/store/current)
podman exec "$server" sh -c 'test -e /models/teacher/config.json' || fail "the bootstrap did not copy the teacher"
report "bootstrap: published $first_version, teacher copied to /models/teacher"

step "traffic is captured on the data volume (RERANK_CAPTURE_DIR)"
python3 - "$STATE/requests.jsonl" <<'PY'
import json, random, sys
topics = json.load(open("Scripts/demo/topics.json"))
random.seed(7)
with open(sys.argv[1], "w") as out:
    for topic in topics[:24]:
        others = random.sample([p for t in topics if t is not topic for p in t["passages"]], 6)
        documents = topic["passages"][:4] + others
        random.shuffle(documents)
        out.write(json.dumps({"query": topic["queries"][0], "texts": documents}) + "\n")
PY
podman cp "$STATE/requests.jsonl" "$server:/tmp/requests.jsonl"
podman exec "$server" sh -c 'while read -r line; do curl -sf -o /dev/null http://127.0.0.1:8080/rerank \
    -H "Authorization: Bearer api-key-check" -H "Content-Type: application/json" -d "$line" || exit 1; done < /tmp/requests.jsonl' \
    || fail "sending the requests to capture"
sleep 3
captured=$(podman exec "$server" sh -c 'cat /data/captured/*.jsonl 2>/dev/null | wc -l')
[ "$captured" -ge 20 ] || fail "only $captured requests captured in /data/captured"
report "captured $captured requests in /data/captured"

step "the retraining CronJob's pod template, run as a pod against the same volumes"
python3 - "$STATE/retrain.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open("Deploy/kubernetes/retrain-cronjob.yaml")) if d]
cron = next(d for d in docs if d["kind"] == "CronJob")
spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
config = next(d for d in yaml.safe_load_all(open("Deploy/kubernetes/config.yaml")) if d and d["metadata"]["name"] == "rerank-retrain")
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "rerank-retrain"}, "spec": spec}
yaml.safe_dump_all([config, pod], open(sys.argv[1], "w"))
PY
started=$(now)
podman kube play "$STATE/retrain.yaml" >/dev/null
retrain=$(podman ps -a --pod --filter pod=rerank-retrain --format '{{.Names}}' | grep -v infra | head -1)
status=$(podman wait "$retrain")
podman logs "$retrain" 2>&1 | tail -8
case $status in
    0)
        new_version=$(podman exec "$server" readlink /models/store/current)
        [ "$new_version" != "$first_version" ] || fail "the pipeline exited 0 but $first_version is still current"
        for _ in $(seq 300); do
            podman exec "$server" curl -s http://127.0.0.1:8080/info | grep -q "${new_version#versions/}" && break
            sleep 0.1
        done
        podman exec "$server" curl -s http://127.0.0.1:8080/info | grep -q "${new_version#versions/}" \
            || fail "$new_version was published but not served"
        report "retraining: exit 0 in $(seconds_since "$started") s, $new_version published and served" ;;
    3)
        [ "$(podman exec "$server" readlink /models/store/current)" = "$first_version" ] \
            || fail "the pipeline exited 3 but current moved"
        report "retraining: exit 3 (the gate refused the student) in $(seconds_since "$started") s, nothing published" ;;
    *) fail "the retraining pod exited $status" ;;
esac

step "the sharded teacher: its Jobs as run.sh renders them for 2 shards, each pod against the same volumes"
PRINT_ONLY=1 Deploy/kubernetes/sharded-teacher/run.sh sharded-check 2 >"$STATE/sharded-jobs.yaml"
python3 - "$STATE" <<'PY'
import sys, yaml
state = sys.argv[1]
jobs = {d["metadata"]["labels"]["rerank.step"]: d for d in yaml.safe_load_all(open(f"{state}/sharded-jobs.yaml")) if d}
config = next(d for d in yaml.safe_load_all(open("Deploy/kubernetes/config.yaml")) if d and d["metadata"]["name"] == "rerank-retrain")
def pod(name, job, env=()):
    spec = job["spec"]["template"]["spec"]
    for container in spec["containers"]:
        container.setdefault("env", []).extend({"name": k, "value": v} for k, v in env)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
yaml.safe_dump_all([config, pod("rerank-shard-prepare", jobs["prepare"])], open(f"{state}/shard-prepare.yaml", "w"))
for index in range(2):  # an Indexed Job gives each pod its JOB_COMPLETION_INDEX
    teacher = yaml.safe_load(yaml.safe_dump(jobs["teacher"]))
    yaml.safe_dump(pod(f"rerank-shard-{index}", teacher, [("JOB_COMPLETION_INDEX", str(index))]),
                   open(f"{state}/shard-{index}.yaml", "w"))
yaml.safe_dump(pod("rerank-shard-merge", jobs["merge"]), open(f"{state}/shard-merge.yaml", "w"))
cron = next(d for d in yaml.safe_load_all(open("Deploy/kubernetes/retrain-cronjob.yaml")) if d and d["kind"] == "CronJob")
spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
spec["containers"][0]["args"] = [a.replace("$(date +%G-W%V)", "sharded-check") for a in spec["containers"][0]["args"]]
yaml.safe_dump_all([config, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "rerank-shard-retrain"}, "spec": spec}],
                   open(f"{state}/shard-retrain.yaml", "w"))
PY
run_pods() {  # kube play each file, wait for every pod's container; fail naming the first that does not exit 0
    local file name status
    for file in "$@"; do podman kube play "$STATE/$file.yaml" >/dev/null; done
    for file in "$@"; do
        name=$(podman ps -a --pod --filter pod="rerank-$file" --format '{{.Names}}' | grep -v infra | head -1)
        status=$(podman wait "$name")
        podman logs "$name" 2>&1 | tail -3
        [ "$status" = 0 ] || { LAST_STATUS=$status; return 1; }
    done
}
started=$(now)
run_pods shard-prepare || fail "the prepare Job's pod exited $LAST_STATUS"
podman exec "$server" cat /data/retrain/sharded-check/teacher.env
run_pods shard-0 shard-1 || fail "a teacher shard's pod exited $LAST_STATUS"
run_pods shard-merge || fail "the merge Job's pod exited $LAST_STATUS"
before=$(podman exec "$server" readlink /models/store/current)
LAST_STATUS=0
run_pods shard-retrain || true
case $LAST_STATUS in
    0) report "sharded teacher (2 shards, merge, the pipeline resumed): exit 0 in $(seconds_since "$started") s, $(podman exec "$server" readlink /models/store/current) current" ;;
    3) [ "$(podman exec "$server" readlink /models/store/current)" = "$before" ] || fail "exit 3 but current moved"
       report "sharded teacher (2 shards, merge, the pipeline resumed): exit 3, nothing published, in $(seconds_since "$started") s" ;;
    *) fail "the pipeline after the sharded teacher exited $LAST_STATUS" ;;
esac
podman exec "$server" sh -c 'ls /data/retrain/sharded-check' | tr '\n' ' '; echo

echo
echo "container: all steps passed"
cat "$REPORT"
