#!/usr/bin/env bash
# Deletes the dev k3d cluster on `pulumi destroy`. A cluster that is already gone is not an error.
set -euo pipefail
: "${K3D_CLUSTER:?K3D_CLUSTER is required}"
if command -v k3d >/dev/null 2>&1 && k3d cluster get "$K3D_CLUSTER" >/dev/null 2>&1; then
  k3d cluster delete "$K3D_CLUSTER"
else
  echo "k3d-down: cluster $K3D_CLUSTER not found; nothing to delete"
fi
