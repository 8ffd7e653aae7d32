#!/usr/bin/env bash
# The delivery loop, through Git only. Pushes a change of the sample app to Gitea (the admin, over
# Gitea's NodePort), then follows it: the release run (test, build, scan, push, bump), the bump
# commit on main, Argo CD synced to it, and the Rollout.
#   good  the next patch version: the canary must complete (Rollout Healthy on the new image).
#   bad   the next patch version built with ENV ERROR_RATE=0.5 (sample_api/server.py: half of the
#         requests to / answer 500): the analysis must abort it and traffic return to the stable
#         version (Rollout aborted, VirtualService stable 100 / canary 0, the app answers as stable).
# Traffic flows through the gateway meanwhile: without it the analysis has no evidence and passes
# (PM-26), and a bad version would be promoted.
# Usage: delivery-loop.sh good|bad
# shellcheck disable=SC2034  # E2E_PROBE and LAST are read by lib.sh (fail, poll)
set -euo pipefail
mode="${1:-}"
case "$mode" in good|bad) ;; *) echo "usage: $0 good|bad" >&2; exit 64 ;; esac
E2E_PROBE="delivery-$mode"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/e2e/lib.sh
source "$here/lib.sh"
load_outputs
load_credentials

run_timeout="${E2E_RUN_TIMEOUT:-1500}"
sync_timeout="${E2E_SYNC_TIMEOUT:-600}"
rollout_timeout="${E2E_ROLLOUT_TIMEOUT:-1200}"
settle_timeout="${E2E_SETTLE_TIMEOUT:-120}"
auth="$(auth_file gitea "$GITEA_USER" "$GITEA_PASSWORD")"
api="$GITEA_API/api/v1/repos/$E2E_ORG/$E2E_REPO"
repo_url="${E2E_REPO_URL:-$GITEA_API/$E2E_ORG/$E2E_REPO.git}"
work="$E2E_DIR/work-$mode"
traffic_log="$E2E_DIR/traffic-$mode.log"
export GIT_TERMINAL_PROMPT=0 GITEA_USER GITEA_PASSWORD
# Credentials from the environment through a helper, never in the URL or argv (as bootstrap-repo.sh).
git_auth=(-c credential.helper= -c 'credential.helper=!f() { test "$1" = get || exit 0; printf "username=%s\npassword=%s\n" "$GITEA_USER" "$GITEA_PASSWORD"; }; f')

# The Rollout before the push: Healthy, and what is stable.
rollout_json() { kjson "$E2E_APP_NS" rollouts.argoproj.io "$E2E_ROLLOUT"; }
before="$(rollout_json)" || fail "kubectl get rollout $E2E_ROLLOUT failed"
[ "$(jq -r '.status.phase // ""' <<<"$before")" = Healthy ] \
  || fail "precondition: Rollout $E2E_ROLLOUT is $(jq -r '.status.phase // "unknown"' <<<"$before"), not Healthy"
stable_rs="$(jq -r '.status.stableRS // ""' <<<"$before")"
stable_image="$(jq -r '.spec.template.spec.containers[0].image' <<<"$before")"
stable_tag="${stable_image##*:}"
# The app serves its VERSION file; release tags are <VERSION>-main.<run> (release.yaml).
stable_version="${stable_tag%%-main.*}"

