#!/usr/bin/env bash
# The job summary: every check with its result, and the timings (time to platform, the first
# release, each canary), as Markdown into $GITHUB_STEP_SUMMARY (stdout when unset). Reads what the
# other scripts recorded in $E2E_DIR/results.tsv and timings.tsv; never fails the job itself.
set -euo pipefail
E2E_PROBE="summary"
export E2E_PROBE
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

# Appended to the step summary file, else to stdout (fd 3 either way: /dev/stdout cannot be opened
# when stdout is a socket).
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then exec 3>>"$GITHUB_STEP_SUMMARY"; else exec 3>&1; fi
title="${E2E_TITLE:-e2e on k3d}"

duration() {
  local s="$1"
  if [ "$s" -ge 60 ]; then printf '%dm %02ds' $(( s / 60 )) $(( s % 60 )); else printf '%ds' "$s"; fi
}
cell() { local v="${1//|/\\|}"; printf '%s' "$v"; }

{
  printf '## %s\n\n' "$title"
  if [ -s "$E2E_RESULTS" ]; then
    failed="$(awk -F'\t' '$2 == "fail"' "$E2E_RESULTS" | wc -l)"
    passed="$(awk -F'\t' '$2 == "pass"' "$E2E_RESULTS" | wc -l)"
    printf '%s passed, %s failed\n\n' "$passed" "$failed"
    printf '| check | result | detail |\n|---|---|---|\n'
    while IFS=$'\t' read -r id status detail; do
      [ -n "$id" ] || continue
      mark="✅ pass"
      [ "$status" = pass ] || mark="❌ $status"
      printf '| %s | %s | %s |\n' "$(cell "$id")" "$mark" "$(cell "$detail")"
    done < "$E2E_RESULTS"
  else
    printf 'No check recorded a result.\n'
  fi
  printf '\n### Timings\n\n'
  if [ -s "$E2E_TIMINGS" ]; then
    printf '| phase | time | detail |\n|---|---|---|\n'
    while IFS=$'\t' read -r name seconds detail; do
      [ -n "$name" ] || continue
      [[ "$seconds" =~ ^[0-9]+$ ]] || continue
      printf '| %s | %s | %s |\n' "$(cell "$name")" "$(duration "$seconds")" "$(cell "$detail")"
    done < "$E2E_TIMINGS"
  else
    printf 'No timing recorded.\n'
  fi
} >&3
exit 0
