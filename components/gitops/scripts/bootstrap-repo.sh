#!/usr/bin/env bash
# Bootstraps the Git repository Argo CD watches. Idempotent: every step checks before it acts, and
# a second run with the same content changes nothing in Git.
#   1. wait for Gitea (/api/healthz), bounded by WAIT_SECONDS
#   2. organisation ORG and repository ORG/REPO with default branch main (PM-19)
#   3. the users Git access goes through (#14.1), created or given their password again (a
#      rotation): READER_USER (Argo CD) a read collaborator, BOT_USER (CI) a write collaborator of
#      ORG/REPO, neither site admin; BOT_USER's access token TOKEN_NAME (write:repository only;
#      deleted and recreated: Gitea shows a token only once, and its API has no expiry) stored as
#      the repository's Actions secret CI_TOKEN (PM-03); registry credentials too when given
#   4. content from CONTENT_DIR (MANIFEST lines "<key> <owned|initial> <path>"): into an empty
#      repository, every file; later, only the "owned" files the stack renders, committed when they
#      differ, those it no longer renders removed (the list is kept in .platform/stack-owned), and
#      the tag of each image in KEEP_IMAGE_TAGS carried over from Git (CI bumps it). "initial"
#      files (the app) are never written again.
# Credentials come from the environment (a Secret), never through argv: curl reads them from a
# config file (-K, quoted and escaped), git from a credential helper printing the environment
# variables. Any printable password works; a netrc file does not (its tokens are whitespace-separated,
# so a space or a leading `#` gave 401). Request bodies go through stdin.
set -euo pipefail
export GIT_TERMINAL_PROMPT=0

: "${GITEA_URL:?}" "${GITEA_USER:?}" "${GITEA_PASSWORD:?}" "${ORG:?}" "${REPO:?}" "${CONTENT_DIR:?}" "${HOME:?}"
: "${READER_USER:?}" "${READER_PASSWORD:?}" "${BOT_USER:?}" "${BOT_PASSWORD:?}"
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

# api_as AUTHFILE METHOD PATH [BODY]: prints the HTTP status; the response body lands in $BODY.
api_as() {
  local auth="$1" method="$2" path="$3"
  if [ "$#" -ge 4 ]; then
    printf '%s' "$4" | "${CURL[@]}" -K "$auth" -o "$BODY" -w '%{http_code}' \
      -X "$method" -H 'Content-Type: application/json' --data-binary @- "$API$path"
  else
    "${CURL[@]}" -K "$auth" -o "$BODY" -w '%{http_code}' -X "$method" "$API$path"
  fi
}
# api METHOD PATH [BODY]: as the site admin.
api() { api_as "$AUTH" "$@"; }

# expect STATUS WHAT OK...: fails with the response body unless STATUS is one of OK.
expect() {
  local status="$1" what="$2" ok
  shift 2
  for ok in "$@"; do [ "$status" = "$ok" ] && return 0; done
  fail "$what: HTTP $status: $(head -c 500 "$BODY" 2>/dev/null || true)"
}

# curl: basic auth from a private config file (printf is a builtin: the password is in no argv).
case "$GITEA_USER" in *:*) fail "GITEA_USER must not contain ':'" ;; esac
for u in "$READER_USER" "$BOT_USER"; do
  case "$u" in "" | *[!A-Za-z0-9._-]*) fail "user name '$u' must be made of [A-Za-z0-9._-]" ;; esac
  [ "$u" != "$GITEA_USER" ] || fail "READER_USER and BOT_USER must not be the site admin $GITEA_USER (#14.1)"
done
[ "$READER_USER" != "$BOT_USER" ] || fail "READER_USER and BOT_USER must differ"
AUTH="$WORK/curl-auth"
(umask 077; printf 'user = %s\n' "$(curl_str "$GITEA_USER:$GITEA_PASSWORD")" > "$AUTH")
BOT_AUTH="$WORK/curl-auth-bot"
(umask 077; printf 'user = %s\n' "$(curl_str "$BOT_USER:$BOT_PASSWORD")" > "$BOT_AUTH")
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

