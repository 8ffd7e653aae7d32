#!/usr/bin/env bash
# Every Argo CD Application is Synced and Healthy within E2E_APPS_TIMEOUT seconds (default 20 min:
# the first release's build and its canary, whose analysis passes on no traffic (PM-26), run inside
# it). The Applications named in E2E_EXPECT_APPS must exist, so "all" is never an empty set.
# shellcheck disable=SC2034  # E2E_PROBE and LAST are read by lib.sh (fail, poll)
set -euo pipefail
E2E_PROBE="argocd-apps"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

timeout="${E2E_APPS_TIMEOUT:-1200}"
expect="${E2E_EXPECT_APPS:-root $E2E_APP}"
list="$E2E_DIR/applications.json"
started="$(now)"

check() {
  kubectl -n "$E2E_ARGOCD_NS" get applications.argoproj.io -o json --request-timeout=30s > "$list" 2>/dev/null \
    || { LAST="kubectl get applications failed"; return 1; }
  local name missing="" bad
  for name in $expect; do
    jq -e --arg n "$name" 'any(.items[]; .metadata.name == $n)' "$list" >/dev/null || missing="$missing $name"
  done
  [ -z "$missing" ] || { LAST="not created yet:$missing"; return 1; }
  bad="$(jq -r '[.items[] | select(.status.sync.status != "Synced" or .status.health.status != "Healthy")
    | "\(.metadata.name) \(.status.sync.status // "Unknown")/\(.status.health.status // "Unknown")"
      + (if .status.operationState.message then " (\(.status.operationState.message[0:200]))" else "" end)] | join("; ")' "$list")"
  [ -z "$bad" ] || { LAST="$bad"; return 1; }
}

poll "$timeout" "every Argo CD Application Synced and Healthy" check
apps="$(jq -r '[.items[].metadata.name] | sort | join(", ")' "$list")"
took=$(( $(now) - started ))
timing "Argo CD Applications Synced and Healthy (after pulumi up)" "$took" "$apps"
if [ -s "$E2E_DIR/up-started" ]; then
  timing "time to a delivered app: pulumi up start to every Application Healthy" "$(( $(now) - $(cat "$E2E_DIR/up-started") ))"
fi
pass "argocd-apps" "Synced and Healthy within ${took}s (bound ${timeout}s): $apps"
