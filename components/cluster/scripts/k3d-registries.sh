#!/usr/bin/env bash
# Brings a new registries.yaml (a rotated registry password, a moved mirror) to the nodes of a
# running dev k3d cluster and restarts it so containerd reads it. k3d writes registries.yaml only
# when it creates a cluster (pkg/client/cluster.go, a PreStart hook) and cannot edit it later, so
# without this a rotation would mean recreating the cluster. Nodes whose file already matches are
# left alone; nothing restarts when none changed.
# Inputs (environment): K3D_CLUSTER, REGISTRIES_B64 (base64 of registries.yaml).
set -euo pipefail
: "${K3D_CLUSTER:?K3D_CLUSTER is required}"
: "${REGISTRIES_B64:?REGISTRIES_B64 is required}"
path=/etc/rancher/k3s/registries.yaml

command -v docker >/dev/null 2>&1 || { echo "k3d-registries: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "k3d-registries: the Docker engine is not running (docker info failed)" >&2; exit 1; }

wanted="$(printf '%s' "$REGISTRIES_B64" | base64 -d)"
nodes="$(docker ps --filter "label=k3d.cluster=$K3D_CLUSTER" --format '{{.Names}} {{.Label "k3d.role"}}' | awk '$2 == "server" || $2 == "agent" {print $1}')"
[ -n "$nodes" ] || { echo "k3d-registries: no running nodes of cluster $K3D_CLUSTER" >&2; exit 1; }

changed=0
for node in $nodes; do
  current="$(docker exec "$node" cat "$path" 2>/dev/null || true)"
  if [ "$current" != "$wanted" ]; then
    printf '%s\n' "$wanted" | docker exec -i "$node" sh -c "cat > $path.new && chmod 0600 $path.new && mv $path.new $path"
    echo "k3d-registries: wrote $path on $node" >&2
    changed=1
  fi
done

if [ "$changed" -eq 1 ]; then
  # stop + start (not docker restart): k3d's start hooks re-add host.k3d.internal and wait for the servers.
  echo "k3d-registries: restarting cluster $K3D_CLUSTER so containerd reads the new registries.yaml" >&2
  k3d cluster stop "$K3D_CLUSTER" >&2
  k3d cluster start "$K3D_CLUSTER" --wait >&2
else
  echo "k3d-registries: registries.yaml already current on every node" >&2
fi
