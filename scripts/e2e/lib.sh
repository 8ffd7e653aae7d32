#!/usr/bin/env bash
# Shared by the e2e scripts (.github/workflows/e2e.yml): names, bounded polling, HTTP without
# credentials in argv, and the two files the job summary is built from.
#   $E2E_DIR/results.tsv   ID <TAB> pass|fail <TAB> detail
#   $E2E_DIR/timings.tsv   name <TAB> seconds <TAB> detail
# Sourced, never run. Every wait is bounded: poll() fails at its deadline, naming what it waited for
# and the last state it saw.
# shellcheck disable=SC2034  # the names below are read by the scripts that source this file

E2E_DIR="${E2E_DIR:-${RUNNER_TEMP:-/tmp}/e2e}"
E2E_STACK="${E2E_STACK:-ci}"
E2E_POLL_INTERVAL="${E2E_POLL_INTERVAL:-10}"
# A local file backend: no Pulumi Cloud account (platform-up.sh logs in to the same URL).
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$E2E_DIR/state}"

# Names the stack creates; test/e2e-scripts.test.ts checks each against the TypeScript constant.
E2E_ORG="${E2E_ORG:-platform}"                   # BOOTSTRAP_ORG
E2E_REPO="${E2E_REPO:-platform-apps}"            # BOOTSTRAP_REPO
E2E_ARGOCD_NS="${E2E_ARGOCD_NS:-argocd}"         # endpoints.argocd.namespace
E2E_APP_NS="${E2E_APP_NS:-sample-app}"           # SAMPLE_APP_NAMESPACE
E2E_APP="${E2E_APP:-sample-app}"                 # the sample app's Argo CD Application
E2E_ROLLOUT="${E2E_ROLLOUT:-sample-api}"         # API_NAME: Rollout, VirtualService, pod label
E2E_STABLE_SVC="${E2E_STABLE_SVC:-sample-api-stable}"
E2E_CANARY_SVC="${E2E_CANARY_SVC:-sample-api-canary}"
E2E_MONITORING_NS="${E2E_MONITORING_NS:-monitoring}"
E2E_REGISTRY_NS="${E2E_REGISTRY_NS:-registry}"
E2E_MESH_NS="${E2E_MESH_NS:-istio-system}"

mkdir -p "$E2E_DIR"
E2E_RESULTS="$E2E_DIR/results.tsv"
E2E_TIMINGS="$E2E_DIR/timings.tsv"
E2E_BODY="$E2E_DIR/.body"
E2E_PROBE="${E2E_PROBE:-e2e}"
LAST=""

log() { printf '%s: %s\n' "$E2E_PROBE" "$*" >&2; }

# result ID STATUS DETAIL: one row of the summary's table (tabs and newlines in DETAIL become spaces).
result() {
  local detail="${3//$'\t'/ }"
  printf '%s\t%s\t%s\n' "$1" "$2" "${detail//$'\n'/ }" >> "$E2E_RESULTS"
}
pass() { result "$1" pass "$2"; log "PASS $1: $2"; }
# fail MESSAGE: records a failed row for the current probe and stops the script.
fail() {
  result "$E2E_PROBE" fail "$*"
  printf '%s: FAIL: %s\n' "$E2E_PROBE" "$*" >&2
  [ "${GITHUB_ACTIONS:-}" = true ] && printf '::error title=%s::%s\n' "$E2E_PROBE" "$*"
  exit 1
}

now() { date +%s; }
# timing NAME SECONDS [DETAIL]
timing() { printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >> "$E2E_TIMINGS"; }

# poll TIMEOUT WHAT CHECK [ARGS...]: runs CHECK every $E2E_POLL_INTERVAL seconds until it returns 0.
# CHECK returns 1 for "not yet" and 2 for "failed, stop waiting"; it may set LAST to what it saw.
poll() {
  local timeout="$1" what="$2" start rc
  shift 2
  start="$(now)"
  LAST=""
  while :; do
    rc=0
    "$@" || rc=$?
    case "$rc" in
      0) log "$what: done after $(( $(now) - start ))s"; return 0 ;;
      2) fail "$what: ${LAST:-failed}" ;;
    esac
    if [ $(( $(now) - start )) -ge "$timeout" ]; then
      fail "$what: not done within ${timeout}s${LAST:+ (last seen: $LAST)}"
    fi
    sleep "$E2E_POLL_INTERVAL"
  done
}

# curl config-file string (man curl, -K): backslash and double quote escaped inside double quotes.
curl_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

# auth_file NAME USER PASSWORD: a 0600 curl config with basic auth; prints its path. Passwords never
# reach argv (another process on the runner could read it in /proc).
auth_file() {
  local file="$E2E_DIR/auth-$1.curl"
  (umask 077; printf 'user = %s\n' "$(curl_str "$2:$3")" > "$file")
  printf '%s' "$file"
}

# http METHOD URL [CURL ARGS...]: prints the status code (000 when nothing answered); body in $E2E_BODY.
http() {
  local method="$1" url="$2" code
  shift 2
  code="$(curl -sS --connect-timeout 5 --max-time 30 -o "$E2E_BODY" -w '%{http_code}' -X "$method" "$@" "$url" 2>/dev/null)" || code="000"
  printf '%s' "${code:-000}"
}

# The stack's outputs (pulumi stack output --json, secrets hidden), written by platform-up.sh.
E2E_OUTPUTS="$E2E_DIR/outputs.json"
E2E_CREDENTIALS="$E2E_DIR/credentials.json"

