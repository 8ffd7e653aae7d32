#!/usr/bin/env bash
# Bootstraps the Git repository Argo CD watches. Idempotent: every step checks before it acts, and
# the content is pushed only while the repository is empty, so a second run changes nothing in Git.
#   1. wait for Gitea (/api/healthz), bounded by WAIT_SECONDS
#   2. organisation ORG and repository ORG/REPO with default branch main (PM-19)
#   3. access token TOKEN_NAME (deleted and recreated: Gitea shows a token only once) stored as the
#      repository's Actions secret CI_TOKEN (PM-03); registry credentials too when given
#   4. initial content from CONTENT_DIR (MANIFEST lines "<key> <path>") pushed to main
# Credentials come from the environment (a Secret), never through argv: curl reads them from a
# config file (-K, quoted and escaped), git from a credential helper printing the environment
# variables. Any printable password works; a netrc file does not (its tokens are whitespace-separated,
# so a space or a leading `#` gave 401). Request bodies go through stdin.
set -euo pipefail
export GIT_TERMINAL_PROMPT=0

: "${GITEA_URL:?}" "${GITEA_USER:?}" "${GITEA_PASSWORD:?}" "${ORG:?}" "${REPO:?}" "${CONTENT_DIR:?}" "${HOME:?}"
TOKEN_NAME="${TOKEN_NAME:-platform-ci}"
WAIT_SECONDS="${WAIT_SECONDS:-600}"
WAIT_INTERVAL="${WAIT_INTERVAL:-5}"
BASE="${GITEA_URL%/}"
API="$BASE/api/v1"
WORK="$(mktemp -d)"
BODY="$WORK/body"
trap 'rm -rf "$WORK"' EXIT

# Bounded requests: a hung connection must not outlive the Job's deadline silently.
CURL=(curl -sS --connect-timeout 10 --max-time 60)

log() { printf 'bootstrap-repo: %s\n' "$*" >&2; }
fail() { log "ERROR: $*"; exit 1; }

# JSON string literal. No jq in the image (Gitea rootless: bash git curl gettext gnupg), so escape
# here: backslash and quote, the common control characters; any other control character fails.
json_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\t'/\\t}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\r'/\\r}"
  case "$s" in *[[:cntrl:]]*) fail "a value for a JSON body holds a control character" ;; esac
  printf '"%s"' "$s"
}

# curl config-file string (man curl, -K): inside double quotes a backslash escapes the next character.
curl_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

# api METHOD PATH [BODY]: prints the HTTP status; the response body lands in $BODY.
api() {
  local method="$1" path="$2"
  if [ "$#" -ge 3 ]; then
    printf '%s' "$3" | "${CURL[@]}" -K "$AUTH" -o "$BODY" -w '%{http_code}' \
      -X "$method" -H 'Content-Type: application/json' --data-binary @- "$API$path"
  else
    "${CURL[@]}" -K "$AUTH" -o "$BODY" -w '%{http_code}' -X "$method" "$API$path"
  fi
}

# expect STATUS WHAT OK...: fails with the response body unless STATUS is one of OK.
expect() {
  local status="$1" what="$2" ok
  shift 2
  for ok in "$@"; do [ "$status" = "$ok" ] && return 0; done
  fail "$what: HTTP $status: $(head -c 500 "$BODY" 2>/dev/null || true)"
}

# curl: basic auth from a private config file (printf is a builtin: the password is in no argv).
case "$GITEA_USER" in *:*) fail "GITEA_USER must not contain ':'" ;; esac
AUTH="$WORK/curl-auth"
(umask 077; printf 'user = %s\n' "$(curl_str "$GITEA_USER:$GITEA_PASSWORD")" > "$AUTH")
# git: the helper answers "get" from the environment; printf, not echo (dash's echo expands "\\").
# The empty value first clears any helper configured elsewhere.
GIT_AUTH=(-c credential.helper= -c 'credential.helper=!f() { test "$1" = get || exit 0; printf "username=%s\npassword=%s\n" "$GITEA_USER" "$GITEA_PASSWORD"; }; f')
export GITEA_USER GITEA_PASSWORD