# 2b. The runner's registration token, for this organisation only (issue 14): runner-token.sh.
if [ -n "${RUNNER_TOKEN_SECRET:-}" ]; then bash "$(dirname "${BASH_SOURCE[0]}")/runner-token.sh"; fi

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

# 3. Users (#14.1): created, or given the stack's password again (a rotation), never site admins.
# The email is required by Gitea's create and edit options; login_name and source_id 0 (a local
# user) by older edit options.
ensure_user() {
  local name="$1" password="$2" email status
  email="$(json_str "$name@platform.internal")"
  status="$(api GET "/users/$name")"
  if [ "$status" = 404 ]; then
    status="$(api POST /admin/users "{\"username\":$(json_str "$name"),\"email\":$email,\"password\":$(json_str "$password"),\"must_change_password\":false,\"visibility\":\"private\"}")"
    expect "$status" "create user $name" 201
    log "created user $name"
  else
    expect "$status" "read user $name" 200
    status="$(api PATCH "/admin/users/$name" "{\"login_name\":$(json_str "$name"),\"source_id\":0,\"email\":$email,\"password\":$(json_str "$password"),\"must_change_password\":false,\"admin\":false}")"
    expect "$status" "set the password of $name" 200
  fi
}
# collaborator NAME PERMISSION: PUT sets the permission whether or not NAME already is one.
collaborator() {
  local status
  status="$(api PUT "/repos/$ORG/$REPO/collaborators/$1" "{\"permission\":\"$2\"}")"
  expect "$status" "make $1 a $2 collaborator of $ORG/$REPO" 204
  log "$1 has $2 access to $ORG/$REPO"
}
ensure_user "$READER_USER" "$READER_PASSWORD"
collaborator "$READER_USER" read
ensure_user "$BOT_USER" "$BOT_PASSWORD"
collaborator "$BOT_USER" write

# CI token as an Actions secret (PM-03): the bot's, created as the bot (its password is the
# stack's), scoped to repositories. The token older versions of this script made for the site
# admin goes.
status="$(api DELETE "/users/$GITEA_USER/tokens/$TOKEN_NAME")"
expect "$status" "delete the site admin's old token $TOKEN_NAME" 204 404
status="$(api_as "$BOT_AUTH" DELETE "/users/$BOT_USER/tokens/$TOKEN_NAME")"
expect "$status" "delete old token $TOKEN_NAME of $BOT_USER" 204 404
status="$(api_as "$BOT_AUTH" POST "/users/$BOT_USER/tokens" "{\"name\":$(json_str "$TOKEN_NAME"),\"scopes\":[\"write:repository\"]}")"
expect "$status" "create token $TOKEN_NAME of $BOT_USER" 201
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

# 4. Content.
OWNED_LIST=.platform/stack-owned
GIT_ID=(-c user.name=platform-bootstrap -c user.email=bootstrap@platform.internal)

# Validates MANIFEST once: "<key> <owned|initial> <path>", safe relative paths.
manifest="$CONTENT_DIR/MANIFEST"
count=0
while read -r key mode path; do
  [ -n "$key" ] || continue
  case "$mode" in owned | initial) ;; *) fail "MANIFEST: unknown mode '$mode' for '$path'" ;; esac
  case "$path" in
    "" | /* | ../* | */../* | */.. | ..) fail "unsafe path in MANIFEST: '$path'" ;;
  esac
  [ -f "$CONTENT_DIR/$key" ] || fail "MANIFEST: no content for '$path'"
  count=$((count + 1))
done < "$manifest"
[ "$count" -gt 0 ] || fail "MANIFEST lists no files"

# Writes the list of owned paths, with a header saying what it means.
write_owned_list() {
  local tree="$1"
  mkdir -p "$tree/$(dirname "$OWNED_LIST")"
  {
    printf '# Files the platform stack renders and owns: `pulumi up` rewrites them when it renders them\n'
    printf '# differently (the image tags CI bumps are kept). Change them in the stack, not here.\n'
    while read -r _key mode path; do
      if [ "$mode" = owned ]; then printf '%s\n' "$path"; fi
    done < "$manifest" | LC_ALL=C sort
  } > "$tree/$OWNED_LIST"
}

