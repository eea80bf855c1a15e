#!/usr/bin/env bash
# One retraining round with the teacher spread over SHARDS pods:
#   Deploy/kubernetes/sharded-teacher/run.sh RUN_ID [SHARDS]     e.g. run.sh 2026-w49 8
#   PRINT_ONLY=1 run.sh RUN_ID [SHARDS]   prints the three Jobs as they would be applied, and exits
# prepare (pipeline --stop-after teacher-input) -> teacher (Indexed Job, one pod per shard) -> merge ->
# the rest of the pipeline (distill, gate, publish) from the rerank-retrain CronJob's template, resuming
# the same work directory. Rerunning with the same RUN_ID continues an interrupted round.
set -euo pipefail
run="${1:?usage: run.sh RUN_ID [SHARDS]}"
shards="${2:-4}"
here="$(dirname "$0")"
[[ "$run" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "run.sh: RUN_ID may hold letters, digits, '.', '_' and '-'" >&2; exit 2; }
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: SHARDS must be a positive number" >&2; exit 2; }
render() {
    sed -e "s/RUN_ID/$run/" -e "s/completions: 4/completions: $shards/" -e "s/parallelism: 4/parallelism: $shards/" \
        -e "s/{name: SHARDS, value: \"4\"}/{name: SHARDS, value: \"$shards\"}/" "$here/$1"
}
if [ -n "${PRINT_ONLY:-}" ]; then
    for file in 1-prepare.yaml 2-teacher.yaml 3-merge.yaml; do echo "---"; render "$file"; done
    exit 0
fi
apply() { render "$1" | kubectl apply -f -; }
# Until the Job completes (0) or fails (1): `kubectl wait` alone would sit out its timeout on a failed Job.
finish() {
    while true; do
        state=$(kubectl get job "$1" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')
        case "$state" in
            *Complete*) return 0 ;;
            *Failed*) echo "run.sh: job $1 failed; fix it and run again with RUN_ID $run to resume" >&2; return 1 ;;
        esac
        sleep 10
    done
}
for step in 1-prepare.yaml:rerank-teacher-prepare 2-teacher.yaml:rerank-teacher 3-merge.yaml:rerank-teacher-merge; do
    file="${step%%:*}" job="${step##*:}"
    kubectl delete job "$job" --ignore-not-found
    apply "$file"
    finish "$job"
done
kubectl delete job rerank-retrain-sharded --ignore-not-found
kubectl create job rerank-retrain-sharded --from=cronjob/rerank-retrain --dry-run=client -o yaml \
    | sed "s|/data/retrain/\$(date +%G-W%V)|/data/retrain/$run|" | kubectl apply -f -
finish rerank-retrain-sharded