# 1. The change, pushed to main.
rm -rf "$work"
git "${git_auth[@]}" clone -q --branch main "$repo_url" "$work" || fail "git clone $repo_url failed"
current="$(tr -d '[:space:]' < "$work/app/VERSION")"
[[ "$current" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || fail "app/VERSION is not x.y.z: $current"
version="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.$(( BASH_REMATCH[3] + 1 ))"
printf '%s\n' "$version" > "$work/app/VERSION"
if [ "$mode" = bad ]; then
  # The Dockerfile's last stage is the runtime (release.yaml builds it); the test stage is unaffected.
  printf '\n# e2e (delivery-loop.sh bad): a release whose canary fails the analysis.\nENV ERROR_RATE=0.5\n' >> "$work/app/Dockerfile"
fi
image="$(sed -n '/^  IMAGE: */{s///p;q;}' "$work/.gitea/workflows/release.yaml")"
[ -n "$image" ] || fail ".gitea/workflows/release.yaml has no env.IMAGE"
git -C "$work" add app
git -C "$work" -c user.name=e2e -c user.email=e2e@platform.internal commit -q -m "e2e: $mode release $version"
pushed=false
for attempt in 1 2 3; do
  if git -C "$work" "${git_auth[@]}" push -q origin HEAD:main; then pushed=true; break; fi
  log "push attempt $attempt rejected; rebasing on main"
  git -C "$work" "${git_auth[@]}" pull -q --rebase origin main || true
done
[ "$pushed" = true ] || fail "git push to main failed 3 times"
sha="$(git -C "$work" rev-parse HEAD)"
t_push="$(now)"
log "pushed ${sha:0:12}: app/VERSION $current -> $version${mode:+ ($mode)}"

# 2. The release run for that commit.
run=""
check_run() {
  local code status conclusion
  code="$(http GET "$api/actions/runs?head_sha=$sha&limit=20" -K "$auth")"
  [ "$code" = 200 ] || { LAST="GET actions/runs: HTTP $code"; return 1; }
  run="$(jq -c --arg s "$sha" '[.workflow_runs[]? | select(.head_sha == $s)] | sort_by(.run_number) | last // empty' "$E2E_BODY")"
  [ -n "$run" ] || { LAST="no run for ${sha:0:12} yet"; return 1; }
  status="$(jq -r '.status' <<<"$run")"
  conclusion="$(jq -r '.conclusion // ""' <<<"$run")"
  if [ "$status" = completed ]; then
    [ "$conclusion" = success ] && return 0
    LAST="release run #$(jq -r '.run_number' <<<"$run") for ${sha:0:12}: $conclusion"
    return 2
  fi
  LAST="release run #$(jq -r '.run_number' <<<"$run") $status"
  return 1
}
poll "$run_timeout" "release run for ${sha:0:12}" check_run
t_run="$(now)"
number="$(jq -r '.run_number' <<<"$run")"
tag="$version-main.$number"

# 3. The bump on main (the run's last step pushed it with CI_TOKEN).
manifest="deploy/$E2E_ENVIRONMENT/rollout.yaml"
bump=""
check_bump() {
  local code
  code="$(http GET "$api/raw/$manifest?ref=main" -K "$auth")"
  [ "$code" = 200 ] || { LAST="GET $manifest: HTTP $code"; return 1; }
  grep -Eq "image: *\"?$image:$tag\"?\$" "$E2E_BODY" || { LAST="$manifest: $(grep -m1 'image:' "$E2E_BODY" || true)"; return 1; }
  code="$(http GET "$api/branches/main" -K "$auth")"
  [ "$code" = 200 ] || { LAST="GET branches/main: HTTP $code"; return 1; }
  bump="$(jq -r '.commit.id // empty' "$E2E_BODY")"
  [ -n "$bump" ] || { LAST="branches/main has no commit id"; return 1; }
}
poll "$sync_timeout" "$manifest bumped to $image:$tag on main" check_bump

# 4. Traffic through the gateway, then Argo CD on the bump commit.
: > "$traffic_log"
bash "$here/traffic.sh" "$URL_APP/" "$HOST_APP" "$traffic_log" "$(( sync_timeout + rollout_timeout + 120 ))" "${E2E_TRAFFIC_INTERVAL:-0.2}" "${GW_CURL[@]}" &
traffic_pid=$!
trap 'kill "$traffic_pid" 2>/dev/null || true' EXIT

check_sync() {
  local app
  app="$(kjson "$E2E_ARGOCD_NS" applications.argoproj.io "$E2E_APP")" || { LAST="kubectl get application $E2E_APP failed"; return 1; }
  LAST="$(jq -r '"\(.status.sync.status // "Unknown") at \(.status.sync.revision // "?" | .[0:12])"' <<<"$app")"
  jq -e --arg r "$bump" '.status.sync.revision == $r and .status.sync.status == "Synced"' <<<"$app" >/dev/null
}
poll "$sync_timeout" "Argo CD $E2E_APP synced to ${bump:0:12}" check_sync
t_sync="$(now)"

analysis_state() {
  kubectl -n "$E2E_APP_NS" get analysisruns.argoproj.io -o json --request-timeout=30s 2>/dev/null \
    | jq -r '[.items[]] | sort_by(.metadata.creationTimestamp) | last // {} | "\(.metadata.name // "none") \(.status.phase // "")" + (if .status.metricResults then " (" + ([.status.metricResults[] | "\(.name): \(.successful // 0) ok, \(.failed // 0) failed"] | join("; ")) + ")" else "" end)' 2>/dev/null \
    || printf 'unknown'
}

# 5. The Rollout.
if [ "$mode" = good ]; then
  check_rollout() {
    local r
    r="$(rollout_json)" || { LAST="kubectl get rollout failed"; return 1; }
    if jq -e '.status.abort == true' <<<"$r" >/dev/null; then
      LAST="aborted: $(jq -r '.status.message // ""' <<<"$r"); analysis $(analysis_state)"
      return 2
    fi
    LAST="$(jq -r '"\(.status.phase // "?") weight \(.status.canary.weights.canary.weight // "?")% step \(.status.currentStepIndex // "?"): \(.status.message // "")"' <<<"$r")"
    jq -e --arg img "$image:$tag" --arg old "$stable_rs" '.spec.template.spec.containers[0].image == $img and .status.phase == "Healthy"
      and .status.stableRS == .status.currentPodHash and .status.stableRS != $old' <<<"$r" >/dev/null
  }
  poll "$rollout_timeout" "Rollout $E2E_ROLLOUT promoted to $tag" check_rollout
else
  check_rollout() {
    local r
    r="$(rollout_json)" || { LAST="kubectl get rollout failed"; return 1; }
    if jq -e --arg img "$image:$tag" '.spec.template.spec.containers[0].image == $img and .status.phase == "Healthy" and .status.stableRS == .status.currentPodHash' <<<"$r" >/dev/null; then
      LAST="the failing version $tag was promoted; analysis $(analysis_state)"
      return 2
    fi
    LAST="$(jq -r '"\(.status.phase // "?") abort=\(.status.abort // false) weight \(.status.canary.weights.canary.weight // "?")%: \(.status.message // "")"' <<<"$r")"
    jq -e '.status.abort == true and .status.phase == "Degraded"' <<<"$r" >/dev/null
  }
  poll "$rollout_timeout" "Rollout $E2E_ROLLOUT aborts $tag" check_rollout
fi
t_done="$(now)"

if [ "$mode" = bad ]; then
  analysis="$(analysis_state)"
  case "$analysis" in *" Failed"*) ;; *) fail "the Rollout aborted, but not on a failed analysis: $analysis" ;; esac
  after="$(rollout_json)" || fail "kubectl get rollout failed"
  [ "$(jq -r '.status.stableRS' <<<"$after")" = "$stable_rs" ] || fail "stable ReplicaSet changed from $stable_rs to $(jq -r '.status.stableRS' <<<"$after")"
  check_weights() {
    local vs
    vs="$(kjson "$E2E_APP_NS" virtualservices.networking.istio.io "$E2E_ROLLOUT")" || { LAST="kubectl get virtualservice failed"; return 1; }
    LAST="$(jq -c '[.spec.http[] | select(.name == "primary") | .route[] | {(.destination.host): (.weight // 0)}] | add' <<<"$vs")"
    jq -e --arg s "$E2E_STABLE_SVC" --arg c "$E2E_CANARY_SVC" '[.spec.http[] | select(.name == "primary") | .route[]] as $r
      | ($r | map(select(.destination.host == $s)) | .[0].weight // 0) == 100 and ($r | map(select(.destination.host == $c)) | .[0].weight // 0) == 0' <<<"$vs" >/dev/null
  }
  poll "$settle_timeout" "VirtualService $E2E_ROLLOUT back to $E2E_STABLE_SVC 100 / $E2E_CANARY_SVC 0" check_weights
fi

# 6. Through the gateway, the app answers as the version that is now stable.
want="$([ "$mode" = good ] && printf '%s' "$version" || printf '%s' "$stable_version")"
check_serving() {
  local i code got
  for i in 1 2 3 4 5 6 7 8 9 10; do
    code="$(http GET "$URL_APP/" -H "Host: $HOST_APP" "${GW_CURL[@]}")"
    got="$(jq -r '.version // empty' "$E2E_BODY" 2>/dev/null || true)"
    [ "$code" = 200 ] && [ "$got" = "$want" ] || { LAST="request $i: HTTP $code version ${got:-none}"; return 1; }
  done
}
poll "$settle_timeout" "$HOST_APP answers 10 times in a row as $want" check_serving
kill "$traffic_pid" 2>/dev/null || true
codes="$(sort "$traffic_log" | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')"

timing "$mode: push to release run succeeded (test, build, scan, push, bump)" "$(( t_run - t_push ))" "run #$number"
timing "$mode: release run to Argo CD synced on the bump" "$(( t_sync - t_run ))" "${bump:0:12}"
if [ "$mode" = good ]; then
  timing "good: Argo CD sync to Rollout Healthy (20% → analysis → 80% → analysis → 100%)" "$(( t_done - t_sync ))" "traffic: $codes"
  timing "good: push to Rollout Healthy" "$(( t_done - t_push ))" "$tag"
  pass "delivery-good" "$tag went from git push to Healthy in $(( t_done - t_push ))s; the app answers $version"
else
  timing "bad: Argo CD sync to Rollout aborted by the analysis" "$(( t_done - t_sync ))" "traffic: $codes"
  timing "bad: push to Rollout aborted" "$(( t_done - t_push ))" "$tag"
  pass "delivery-bad" "$tag (ERROR_RATE=0.5) aborted by the analysis ($analysis); traffic back on stable $stable_version (100/0)"
fi