# carry_tags OLD NEW: for each image in KEEP_IMAGE_TAGS, the tag OLD has replaces NEW's.
carry_tags() {
  local old="$1" new="$2" ref re tag
  for ref in ${KEEP_IMAGE_TAGS:-}; do
    case "$ref" in *[!a-z0-9._:/-]*) fail "KEEP_IMAGE_TAGS: invalid image '$ref'" ;; esac
    re="${ref//./\\.}"
    tag="$(sed -n -E "s#^.*image: *\"?${re}:([^\"[:space:]]+).*\$#\\1#p" "$old" | head -n 1)"
    [ -n "$tag" ] || continue
    case "$tag" in *[!A-Za-z0-9_.-]*) log "not carrying tag '$tag' of $ref: not a plain tag"; continue ;; esac
    sed -i -E "s#(image: *\"?)${re}(:[^\"[:space:]]+)?#\\1${ref}:${tag}#" "$new"
  done
}

if [ "$empty" = true ]; then
  tree="$WORK/tree"
  mkdir -p "$tree"
  while read -r key _mode path; do
    [ -n "$key" ] || continue
    mkdir -p "$tree/$(dirname "$path")"
    cp "$CONTENT_DIR/$key" "$tree/$path"
  done < "$manifest"
  write_owned_list "$tree"
  git -C "$tree" init -q -b main
  git -C "$tree" add -A
  git -C "$tree" "${GIT_ID[@]}" commit -q -m "Initial platform content"
  git -C "$tree" "${GIT_ID[@]}" "${GIT_AUTH[@]}" push -q "$BASE/$ORG/$REPO.git" main
  status="$(api PATCH "/repos/$ORG/$REPO" '{"default_branch":"main"}')"
  expect "$status" "set default branch main" 200
  log "pushed $count files to $ORG/$REPO main"
  exit 0
fi

# sync_owned TREE: brings the owned files of a fresh clone to the stack's and commits them; sets
# committed=true when there was something to commit. Called as a plain command, so that set -e
# holds inside (it does not in a function whose status a condition tests).
sync_owned() {
  local tree="$1" key mode path old
  # Before this list existed (a repository bootstrapped by an older script), owned = what is rendered now.
  old="$WORK/owned.old"
  if [ -f "$tree/$OWNED_LIST" ]; then grep -v '^#' "$tree/$OWNED_LIST" > "$old" || true; else : > "$old"; fi
  while read -r key mode path; do
    [ "$mode" = owned ] || continue
    mkdir -p "$tree/$(dirname "$path")"
    cp "$CONTENT_DIR/$key" "$WORK/new"
    if [ -f "$tree/$path" ]; then carry_tags "$tree/$path" "$WORK/new"; fi
    cp "$WORK/new" "$tree/$path"
  done < "$manifest"
  write_owned_list "$tree"
  # Owned before, not rendered any more: the stack removes them (never an initial file).
  while read -r path; do
    [ -n "$path" ] || continue
    case "$path" in "" | /* | ../* | */../* | */.. | ..) continue ;; esac
    grep -qxF -- "$path" <(grep -v '^#' "$tree/$OWNED_LIST") && continue
    awk -v p="$path" '$3 == p { found = 1 } END { exit !found }' "$manifest" && continue
    git -C "$tree" rm -q --ignore-unmatch -- "$path"
  done < "$old"
  git -C "$tree" add -A
  committed=false
  if git -C "$tree" diff --cached --quiet; then return 0; fi
  git -C "$tree" "${GIT_ID[@]}" commit -q -m "platform: update the files the stack renders"
  committed=true
}

# A CI bump may land between clone and push: start again from the new head (bounded).
for attempt in 1 2 3; do
  tree="$WORK/clone-$attempt"
  git "${GIT_AUTH[@]}" clone -q --branch main "$BASE/$ORG/$REPO.git" "$tree"
  sync_owned "$tree"
  if [ "$committed" != true ]; then
    log "$ORG/$REPO already has the stack's files: nothing to commit"
    exit 0
  fi
  if git -C "$tree" "${GIT_AUTH[@]}" push -q origin HEAD:main; then
    log "committed the stack's files to $ORG/$REPO main"
    exit 0
  fi
  log "push rejected (attempt $attempt): fetching main again"
done
fail "could not push the stack's files to $ORG/$REPO after 3 attempts"
