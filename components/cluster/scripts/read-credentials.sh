#!/usr/bin/env bash
# Prints what the stack authenticates with, as one JSON object on stdout: the cluster CA (as in the
# admin kubeconfig's certificate-authority-data) and the ServiceAccount token the install created.
# Run once per cluster (see cluster/kubeconfig.ts); nothing else goes to stdout.
# Inputs (environment): PULUMI_NAMESPACE, PULUMI_TOKEN_SECRET; K3S_KUBECONFIG (default
# /etc/rancher/k3s/k3s.yaml) and TOKEN_WAIT_SECONDS (default 120) and TOKEN_POLL_SECONDS (default 2) for tests.
set -euo pipefail

: "${PULUMI_NAMESPACE:?PULUMI_NAMESPACE is required}"
: "${PULUMI_TOKEN_SECRET:?PULUMI_TOKEN_SECRET is required}"
kubeconfig="${K3S_KUBECONFIG:-/etc/rancher/k3s/k3s.yaml}"
wait_seconds="${TOKEN_WAIT_SECONDS:-120}"
poll_seconds="${TOKEN_POLL_SECONDS:-2}"

ca="$(sed -n 's/^ *certificate-authority-data: *//p' "$kubeconfig" | head -n 1)"
if [ -z "$ca" ]; then
  echo "read-credentials: no certificate-authority-data in $kubeconfig" >&2
  exit 1
fi

# The token controller fills the Secret a moment after it is created.
token=""
deadline=$((SECONDS + wait_seconds))
while :; do
  token="$(k3s kubectl -n "$PULUMI_NAMESPACE" get secret "$PULUMI_TOKEN_SECRET" -o 'jsonpath={.data.token}' 2>/dev/null | base64 -d || true)"
  [ -n "$token" ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "read-credentials: Secret $PULUMI_NAMESPACE/$PULUMI_TOKEN_SECRET has no token after ${wait_seconds}s" >&2
    exit 1
  fi
  sleep "$poll_seconds"
done

printf '{"caData":"%s","token":"%s"}\n' "$ca" "$token"
