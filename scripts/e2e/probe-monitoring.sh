#!/usr/bin/env bash
# PM-20, PM-35: kube-state-metrics, Prometheus and Kiali are up and Prometheus scrapes them. Each
# Deployment has an available replica; Prometheus' /api/v1/targets (through the API server's Service
# proxy: Prometheus is not published) shows the kube-state-metrics job, its own job and the Kiali pod
# healthy ("up"); kube-state-metrics reports the sample app's namespace (its --namespaces list);
# Kiali answers /healthz and refuses its API without a login (issue 13: not anonymous).
# shellcheck disable=SC2034  # E2E_PROBE and LAST are read by lib.sh (fail, poll)
set -euo pipefail
E2E_PROBE="PM-20"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
load_outputs

timeout="${E2E_PROBE_TIMEOUT:-300}"
base="$URL_PROMETHEUS"
# name|namespace|deployment|jq filter selecting its scrape targets
TARGETS="kube-state-metrics|$E2E_MONITORING_NS|kube-state-metrics|.labels.job == \"kube-state-metrics\"
prometheus|$E2E_MONITORING_NS|prometheus-server|.labels.job == \"prometheus\"
kiali|$E2E_MESH_NS|kiali|.labels.job == \"annotated-pods\" and .labels.app_kubernetes_io_name == \"kiali\""

check_deployments() {
  local name ns deploy filter waiting=""
  while IFS='|' read -r name ns deploy filter; do
    [ -n "$name" ] || continue
    kjson "$ns" deployment "$deploy" > "$E2E_DIR/deploy.json" || { waiting="$waiting $ns/$deploy(missing)"; continue; }
    jq -e '(.status.availableReplicas // 0) >= 1' "$E2E_DIR/deploy.json" >/dev/null || waiting="$waiting $ns/$deploy"
  done <<<"$TARGETS"
  [ -z "$waiting" ] || { LAST="no available replica:$waiting"; return 1; }
}

check_targets() {
  local code name ns deploy filter down=""
  code="$(prom "/api/v1/targets?state=active")"
  [ "$code" = 200 ] || { LAST="GET /api/v1/targets: HTTP $code"; return 1; }
  cp "$E2E_BODY" "$E2E_DIR/prometheus-targets.json"
  while IFS='|' read -r name ns deploy filter; do
    [ -n "$name" ] || continue
    jq -e "[.data.activeTargets[]? | select($filter)] | length > 0 and all(.health == \"up\")" "$E2E_DIR/prometheus-targets.json" >/dev/null \
      || down="$down $name=$(jq -r "[.data.activeTargets[]? | select($filter) | .health + (if .lastError != \"\" then \"(\" + .lastError[0:120] + \")\" else \"\" end)] | if length == 0 then \"absent\" else join(\",\") end" "$E2E_DIR/prometheus-targets.json")"
  done <<<"$TARGETS"
  [ -z "$down" ] || { LAST="targets not up:$down"; return 1; }
}

check_ksm_scope() {
  local code
  code="$(prom "/api/v1/query?query=$(uri "count(kube_pod_info{namespace=\"$E2E_APP_NS\"})")")"
  [ "$code" = 200 ] || { LAST="query kube_pod_info: HTTP $code"; return 1; }
  jq -e '(.data.result[0].value[1] // "0" | tonumber) > 0' "$E2E_BODY" >/dev/null \
    || { LAST="kube-state-metrics reports no pod in $E2E_APP_NS"; return 1; }
}

check_kiali() {
  local code
  code="$(http GET "$URL_KIALI/healthz" -H "Host: $HOST_KIALI" "${GW_CURL[@]}")"
  [ "$code" = 200 ] || { LAST="Kiali /healthz through the gateway: HTTP $code"; return 1; }
  code="$(http GET "$URL_KIALI/api/namespaces" -H "Host: $HOST_KIALI" "${GW_CURL[@]}")"
  [ "$code" = 401 ] || { LAST="Kiali /api/namespaces without a login: HTTP $code (want 401)"; return 2; }
}

poll "$timeout" "kube-state-metrics, Prometheus and Kiali available" check_deployments
poll "$timeout" "Prometheus scrape targets up" check_targets
pass "PM-20" "Prometheus scrapes kube-state-metrics, itself and Kiali: all up"
poll "$timeout" "kube-state-metrics watches $E2E_APP_NS" check_ksm_scope
pass "PM-20" "kube-state-metrics reports the pods of $E2E_APP_NS"
E2E_PROBE="PM-35"
poll "$timeout" "Kiali healthy" check_kiali
pass "PM-35" "Kiali is available, answers /healthz, is scraped and asks for a token"
