#!/usr/bin/env bash
# The runner's registration token, scoped to one organisation (issue 14): fetched from Gitea's API
# by the org's owner and written, by server-side apply, to the one Secret the runner reads while it
# has no registration. Nothing is hand-copied and nothing pre-shares an instance-wide token (PM-10).
# Idempotent: Gitea returns its latest active token for the scope (or creates one), and applying the
# same Secret again changes nothing; a runner already registered never reads it again.
#   POST /orgs/ORG/actions/runners/registration-token (GET was removed upstream: go-gitea/gitea#36801),
#   falling back to GET (Gitea 1.21+, go-gitea/gitea#27144) when POST is not routed.
# Credentials come from the environment (a Secret) and the pod's ServiceAccount token; curl reads
# them from private config files (-K), never from argv.
set -euo pipefail

: "${GITEA_URL:?}" "${GITEA_USER:?}" "${GITEA_PASSWORD:?}" "${ORG:?}"
: "${RUNNER_TOKEN_NAMESPACE:?}" "${RUNNER_TOKEN_SECRET:?}"
RUNNER_TOKEN_KEY="${RUNNER_TOKEN_KEY:-token}"
SA_DIR="${KUBE_SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}"
KUBE_API="${KUBE_API:-https://${KUBERNETES_SERVICE_HOST:?}:${KUBERNETES_SERVICE_PORT:-443}}"
API="${GITEA_URL%/}/api/v1"
WORK="$(mktemp -d)"
BODY="$WORK/body"
trap 'rm -rf "$WORK"' EXIT
CURL=(curl -sS --connect-timeout 10 --max-time 60)

log() { printf 'runner-token: %s\n' "$*" >&2; }
fail() { log "ERROR: $*"; exit 1; }

# curl config-file string (man curl, -K): inside double quotes a backslash escapes the next character.
curl_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

case "$GITEA_USER" in *:*) fail "GITEA_USER must not contain ':'" ;; esac
case "$RUNNER_TOKEN_NAMESPACE$RUNNER_TOKEN_SECRET$RUNNER_TOKEN_KEY" in *[!a-z0-9.-]*) fail "invalid Secret namespace, name or key" ;; esac
GITEA_AUTH="$WORK/gitea-auth"
(umask 077; printf 'user = %s\n' "$(curl_str "$GITEA_USER:$GITEA_PASSWORD")" > "$GITEA_AUTH")

token_request() {
  "${CURL[@]}" -K "$GITEA_AUTH" -o "$BODY" -w '%{http_code}' -X "$1" "$API/orgs/$ORG/actions/runners/registration-token"
}
status="$(token_request POST)"
if [ "$status" = 404 ] || [ "$status" = 405 ]; then status="$(token_request GET)"; fi
case "$status" in 200 | 201) ;; *) fail "registration token of organisation $ORG: HTTP $status: $(head -c 300 "$BODY" 2>/dev/null || true)" ;; esac
reg="$(sed -n 's/.*"token" *: *"\([A-Za-z0-9]*\)".*/\1/p' "$BODY")"
[ -n "$reg" ] || fail "registration token of organisation $ORG: no token in the response"

# Server-side apply creates or updates the named Secret: the Role names it (resourceNames); the apply
# that creates it is authorized as create of that name, which a POST could not be limited to.
[ -s "$SA_DIR/token" ] || fail "no ServiceAccount token in $SA_DIR"
KUBE_AUTH="$WORK/kube-auth"
(umask 077; printf 'header = %s\n' "$(curl_str "Authorization: Bearer $(cat "$SA_DIR/token")")" > "$KUBE_AUTH")
data="$(printf '%s' "$reg" | base64 | tr -d '\n')"
url="$KUBE_API/api/v1/namespaces/$RUNNER_TOKEN_NAMESPACE/secrets/$RUNNER_TOKEN_SECRET?fieldManager=bootstrap-repo&force=true"
status="$(printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s","namespace":"%s"},"type":"Opaque","data":{"%s":"%s"}}' \
    "$RUNNER_TOKEN_SECRET" "$RUNNER_TOKEN_NAMESPACE" "$RUNNER_TOKEN_KEY" "$data" \
  | "${CURL[@]}" -K "$KUBE_AUTH" --cacert "$SA_DIR/ca.crt" -o "$BODY" -w '%{http_code}' -X PATCH \
    -H 'Content-Type: application/apply-patch+yaml' --data-binary @- "$url")"
case "$status" in 200 | 201) ;; *) fail "apply Secret $RUNNER_TOKEN_NAMESPACE/$RUNNER_TOKEN_SECRET: HTTP $status: $(head -c 300 "$BODY" 2>/dev/null || true)" ;; esac
log "runner registration token of organisation $ORG is in Secret $RUNNER_TOKEN_NAMESPACE/$RUNNER_TOKEN_SECRET"
