#!/usr/bin/env bash
# PM-01, PM-03, PM-13, PM-24: the bootstrap repository's release workflow ran on the platform's own
# runner and succeeded. Its job containers checked out from Gitea over the runner URL (PM-24, PM-01),
# built and pushed the image with the registry credentials (PM-13), and pushed the bumped manifest
# back with CI_TOKEN (PM-03). Polls Gitea's API (GET /repos/{owner}/{repo}/actions/runs) for the
# first run, then checks the bump commit on main and the tag in the registry.
# shellcheck disable=SC2034  # E2E_PROBE and LAST are read by lib.sh (fail, poll)
set -euo pipefail
E2E_PROBE="PM-01"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
load_outputs
load_credentials

timeout="${E2E_RUN_TIMEOUT:-1500}"
auth="$(auth_file gitea "$GITEA_USER" "$GITEA_PASSWORD")"
api="$GITEA_API/api/v1/repos/$E2E_ORG/$E2E_REPO"
run=""

check_run() {
  local code status conclusion number
  code="$(http GET "$api/actions/runs?limit=50" -K "$auth")"
  [ "$code" = 200 ] || { LAST="GET actions/runs: HTTP $code"; return 1; }
  run="$(jq -c '[.workflow_runs[]?] | sort_by(.run_number) | first // empty' "$E2E_BODY")"
  [ -n "$run" ] || { LAST="no workflow run yet (runner registered? initial push seen?)"; return 1; }
  status="$(jq -r '.status' <<<"$run")"
  conclusion="$(jq -r '.conclusion // ""' <<<"$run")"
  number="$(jq -r '.run_number' <<<"$run")"
  if [ "$status" = completed ]; then
    [ "$conclusion" = success ] && return 0
    LAST="release run #$number completed: $conclusion ($(jq -r '.html_url // .url // ""' <<<"$run"))"
    return 2
  fi
  LAST="release run #$number $status"
  return 1
}

started="$(now)"
poll "$timeout" "first release workflow run" check_run
number="$(jq -r '.run_number' <<<"$run")"
sha="$(jq -r '.head_sha' <<<"$run")"
timing "first release run: test, build, scan, push, bump (after pulumi up)" "$(( $(now) - started ))" "run #$number"
pass "PM-24" "release run #$number for ${sha:0:12} succeeded: its job containers checked out from Gitea over the runner URL"

# What the run built: the workflow's IMAGE and the app's VERSION at the commit it ran for.
code="$(http GET "$api/raw/.gitea/workflows/release.yaml?ref=$sha" -K "$auth")"
[ "$code" = 200 ] || fail "GET .gitea/workflows/release.yaml: HTTP $code"
image="$(sed -n '/^  IMAGE: */{s///p;q;}' "$E2E_BODY")"
[ -n "$image" ] || fail "release.yaml has no env.IMAGE"
code="$(http GET "$api/raw/app/VERSION?ref=$sha" -K "$auth")"
[ "$code" = 200 ] || fail "GET app/VERSION: HTTP $code"
tag="$(tr -d '[:space:]' < "$E2E_BODY")-main.$number"
pass "PM-01" "the job cloned from Gitea and built $image:$tag"

# PM-03: the bump is on main, committed by the workflow with CI_TOKEN.
E2E_PROBE="PM-03"
manifest="deploy/$E2E_ENVIRONMENT/rollout.yaml"
code="$(http GET "$api/raw/$manifest?ref=main" -K "$auth")"
[ "$code" = 200 ] || fail "GET $manifest on main: HTTP $code"
grep -Eq "image: *\"?$image:$tag\"?\$" "$E2E_BODY" || fail "$manifest on main does not reference $image:$tag: $(grep -m1 'image:' "$E2E_BODY" || true)"
code="$(http GET "$api/commits?sha=main&limit=10&stat=false&verification=false&files=false" -K "$auth")"
[ "$code" = 200 ] || fail "GET commits on main: HTTP $code"
bump="$(jq -r --arg m "release: $image:$tag" '[.[] | select(.commit.message | startswith($m))] | first | .sha // empty' "$E2E_BODY")"
[ -n "$bump" ] || fail "no commit \"release: $image:$tag\" on main: the bump was not pushed with CI_TOKEN"
pass "PM-03" "the workflow pushed ${bump:0:12} (\"release: $image:$tag\") to main with CI_TOKEN"

# PM-13: the registry refuses anonymous clients and holds the pushed tag.
E2E_PROBE="PM-13"
kubectl -n "$E2E_REGISTRY_NS" get services -o json --request-timeout=30s > "$E2E_DIR/registry-services.json" 2>/dev/null \
  || fail "kubectl get services -n $E2E_REGISTRY_NS failed"
nodeport="$(jq -r '[.items[].spec.ports[]? | select(.nodePort) | .nodePort] | first // empty' "$E2E_DIR/registry-services.json")"
[ -n "$nodeport" ] || fail "no NodePort Service in namespace $E2E_REGISTRY_NS"
registry="http://127.0.0.1:$nodeport"
repository="${image#"$REGISTRY_HOST"/}"
code="$(http GET "$registry/v2/")"
[ "$code" = 401 ] || fail "GET $registry/v2/ without credentials: HTTP $code, want 401 (auth off?)"
rauth="$(auth_file registry "$REGISTRY_USER" "$REGISTRY_PASSWORD")"
code="$(http GET "$registry/v2/$repository/tags/list" -K "$rauth")"
[ "$code" = 200 ] || fail "GET $registry/v2/$repository/tags/list with credentials: HTTP $code"
jq -e --arg t "$tag" '.tags // [] | index($t)' "$E2E_BODY" >/dev/null || fail "tag $tag not in $repository: $(jq -c '.tags' "$E2E_BODY")"
pass "PM-13" "anonymous GET /v2/ is 401; with the registry credentials $repository has $tag"

{
  printf 'RELEASE_IMAGE=%s\n' "$image"
  printf 'RELEASE_TAG=%s\n' "$tag"
} > "$E2E_DIR/release.env"
