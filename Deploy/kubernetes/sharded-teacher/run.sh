#!/usr/bin/env bash
# One retraining round with the teacher spread over SHARDS pods:
#   Deploy/kubernetes/sharded-teacher/run.sh RUN_ID [SHARDS]     e.g. run.sh 2026-w49 8
#   PRINT_ONLY=1 run.sh RUN_ID [SHARDS]   prints the three Jobs as they would be applied, and exits
# prepare (pipeline --stop-after teacher-input; it also writes the run's teacher.env, the teacher model and
# --top-k of retrain.json) -> teacher (Indexed Job, one pod per shard, reading teacher.env) -> merge -> the rest
# of the pipeline (distill, gate, publish) from the rerank-retrain CronJob's template, resuming the same work
# directory. The Jobs are rendered by `kubectl kustomize` of this directory, so the image its
# kustomization.yaml sets reaches them. Rerunning with the same RUN_ID continues an interrupted round.
set -euo pipefail
run="${1:?usage: run.sh RUN_ID [SHARDS]}"
shards="${2:-4}"
here="$(dirname "$0")"
[[ "$run" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "run.sh: RUN_ID may hold letters, digits, '.', '_' and '-'" >&2; exit 2; }
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: SHARDS must be a positive number" >&2; exit 2; }
render() {
    if command -v kubectl >/dev/null; then
        kubectl kustomize "$here"
    else
        # No kubectl (PRINT_ONLY on a machine without it): the files as they are, image not overridden.
        for file in 1-prepare.yaml 2-teacher.yaml 3-merge.yaml; do echo "---"; cat "$here/$file"; done
    fi | sed -e "s/RUN_ID/$run/" -e "s/completions: 4/completions: $shards/" -e "s/parallelism: 4/parallelism: $shards/" \
        -e "s/{name: SHARDS, value: \"4\"}/{name: SHARDS, value: \"$shards\"}/" \
        -e "/- name: SHARDS\$/{n;s/value: \"4\"/value: \"$shards\"/}"   # the same, as kustomize writes it
}
if [ -n "${PRINT_ONLY:-}" ]; then
    render
    exit 0
fi
# Until the Job completes (0) or fails (1), whichever comes first.
finish() {
    kubectl wait --for=condition=complete "job/$1" --timeout=-1s >/dev/null & local complete=$!
    kubectl wait --for=condition=failed "job/$1" --timeout=-1s >/dev/null & local failed=$!
    wait -n "$complete" "$failed" || true
    kill "$complete" "$failed" 2>/dev/null || true
    if [ "$(kubectl get job "$1" -o jsonpath='{.status.conditions[?(@.type=="Complete")].status}')" != True ]; then
        echo "run.sh: job $1 failed; fix it and run again with RUN_ID $run to resume" >&2
        return 1
    fi
}
for step in prepare:rerank-teacher-prepare teacher:rerank-teacher merge:rerank-teacher-merge; do
    kubectl delete job "${step##*:}" --ignore-not-found
    render | kubectl apply -f - --selector "rerank.step=${step%%:*}"
    finish "${step##*:}"
done
kubectl delete job rerank-retrain-sharded --ignore-not-found
kubectl create job rerank-retrain-sharded --from=cronjob/rerank-retrain --dry-run=client -o yaml \
    | sed "s|/data/retrain/\$(date +%G-W%V)|/data/retrain/$run|" | kubectl apply -f -
finish rerank-retrain-sharded
