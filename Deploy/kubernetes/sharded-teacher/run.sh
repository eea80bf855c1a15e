#!/usr/bin/env bash
# One retraining round with the teacher spread over SHARDS pods:
#   Deploy/kubernetes/sharded-teacher/run.sh RUN_ID [SHARDS]     e.g. run.sh 2026-w49 8
# prepare (pipeline --stop-after teacher-input) -> teacher (Indexed Job, one pod per shard) -> merge ->
# the rest of the pipeline (distill, gate, publish) from the rerank-retrain CronJob's template, resuming
# the same work directory. Rerunning with the same RUN_ID continues an interrupted round.
set -euo pipefail
run="${1:?usage: run.sh RUN_ID [SHARDS]}"
shards="${2:-4}"
here="$(dirname "$0")"
apply() {
    sed -e "s/RUN_ID/$run/" -e "s/completions: 4/completions: $shards/" -e "s/parallelism: 4/parallelism: $shards/" \
        -e "s/value: \"4\"   # = completions/value: \"$shards\"/" "$here/$1" | kubectl apply -f -
}
for step in 1-prepare.yaml:rerank-teacher-prepare 2-teacher.yaml:rerank-teacher 3-merge.yaml:rerank-teacher-merge; do
    file="${step%%:*}" job="${step##*:}"
    kubectl delete job "$job" --ignore-not-found
    apply "$file"
    kubectl wait --for=condition=complete --timeout=48h "job/$job"
done
kubectl delete job rerank-retrain-sharded --ignore-not-found
kubectl create job rerank-retrain-sharded --from=cronjob/rerank-retrain --dry-run=client -o yaml \
    | sed "s|/data/retrain/\$(date +%G-W%V)|/data/retrain/$run|" | kubectl apply -f -
kubectl wait --for=condition=complete --timeout=24h job/rerank-retrain-sharded
