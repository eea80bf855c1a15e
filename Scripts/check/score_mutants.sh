#!/usr/bin/env bash
# Shows that the score parity tests can fail: swaps the scorer for a constant one, then for one that
# sends each score to the wrong document (reversed), and requires every test that checks scores to
# fail against both. Restores the source on exit. Run by hand: Scripts/check/score_mutants.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source_file=Sources/Ranking/PointwiseScorer.swift
original_line='return logits.map(template.rule.rawScore(logits:))'
grep -qF "$original_line" "$source_file" || { echo "score_mutants: $source_file changed; update this script" >&2; exit 2; }
backup=$(mktemp)
cp "$source_file" "$backup"
trap 'cp "$backup" "$source_file"; rm -f "$backup"' EXIT
export RERANK_TEST_PYTHON="${RERANK_TEST_VENV:-$HOME/.cache/rerank/test-venv}/bin/python"

must_fail=(
  PointwiseScorerTests.testScoresMatchTransformersForEveryPresetAndCheckpoint
  PointwiseScorerTests.testScoreDoesNotDependOnBatch
  RerankServiceTests.testScoresDoNotDependOnBatchComposition
  RerankRoutesTests.testTEIRouteRanksWithSigmoidScores
  RerankRoutesTests.testCohereV1TopNAndDocumentsAsObjects
  RouteParityTests.testEveryRouteMatchesTransformers
  RerankAdminTests.testScoreMatchesTransformersForEveryTemplateAndCheckpoint
)
filter=$(IFS='|'; echo "${must_fail[*]}")
status=0
for mutant in 'logits.map { _ in -0.5 }' 'Array(logits.map(template.rule.rawScore(logits:)).reversed())'; do
  cp "$backup" "$source_file"
  sed -i "s|$original_line|return $mutant|" "$source_file"
  swift build --build-tests 2>&1 | grep "error:" && exit 2
  results=$(swift test --skip-build --disable-swift-testing --filter "$filter" 2>&1 | grep -E "^Test Case .*(passed|failed)" || true)
  for test in "${must_fail[@]}"; do
    if grep -q "'$test' failed" <<<"$results"; then
      echo "caught   [$mutant] $test"
    else
      echo "MISSED   [$mutant] $test"; status=1
    fi
  done
done
exit $status
