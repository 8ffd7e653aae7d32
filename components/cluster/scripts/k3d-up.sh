#!/usr/bin/env bash
# Creates the dev k3d cluster from a config file (unless it exists) and prints its kubeconfig on stdout.
# Inputs (environment): K3D_CLUSTER, K3D_CONFIG_B64 (base64 of the k3d.io/v1alpha5 Simple config),
# K3D_VERSION (the version the stack was tested with). Progress goes to stderr; stdout is the kubeconfig.
set -euo pipefail

: "${K3D_CLUSTER:?K3D_CLUSTER is required}"
: "${K3D_CONFIG_B64:?K3D_CONFIG_B64 is required}"
expected="${K3D_VERSION:-}"

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

k3d kubeconfig get "$K3D_CLUSTER"
