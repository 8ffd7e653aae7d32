#!/usr/bin/env bash
# On failure: what a person needs to see why, in $E2E_DIR/diagnostics (the workflow uploads it).
# Events, nodes and pods; describe and logs (current and previous) of every pod that is not Running
# and Ready or has restarted; Argo CD Applications; Rollouts, AnalysisRuns, ReplicaSets and
# VirtualServices of the sample app; Gitea's workflow runs and their job logs; the runner's disk and
# Docker. Secrets are never read (no Secret objects, no --show-secrets), and every password the
# stack generated is replaced by [redacted] in whatever was collected. Best effort: never fails.
# shellcheck disable=SC2034  # E2E_PROBE is read by lib.sh
set -euo pipefail
E2E_PROBE="diagnostics"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

out="$E2E_DIR/diagnostics"
rm -rf "$out"
mkdir -p "$out/pods"
cap="${E2E_DIAG_TIMEOUT:-60}"

# save FILE CMD...: output and errors of a bounded command into FILE.
save() {
  local file="$out/$1"
  shift
  timeout "$cap" "$@" > "$file" 2>&1 || printf '\n(exit %s)\n' "$?" >> "$file"
}

if [ -s "$E2E_DIR/kubeconfig" ] && [ -z "${KUBECONFIG:-}" ]; then export KUBECONFIG="$E2E_DIR/kubeconfig"; fi
k=(kubectl --request-timeout=30s)
save nodes.txt "${k[@]}" get nodes -o wide
save pods.txt "${k[@]}" get pods -A -o wide
save events.txt "${k[@]}" get events -A --sort-by=.lastTimestamp
save applications.yaml "${k[@]}" -n "$E2E_ARGOCD_NS" get applications.argoproj.io -o yaml
save rollouts.yaml "${k[@]}" -n "$E2E_APP_NS" get rollouts.argoproj.io -o yaml
save rollout-describe.txt "${k[@]}" -n "$E2E_APP_NS" describe rollouts.argoproj.io
save analysisruns.yaml "${k[@]}" -n "$E2E_APP_NS" get analysisruns.argoproj.io -o yaml
save replicasets.txt "${k[@]}" -n "$E2E_APP_NS" get replicasets -o wide
save virtualservices.yaml "${k[@]}" get virtualservices.networking.istio.io -A -o yaml
save jobs.txt "${k[@]}" get jobs -A -o wide

# Pods that are not Running and Ready, or restarted: describe and logs.
timeout "$cap" "${k[@]}" get pods -A -o json > "$out/.pods.json" 2>/dev/null || printf '{"items":[]}' > "$out/.pods.json"
jq -r '.items[] | select(.status.phase != "Succeeded") | select(.status.phase != "Running"
    or any(.status.containerStatuses[]?; (.ready | not) or .restartCount > 0)
    or any(.status.initContainerStatuses[]?; .restartCount > 0 and (.ready | not)))
  | "\(.metadata.namespace) \(.metadata.name) \([.status.containerStatuses[]?, .status.initContainerStatuses[]? | select(.restartCount > 0) | .name] | join(","))"' \
  "$out/.pods.json" 2>/dev/null | head -n 40 > "$out/failing-pods.txt" || true
while read -r ns pod restarted; do
  [ -n "$pod" ] || continue
  save "pods/$ns.$pod.describe.txt" "${k[@]}" -n "$ns" describe pod "$pod"
  save "pods/$ns.$pod.log" "${k[@]}" -n "$ns" logs "$pod" --all-containers --prefix --tail=400
  if [ -n "$restarted" ]; then
    save "pods/$ns.$pod.previous.log" "${k[@]}" -n "$ns" logs "$pod" --all-containers --prefix --previous --tail=400
  fi
done < "$out/failing-pods.txt"
rm -f "$out/.pods.json"

# Gitea's workflow runs and their job logs (what the release workflow printed).
# (A subshell: load_outputs and load_credentials stop on missing files, diagnostics must not.)
if [ -s "$E2E_OUTPUTS" ] && [ -s "$E2E_CREDENTIALS" ]; then
  (
    load_outputs
    load_credentials
    auth="$(auth_file gitea "$GITEA_USER" "$GITEA_PASSWORD")"
    api="$GITEA_API/api/v1/repos/$E2E_ORG/$E2E_REPO"
    if [ "$(http GET "$api/actions/runs?limit=20" -K "$auth")" = 200 ]; then
      cp "$E2E_BODY" "$out/gitea-runs.json"
      for id in $(jq -r '.workflow_runs[]?.id' "$out/gitea-runs.json" 2>/dev/null | head -n 10 || true); do
        [ "$(http GET "$api/actions/runs/$id/jobs" -K "$auth")" = 200 ] || continue
        for job in $(jq -r '.jobs[]?.id' "$E2E_BODY" 2>/dev/null || true); do
          if [ "$(http GET "$api/actions/jobs/$job/logs" -K "$auth")" = 200 ]; then cp "$E2E_BODY" "$out/gitea-run-$id-job-$job.log"; fi
        done
      done
    fi
  ) || log "Gitea's runs could not be collected"
fi

save runner.txt bash -c 'df -h; echo; free -m; echo; docker ps -a; echo; k3d cluster list'
cp "$E2E_RESULTS" "$E2E_TIMINGS" "$out/" 2>/dev/null || true
if [ -s "$E2E_OUTPUTS" ]; then cp "$E2E_OUTPUTS" "$out/stack-outputs.json"; fi

# Redact every generated password from what was collected (literal match, line by line).
if [ -s "$E2E_CREDENTIALS" ]; then
  jq -r '.. | objects | .password? // empty' "$E2E_CREDENTIALS" > "$E2E_DIR/.redact" 2>/dev/null || true
  while IFS= read -r secret; do
    [ -n "$secret" ] || continue
    { grep -rlF -- "$secret" "$out" 2>/dev/null || true; } | while IFS= read -r f; do
      jq -Rr --arg s "$secret" 'split($s) | join("[redacted]")' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
    done
  done < "$E2E_DIR/.redact"
  rm -f "$E2E_DIR/.redact"
fi
log "diagnostics in $out: $(find "$out" -type f | wc -l) files" || true
exit 0
