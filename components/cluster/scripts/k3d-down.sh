#!/usr/bin/env bash
# Deletes the dev k3d cluster on `pulumi destroy` (and before a replacement). A cluster that is
# really gone is not an error; one that cannot be looked at (no k3d, Docker not running) is: the
# command fails, so the state keeps the cluster and the next destroy tries again, instead of
# forgetting a cluster that still runs.
set -euo pipefail
: "${K3D_CLUSTER:?K3D_CLUSTER is required}"
if ! command -v k3d >/dev/null 2>&1; then
  echo "k3d-down: k3d is not installed, so cluster $K3D_CLUSTER cannot be deleted; install k3d (https://k3d.io) and run pulumi destroy again" >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "k3d-down: the Docker engine is not running (docker info failed), so cluster $K3D_CLUSTER cannot be deleted; start Docker and run pulumi destroy again. If the cluster is gone for good (Docker reset), remove it from the state: pulumi state delete <the k3d-cluster URN from pulumi stack --show-urns>" >&2
  exit 1
fi
if k3d cluster get "$K3D_CLUSTER" >/dev/null 2>&1; then
  k3d cluster delete "$K3D_CLUSTER"
else
  echo "k3d-down: cluster $K3D_CLUSTER not found; nothing to delete"
fi
