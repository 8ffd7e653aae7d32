#!/usr/bin/env bash
# Creates the dev k3d cluster from a config file (unless it exists), gives the stack its
# ServiceAccount token, and prints what the stack authenticates with as one JSON object on stdout:
# the cluster CA and that token (see cluster/kubeconfig.ts). Progress goes to stderr.
# Inputs (environment): K3D_CLUSTER, K3D_CONFIG_B64 (base64 of the k3d.io/v1alpha5 Simple config),
# K3D_VERSION (the version the stack was tested with), PULUMI_ACCESS_B64 (the ServiceAccount,
# binding and token Secret), PULUMI_NAMESPACE, PULUMI_TOKEN_SECRET; TOKEN_WAIT_SECONDS and TOKEN_POLL_SECONDS for tests.
set -euo pipefail

: "${K3D_CLUSTER:?K3D_CLUSTER is required}"
: "${K3D_CONFIG_B64:?K3D_CONFIG_B64 is required}"
: "${PULUMI_ACCESS_B64:?PULUMI_ACCESS_B64 is required}"
: "${PULUMI_NAMESPACE:?PULUMI_NAMESPACE is required}"
: "${PULUMI_TOKEN_SECRET:?PULUMI_TOKEN_SECRET is required}"
expected="${K3D_VERSION:-}"
wait_seconds="${TOKEN_WAIT_SECONDS:-120}"
poll_seconds="${TOKEN_POLL_SECONDS:-2}"

command -v docker >/dev/null 2>&1 || { echo "k3d-up: docker is not installed; the dev stack needs Docker" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "k3d-up: the Docker engine is not running (docker info failed)" >&2; exit 1; }
command -v k3d >/dev/null 2>&1 || { echo "k3d-up: k3d is not installed; install ${expected:-k3d v5} from https://k3d.io" >&2; exit 1; }

found="$(k3d version | awk '/^k3d version/ {print $3}')"
if [ -n "$expected" ] && [ "${found%%.*}" != "${expected%%.*}" ]; then
  echo "k3d-up: k3d $found is installed but the config schema needs ${expected%%.*}.x (tested with $expected)" >&2
  exit 1
fi
[ -n "$expected" ] && [ "$found" != "$expected" ] && echo "k3d-up: note: k3d $found installed, tested with $expected" >&2

if k3d cluster get "$K3D_CLUSTER" >/dev/null 2>&1; then
  echo "k3d-up: cluster $K3D_CLUSTER exists; nothing to create" >&2
else
  config="$(mktemp)"
  trap 'rm -f "$config"' EXIT
  printf '%s' "$K3D_CONFIG_B64" | base64 -d > "$config"
  k3d cluster create --config "$config" --wait >&2
fi

server="k3d-${K3D_CLUSTER}-server-0"
printf '%s' "$PULUMI_ACCESS_B64" | base64 -d \
  | docker exec -i "$server" kubectl apply --server-side --force-conflicts --field-manager=platform-install -f - >&2

ca="$(k3d kubeconfig get "$K3D_CLUSTER" | sed -n 's/^ *certificate-authority-data: *//p' | head -n 1)"
[ -n "$ca" ] || { echo "k3d-up: no certificate-authority-data in k3d's kubeconfig for $K3D_CLUSTER" >&2; exit 1; }

token=""
deadline=$((SECONDS + wait_seconds))
while :; do
  token="$(docker exec "$server" kubectl -n "$PULUMI_NAMESPACE" get secret "$PULUMI_TOKEN_SECRET" -o 'jsonpath={.data.token}' 2>/dev/null | base64 -d || true)"
  [ -n "$token" ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "k3d-up: Secret $PULUMI_NAMESPACE/$PULUMI_TOKEN_SECRET has no token after ${wait_seconds}s" >&2
    exit 1
  fi
  sleep "$poll_seconds"
done

printf '{"caData":"%s","token":"%s"}\n' "$ca" "$token"
