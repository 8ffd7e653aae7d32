#!/usr/bin/env bash
# PM-02: no mesh sidecar in the argocd namespace. The namespace opts out of Linkerd and is not
# labelled for Istio injection, and no Argo CD pod carries an injected proxy (container or init
# container, native sidecars included) while every one of them is Ready.
# shellcheck disable=SC2034  # E2E_PROBE and LAST are read by lib.sh (fail, poll)
set -euo pipefail
E2E_PROBE="PM-02"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

timeout="${E2E_PROBE_TIMEOUT:-300}"
pods="$E2E_DIR/argocd-pods.json"
SIDECARS='["istio-proxy","istio-init","istio-validation","linkerd-proxy","linkerd-init"]'

ns="$(kubectl get namespace "$E2E_ARGOCD_NS" -o json --request-timeout=30s 2>/dev/null)" || fail "kubectl get namespace $E2E_ARGOCD_NS failed"
[ "$(jq -r '.metadata.annotations["linkerd.io/inject"] // ""' <<<"$ns")" = disabled ] \
  || fail "namespace $E2E_ARGOCD_NS lacks linkerd.io/inject: disabled"
injection="$(jq -r '[.metadata.labels // {} | to_entries[] | select(.key == "istio-injection" or .key == "istio.io/rev") | "\(.key)=\(.value)"] | join(",")' <<<"$ns")"
case "$injection" in
  ""|"istio-injection=disabled") ;;
  *) fail "namespace $E2E_ARGOCD_NS is labelled for Istio injection: $injection" ;;
esac

check() {
  kubectl -n "$E2E_ARGOCD_NS" get pods -o json --request-timeout=30s > "$pods" 2>/dev/null || { LAST="kubectl get pods failed"; return 1; }
  local injected
  injected="$(jq -r --argjson s "$SIDECARS" '[.items[] | .metadata.name as $p
    | ((.spec.containers + (.spec.initContainers // []))[] | select(.name as $n | $s | index($n)) | "\($p)/\(.name)"),
      (select(.metadata.annotations["sidecar.istio.io/status"] // .metadata.annotations["linkerd.io/proxy-version"]) | "\($p) (injected)")]
    | unique | join(", ")' "$pods")"
  [ -z "$injected" ] || { LAST="sidecars in $E2E_ARGOCD_NS: $injected"; return 2; }
  local total notready
  total="$(jq '[.items[] | select(.status.phase != "Succeeded")] | length' "$pods")"
  [ "$total" -gt 0 ] || { LAST="no pods in $E2E_ARGOCD_NS"; return 1; }
  notready="$(jq -r '[.items[] | select(.status.phase != "Succeeded") | select((.status.phase != "Running") or any(.status.containerStatuses[]?; .ready | not)) | .metadata.name] | join(", ")' "$pods")"
  [ -z "$notready" ] || { LAST="not ready: $notready"; return 1; }
}

poll "$timeout" "argocd pods Ready without sidecars" check
pass "PM-02" "namespace $E2E_ARGOCD_NS opts out of injection; $(jq '[.items[] | select(.status.phase != "Succeeded")] | length' "$pods") pods Ready, none with a proxy"
