#!/usr/bin/env bash
# PM-04: the nodes pull the image the release pushed. A pod of the sample app runs the image the
# Rollout references, by the registry name every node resolves (not loopback, PM-15), and is Ready.
# shellcheck disable=SC2034  # E2E_PROBE and LAST are read by lib.sh (fail, poll)
set -euo pipefail
E2E_PROBE="PM-04"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
load_outputs

timeout="${E2E_PROBE_TIMEOUT:-300}"
pods="$E2E_DIR/sample-pods.json"
image=""
running=""

check() {
  local rollout
  rollout="$(kjson "$E2E_APP_NS" rollouts.argoproj.io "$E2E_ROLLOUT")" || { LAST="kubectl get rollout $E2E_ROLLOUT failed"; return 1; }
  image="$(jq -r '.spec.template.spec.containers[0].image // empty' <<<"$rollout")"
  [ -n "$image" ] || { LAST="the Rollout has no image"; return 1; }
  case "$image" in
    "$REGISTRY_HOST"/*) ;;
    *) LAST="the Rollout's image $image is not in the platform registry $REGISTRY_HOST"; return 2 ;;
  esac
  kubectl -n "$E2E_APP_NS" get pods -l "app.kubernetes.io/name=$E2E_ROLLOUT" -o json --request-timeout=30s > "$pods" 2>/dev/null \
    || { LAST="kubectl get pods failed"; return 1; }
  running="$(jq -r --arg img "$image" '[.items[] | select(.status.phase == "Running")
    | select(any(.spec.containers[]; .image == $img))
    | select(all(.status.containerStatuses[]?; .ready) and any(.status.containerStatuses[]?; (.imageID // "") != ""))
    | .metadata.name] | join(" ")' "$pods")"
  [ -n "$running" ] && return 0
  LAST="$(jq -r '[.items[] | "\(.metadata.name) \(.status.phase) " +
    ([.status.containerStatuses[]? | .state.waiting.reason // (if .ready then "ready" else "not ready" end)] | join(","))] | join("; ")' "$pods")"
  LAST="${LAST:-no pods} (want $image)"
  return 1
}

poll "$timeout" "a pod running the released image" check
pass "PM-04" "the node pulled $image: $running Running and Ready"
