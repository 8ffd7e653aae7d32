#!/usr/bin/env bash
# Requests to the sample app through the gateway while a canary runs, so the analysis judges real
# evidence (with no traffic its query is empty and passes, PM-26). One status code per line in OUT.
# Bounded: stops by itself after MAX_SECONDS; delivery-loop.sh also kills it when it is done.
# Usage: traffic.sh URL HOST OUT [MAX_SECONDS] [INTERVAL] [CURL ARGS...]
set -euo pipefail
url="${1:?URL}" host="${2:?HOST}" out="${3:?OUT}"
max="${4:-1800}" interval="${5:-0.2}"
# Further arguments go to curl (the gateway's --connect-to and --cacert, lib.sh GW_CURL).
shift $(( $# < 5 ? $# : 5 ))
end=$(( $(date +%s) + max ))
while [ "$(date +%s)" -lt "$end" ]; do
  code="$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 5 -H "Host: $host" "$@" "$url" 2>/dev/null)" || true
  printf '%s\n' "${code:-000}" >> "$out"
  sleep "$interval"
done