# 1. Gitea up (bounded wait).
deadline=$(( $(date +%s) + WAIT_SECONDS ))
until "${CURL[@]}" -f -o /dev/null "$BASE/api/healthz" 2>/dev/null; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "Gitea at $BASE not healthy after ${WAIT_SECONDS}s"
  log "waiting for Gitea at $BASE"
  sleep "$WAIT_INTERVAL"
done
status="$(api GET /user)"
expect "$status" "authenticate as $GITEA_USER" 200

# 2. Organisation and repository.
status="$(api GET "/orgs/$ORG")"
if [ "$status" = 404 ]; then
  status="$(api POST /orgs "{\"username\":$(json_str "$ORG"),\"visibility\":\"private\"}")"
  expect "$status" "create organisation $ORG" 201
  log "created organisation $ORG"
else
  expect "$status" "read organisation $ORG" 200
fi

status="$(api GET "/repos/$ORG/$REPO")"
if [ "$status" = 404 ]; then
  status="$(api POST "/orgs/$ORG/repos" "{\"name\":$(json_str "$REPO"),\"default_branch\":\"main\",\"private\":true,\"auto_init\":false}")"
  expect "$status" "create repository $ORG/$REPO" 201
  log "created repository $ORG/$REPO (default branch main)"
  status="$(api GET "/repos/$ORG/$REPO")"
fi
expect "$status" "read repository $ORG/$REPO" 200
empty=false
if grep -q '"empty":true' "$BODY"; then empty=true; fi

# 3. CI token as an Actions secret (PM-03).
status="$(api DELETE "/users/$GITEA_USER/tokens/$TOKEN_NAME")"
expect "$status" "delete old token $TOKEN_NAME" 204 404
status="$(api POST "/users/$GITEA_USER/tokens" "{\"name\":$(json_str "$TOKEN_NAME"),\"scopes\":[\"write:repository\",\"read:user\"]}")"
expect "$status" "create token $TOKEN_NAME" 201
token="$(sed -n 's/.*"sha1":"\([0-9a-fA-F]*\)".*/\1/p' "$BODY")"
[ -n "$token" ] || fail "token $TOKEN_NAME: no sha1 in the response"

put_secret() {
  local name="$1" value="$2" status json
  json="$(json_str "$value")"
  status="$(api PUT "/repos/$ORG/$REPO/actions/secrets/$name" "{\"data\":$json}")"
  expect "$status" "store Actions secret $name" 201 204
  log "stored Actions secret $name"
}
put_secret CI_TOKEN "$token"
if [ -n "${REGISTRY_PASSWORD:-}" ]; then
  put_secret REGISTRY_USERNAME "${REGISTRY_USERNAME:?REGISTRY_USERNAME is required with REGISTRY_PASSWORD}"
  put_secret REGISTRY_PASSWORD "$REGISTRY_PASSWORD"
fi

# 4. Initial content, only into an empty repository.
if [ "$empty" != true ]; then
  log "$ORG/$REPO already has content: nothing to push"
  exit 0
fi
tree="$WORK/tree"
mkdir -p "$tree"
count=0
while read -r key path; do
  [ -n "$key" ] || continue
  case "$path" in
    "" | /* | ../* | */../* | */.. | ..) fail "unsafe path in MANIFEST: '$path'" ;;
  esac
  mkdir -p "$tree/$(dirname "$path")"
  cp "$CONTENT_DIR/$key" "$tree/$path"
  count=$((count + 1))
done < "$CONTENT_DIR/MANIFEST"
[ "$count" -gt 0 ] || fail "MANIFEST lists no files"

git -C "$tree" init -q -b main
git -C "$tree" add -A
git -C "$tree" -c user.name=platform-bootstrap -c user.email=bootstrap@platform.internal \
  commit -q -m "Initial platform content"
git -C "$tree" "${GIT_AUTH[@]}" push -q "$BASE/$ORG/$REPO.git" main
status="$(api PATCH "/repos/$ORG/$REPO" '{"default_branch":"main"}')"
expect "$status" "set default branch main" 200
log "pushed $count files to $ORG/$REPO main"