# url_port URL: the port of an http(s) URL (80/443 when none).
url_port() {
  local rest="${1#*://}"
  rest="${rest%%/*}"
  case "$rest" in
    *:*) printf '%s' "${rest##*:}" ;;
    *) case "$1" in https://*) printf 443 ;; *) printf 80 ;; esac ;;
  esac
}
# url_authority URL: host[:port] as a browser sends it in the Host header.
url_authority() {
  local rest="${1#*://}"
  printf '%s' "${rest%%/*}"
}

# load_outputs: the addresses the probes use, all derived from the stack outputs. The gateway and
# the NodePorts are published on the runner's loopback by k3d (components/cluster/k3d-config.ts).
load_outputs() {
  [ -s "$E2E_OUTPUTS" ] || fail "no stack outputs at $E2E_OUTPUTS (did platform-up.sh run?)"
  local fields missing
  # One jq for all of them; a missing key is named.
  missing="$(jq -r '[("gitea", "argocd", "kiali", "prometheus", "app", "giteaNodePort", "registry") as $k | select((.urls[$k] // "") == "") | "urls." + $k]
    + (if (.environment // "") == "" then ["environment"] else [] end) | join(", ")' "$E2E_OUTPUTS")" || fail "$E2E_OUTPUTS is not JSON"
  [ -z "$missing" ] || fail "stack outputs lack $missing"
  fields="$(jq -r '[.environment, .urls.gitea, .urls.argocd, .urls.kiali, .urls.prometheus, .urls.app, .urls.registry, .urls.giteaNodePort] | @tsv' "$E2E_OUTPUTS")"
  IFS=$'\t' read -r E2E_ENVIRONMENT URL_GIT URL_ARGOCD URL_KIALI URL_PROMETHEUS URL_APP REGISTRY_HOST URL_GITEA_NODEPORT <<<"$fields"
  # The UIs are HTTPS (components/tls): every gateway request goes to loopback with --connect-to, so
  # the URL keeps the host's name for SNI and the certificate check, against the platform CA the
  # stack exports (dev; absent where a public CA signs).
  GATEWAY="127.0.0.1:$(url_port "$URL_GIT")"
  E2E_CA="$E2E_DIR/platform-ca.crt"
  jq -r '.platformCaCertificate // empty' "$E2E_OUTPUTS" > "$E2E_CA"
  GW_CURL=(--connect-to "::$GATEWAY")
  if [ -s "$E2E_CA" ]; then GW_CURL+=(--cacert "$E2E_CA"); fi
  HOST_GIT="$(url_authority "$URL_GIT")"
  HOST_ARGOCD="$(url_authority "$URL_ARGOCD")"
  HOST_KIALI="$(url_authority "$URL_KIALI")"
  HOST_PROMETHEUS="$(url_authority "$URL_PROMETHEUS")"
  HOST_APP="$(url_authority "$URL_APP")"
  GITEA_API="http://127.0.0.1:$(url_port "$URL_GITEA_NODEPORT")"
}

# load_credentials: the generated credentials (credentials.json, 0600, from platform-up.sh) into
# GITEA_USER/GITEA_PASSWORD, GUEST_USER/GUEST_PASSWORD, REGISTRY_USER/REGISTRY_PASSWORD.
load_credentials() {
  [ -s "$E2E_CREDENTIALS" ] || fail "no credentials at $E2E_CREDENTIALS (did platform-up.sh run?)"
  local values=() missing
  missing="$(jq -r '. as $root | [["giteaAdmin", "username"], ["giteaAdmin", "password"], ["argocdGuest", "username"], ["argocdGuest", "password"],
    ["registry", "username"], ["registry", "password"]] | map(. as $p | select((($root | getpath($p)) // "") == "") | join(".")) | join(", ")' "$E2E_CREDENTIALS")" \
    || fail "$E2E_CREDENTIALS is not JSON"
  [ -z "$missing" ] || fail "credentials.json has no $missing"
  # One value per line: the passwords are printable ASCII (README), so no newline inside one.
  mapfile -t values < <(jq -r '.giteaAdmin.username, .giteaAdmin.password, .argocdGuest.username, .argocdGuest.password, .registry.username, .registry.password' "$E2E_CREDENTIALS")
  [ "${#values[@]}" -eq 6 ] || fail "credentials.json: a value spans lines"
  GITEA_USER="${values[0]}" GITEA_PASSWORD="${values[1]}" GUEST_USER="${values[2]}"
  GUEST_PASSWORD="${values[3]}" REGISTRY_USER="${values[4]}" REGISTRY_PASSWORD="${values[5]}"
}

# prom PATH: GET a Prometheus path through the API server's Service proxy (Prometheus is not
# published on the gateway, issue 13); prints 200, or 000 when kubectl fails; body in $E2E_BODY.
prom() {
  if kubectl get --raw "/api/v1/namespaces/$E2E_MONITORING_NS/services/prometheus-server:80/proxy$1" --request-timeout=30s > "$E2E_BODY" 2>/dev/null; then
    printf 200
  else
    printf 000
  fi
}

# uri STRING: STRING percent-encoded for a query parameter.
uri() { jq -rn --arg s "$1" '$s | @uri'; }

# kjson NAMESPACE KIND NAME: the object as JSON, or 1 when kubectl fails.
kjson() { kubectl -n "$1" get "$2" "$3" -o json --request-timeout=30s 2>/dev/null; }
