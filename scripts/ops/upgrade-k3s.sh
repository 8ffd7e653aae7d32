#!/usr/bin/env bash
# Upgrades K3s on a live cluster to the version pinned in components/lib/versions.ts (Renovate
# proposes the bump; this applies it node by node). Servers first, one at a time, then agents, as
# docs.k3s.io/upgrades/manual asks; one minor version at a time (Kubernetes version skew policy).
# Each node is upgraded by the stack's own install script, through Pulumi: `pulumi up --target` of
# that node's K3s command runs install-k3s.sh, which runs the tagged install.sh with the new
# INSTALL_K3S_VERSION. So the pin stays the one source of truth and the next full `pulumi up`
# finds every node current. With more than one node each is drained first and uncordoned after; a
# single node is not drained (its pods would have nowhere to go; K3s keeps containers running
# while its service restarts, docs.k3s.io/upgrades/killall). A datastore backup runs first.
#
#   scripts/ops/upgrade-k3s.sh [--dry-run] [--no-backup]
#
# Environment: KUBECTL (kubectl), PULUMI (pulumi; logged in, stack selected), K3S_VERSION (overrides
# the pin), UPGRADE_TIMEOUT seconds per node (900), POLL_SECONDS (5), UPGRADE_STAMP (Job suffix).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
kubectl="${KUBECTL:-kubectl}"
pulumi="${PULUMI:-pulumi}"
timeout="${UPGRADE_TIMEOUT:-900}"
poll="${POLL_SECONDS:-5}"
stamp="${UPGRADE_STAMP:-$(date -u +%Y%m%d%H%M%S)}"
dry=0
backup=1
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry=1 ;;
    --no-backup) backup=0 ;;
    *) echo "usage: $0 [--dry-run] [--no-backup]" >&2; exit 2 ;;
  esac
done

die() {
  echo "upgrade-k3s: $*" >&2
  exit 1
}
run() {
  echo "+ $*"
  if [ "$dry" -eq 0 ]; then "$@"; fi
}

target="${K3S_VERSION:-$(sed -n 's/^ *k3s: "\(v[^"]*\)",.*/\1/p' "$repo/components/lib/versions.ts")}"
[[ "$target" =~ ^v1\.([0-9]+)\.([0-9]+)\+k3s([0-9]+)$ ]] || die "no K3s version like v1.35.9+k3s1 in components/lib/versions.ts (got \"$target\")"
target_minor="${BASH_REMATCH[1]}"

# name|version|control-plane label|Ready, per node ("|": an agent's empty label stays a field).
mapfile -t nodes < <("$kubectl" get nodes -o 'jsonpath={range .items[*]}{.metadata.name}|{.status.nodeInfo.kubeletVersion}|{.metadata.labels.node-role\.kubernetes\.io/control-plane}|{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
[ "${#nodes[@]}" -gt 0 ] || die "kubectl lists no nodes: is KUBECONFIG the stack's (pulumi stack output kubeconfig --show-secrets)?"

servers=()
agents=()
for line in "${nodes[@]}"; do
  IFS='|' read -r name version role ready <<< "$line"
  [ "$ready" = "True" ] || die "node $name is not Ready: fix it before upgrading"
  case "$name" in k3d-*) die "node $name is a k3d node: on dev, pulumi up recreates the k3d cluster with the new image" ;; esac
  [[ "$version" =~ ^v1\.([0-9]+)\.([0-9]+)\+k3s([0-9]+)$ ]] || die "node $name runs \"$version\", not a K3s version"
  minor="${BASH_REMATCH[1]}"
  if [ "$version" = "$target" ]; then
    echo "upgrade-k3s: $name already runs $target"
    continue
  fi
  newest="$(printf '%s\n%s\n' "${version#v}" "${target#v}" | sort -V | tail -n 1)"
  [ "$newest" = "${target#v}" ] || die "node $name runs $version, newer than $target: downgrades are not supported"
  [ $((target_minor - minor)) -le 1 ] || die "node $name runs $version: upgrade one minor version at a time (v1.$((minor + 1)).x first)"
  if [ "$role" = "true" ]; then servers+=("$name"); else agents+=("$name"); fi
done
todo=("${servers[@]}" "${agents[@]}")
if [ "${#todo[@]}" -eq 0 ]; then
  echo "upgrade-k3s: every node runs $target; nothing to do"
  exit 0
fi
echo "upgrade-k3s: $target on ${todo[*]} (servers first)"

# The URN of a node's install command, from the stack's state: k3s-server, or k3s-<agent name>.
stack_state="$("$pulumi" stack export)"
urn_of() {
  local node="$1" resource="k3s-$1" urn
  for s in "${servers[@]}"; do [ "$s" = "$node" ] && resource="k3s-server"; done
  urn="$(grep -o "\"urn\": *\"[^\"]*command:remote:Command::$resource\"" <<< "$stack_state" | head -n 1 | sed 's/.*"urn": *"\([^"]*\)"/\1/')"
  [ -n "$urn" ] || die "no command:remote:Command::$resource in the stack's state (pulumi stack export)"
  echo "$urn"
}

wait_node() {
  local node="$1" state deadline=$((SECONDS + timeout))
  while :; do
    # The API is down while a server restarts: a failed call is one more poll, not the end.
    state="$("$kubectl" get node "$node" -o 'jsonpath={.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)"
    [ "$state" = "$target True" ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || die "node $node is \"$state\" after ${timeout}s, expected \"$target True\""
    sleep "$poll"
  done
}

if [ "$backup" -eq 1 ]; then
  echo "upgrade-k3s: backing up the datastore first"
  run "$kubectl" -n backup create job "pre-upgrade-$stamp" --from=cronjob/backup-k3s
  if [ "$dry" -eq 0 ]; then
    run "$kubectl" -n backup wait --for=condition=complete "job/pre-upgrade-$stamp" --timeout="${timeout}s"
  fi
fi

multi=0
[ "${#nodes[@]}" -gt 1 ] && multi=1
for node in "${todo[@]}"; do
  urn="$(urn_of "$node")"
  if [ "$multi" -eq 1 ]; then
    run "$kubectl" drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout="${timeout}s"
  fi
  run "$pulumi" up --yes --skip-preview --target "$urn"
  if [ "$dry" -eq 0 ]; then wait_node "$node"; fi
  if [ "$multi" -eq 1 ]; then
    run "$kubectl" uncordon "$node"
  fi
  echo "upgrade-k3s: $node runs $target"
done
echo "upgrade-k3s: done; run pulumi up once more (it finds every node current and re-reads the kubeconfig)"
