#!/usr/bin/env bash
# Self-check of the oracle: builds it, replays smoke.jsonl against
# smoke.expected.jsonl, and races the tiny fixture expecting 0 score mismatches.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
oracle="$("$here/build.sh" | tail -n1)"
passed=0
failed=0

if diff -u "$here/smoke.expected.jsonl" <("$oracle" <"$here/smoke.jsonl"); then
  passed=$((passed + 1))
else
  echo "FAIL: smoke.jsonl output differs from smoke.expected.jsonl" >&2
  failed=$((failed + 1))
fi

race="$("$oracle" race --workload "$here/fixtures/tiny-workload" --json)"
if [[ "$race" == *'"system":"dynamo-radix-tree-1.6.1"'* && "$race" == *'"score_mismatches":0}' ]]; then
  passed=$((passed + 1))
else
  echo "FAIL: race on fixtures/tiny-workload: $race" >&2
  failed=$((failed + 1))
fi

echo "oracle: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
