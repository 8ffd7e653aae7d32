#!/usr/bin/env bash
# PM-38: the ingress gateway answers every host the stack publishes (urls.* of the stack outputs),
# through the ingress port k3d publishes on the runner, each with its backend's health endpoint;
# and not prometheus.<domain> (issue 13: Prometheus is not published).
# shellcheck disable=SC2034  # E2E_PROBE and LAST are read by lib.sh (fail, poll)
set -euo pipefail
E2E_PROBE="PM-38"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
load_outputs

timeout="${E2E_PROBE_TIMEOUT:-300}"
# host|path: the health endpoint each backend serves (Gitea, argocd-server, Kiali at web_root /,
# the sample app's liveness path).
ROUTES="$HOST_GIT|/api/healthz
$HOST_ARGOCD|/healthz
$HOST_KIALI|/healthz
$HOST_APP|/health"
# The host Prometheus had: same domain and port as Gitea's.
HOST_UNPUBLISHED="prometheus.${HOST_GIT#git.}"

check() {
  local host path code failing="" ok=""
  while IFS='|' read -r host path; do
    code="$(http GET "https://$host$path" -H "Host: $host" "${GW_CURL[@]}")"
    if [ "$code" = 200 ]; then ok="$ok $host"; else failing="$failing $host$path=$code"; fi
  done <<<"$ROUTES"
  [ -z "$failing" ] || { LAST="not answering:$failing"; return 1; }
}

poll "$timeout" "the gateway answers every host" check
pass "PM-38" "$GATEWAY answers 200 for $(cut -d'|' -f1 <<<"$ROUTES" | tr '\n' ' ')"
E2E_PROBE="#13"
# No HTTPS server has that name: the handshake fails (000) or, with a catch-all, 404.
code="$(http GET "https://$HOST_UNPUBLISHED/-/ready" -H "Host: $HOST_UNPUBLISHED" "${GW_CURL[@]}")"
case "$code" in 000|404) ;; *) fail "the gateway routes $HOST_UNPUBLISHED (HTTP $code): Prometheus must not be published" ;; esac
pass "#13" "$GATEWAY does not route $HOST_UNPUBLISHED ($code)"
