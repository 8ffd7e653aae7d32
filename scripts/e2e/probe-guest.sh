#!/usr/bin/env bash
# PM-05: the read-only guest account logs in to Argo CD through the gateway (POST /api/v1/session),
# can read (GET /api/v1/applications lists the sample app), and cannot write: a sync is denied 403.
# shellcheck disable=SC2034  # E2E_PROBE and LAST are read by lib.sh (fail, poll)
set -euo pipefail
E2E_PROBE="PM-05"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
load_outputs
load_credentials

timeout="${E2E_PROBE_TIMEOUT:-300}"
base="$URL_ARGOCD"
login="$E2E_DIR/guest-login.json"
session="$E2E_DIR/guest-session.curl"
(umask 077; jq -n --arg u "$GUEST_USER" --arg p "$GUEST_PASSWORD" '{username: $u, password: $p}' > "$login")

check_login() {
  local code
  code="$(http POST "$base/api/v1/session" -H "Host: $HOST_ARGOCD" "${GW_CURL[@]}" -H 'Content-Type: application/json' --data-binary "@$login")"
  case "$code" in
    200) ;;
    401|403) LAST="guest login rejected: HTTP $code $(head -c 200 "$E2E_BODY")"; return 2 ;;
    *) LAST="POST /api/v1/session: HTTP $code"; return 1 ;;
  esac
  local token
  token="$(jq -r '.token // empty' "$E2E_BODY")"
  [ -n "$token" ] || { LAST="no token in the session response"; return 2; }
  (umask 077; printf 'header = %s\n' "$(curl_str "Authorization: Bearer $token")" > "$session")
}

poll "$timeout" "guest login" check_login

code="$(http GET "$base/api/v1/session/userinfo" -H "Host: $HOST_ARGOCD" "${GW_CURL[@]}" -K "$session")"
[ "$code" = 200 ] || fail "GET /api/v1/session/userinfo: HTTP $code"
jq -e --arg u "$GUEST_USER" '.loggedIn == true and .username == $u' "$E2E_BODY" >/dev/null \
  || fail "userinfo is not the logged-in $GUEST_USER: $(head -c 200 "$E2E_BODY")"

code="$(http GET "$base/api/v1/applications" -H "Host: $HOST_ARGOCD" "${GW_CURL[@]}" -K "$session")"
[ "$code" = 200 ] || fail "guest GET /api/v1/applications: HTTP $code"
jq -e --arg a "$E2E_APP" 'any(.items[]?; .metadata.name == $a)' "$E2E_BODY" >/dev/null \
  || fail "guest cannot see Application $E2E_APP (read-only role missing?)"

code="$(http POST "$base/api/v1/applications/$E2E_APP/sync" -H "Host: $HOST_ARGOCD" "${GW_CURL[@]}" -K "$session" -H 'Content-Type: application/json' --data-binary '{}')"
[ "$code" = 403 ] || fail "guest sync of $E2E_APP: HTTP $code, want 403 (the guest must be read-only)"
pass "PM-05" "guest logged in, lists $E2E_APP, and its sync was denied 403"
