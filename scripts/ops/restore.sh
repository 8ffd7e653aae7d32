#!/usr/bin/env bash
# Restores one component (or all of them) from its restic repository, on the cluster the current
# kubeconfig points at: stop the writer, run the component's restore template (a suspended CronJob
# the stack renders, components/backup/jobs.ts) as a Job, wait, start the writer again. Step by step,
# and rebuilding a lost node: docs/restore.md.
#
#   scripts/ops/restore.sh gitea|registry|postgres|k3s|all [--snapshot ID] [--ssh USER@HOST] [--yes]
#
#   --snapshot ID   a restic snapshot ID (default: the latest of this stack and component)
#   --ssh USER@HOST k3s only: swap the staged datastore in on the server (otherwise printed)
#   --yes           do not ask (the restore replaces what is there now)
# Environment: KUBECTL (default kubectl), SSH (default ssh), RESTORE_TIMEOUT seconds (default 3600),
# POLL_SECONDS (default 5), RESTORE_STAMP (Job name suffix; default the UTC time).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
kubectl="${KUBECTL:-kubectl}"
ssh_cmd="${SSH:-ssh}"
timeout="${RESTORE_TIMEOUT:-3600}"
poll="${POLL_SECONDS:-5}"
stamp="${RESTORE_STAMP:-$(date -u +%Y%m%d%H%M%S)}"

usage() {
  sed -n '7,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() {
  echo "restore: $*" >&2
  exit 1
}

[ "$#" -ge 1 ] || usage
what="$1"
shift
snapshot=""
ssh_target=""
yes=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --snapshot) [ -n "${2:-}" ] || usage; snapshot="$2"; shift 2 ;;
    --ssh) [ -n "${2:-}" ] || usage; ssh_target="$2"; shift 2 ;;
    --yes) yes=1; shift ;;
    *) usage ;;
  esac
done
case "$what" in
  gitea|registry|postgres|k3s) components=("$what") ;;
  # The datastore only on request: after a rebuild, Pulumi and Argo CD recreate every object.
  all) components=(gitea registry postgres) ;;
  *) usage ;;
esac
if [ -n "$snapshot" ] && [ "${#components[@]}" -ne 1 ]; then
  die "--snapshot names one snapshot of one component; restore them one at a time"
fi
if [ -n "$snapshot" ] && ! [[ "$snapshot" =~ ^([0-9a-f]{8,64}|latest)$ ]]; then
  die "--snapshot must be a restic snapshot ID (hex) or latest, got \"$snapshot\""
fi

# Per component: namespace, the workload that writes the data (kind/name, its pods' labels).
namespace_of() {
  case "$1" in gitea) echo gitea ;; registry) echo registry ;; postgres) echo sample-app ;; k3s) echo backup ;; esac
}
writer_of() {
  case "$1" in
    gitea) echo "deployment/gitea-chart app.kubernetes.io/name=gitea,app.kubernetes.io/instance=gitea-chart" ;;
    registry) echo "deployment/registry app.kubernetes.io/name=registry" ;;
    *) echo "" ;;
  esac
}

context="$("$kubectl" config current-context 2>/dev/null || echo "?")"
echo "restore: ${components[*]} on the cluster of context \"$context\"${snapshot:+, snapshot $snapshot}"
if [ "$yes" -ne 1 ]; then
  [ -t 0 ] || die "not a terminal: pass --yes to confirm that the restore replaces the current data"
  read -r -p "This replaces the current data of ${components[*]}. Type yes to go on: " answer
  [ "$answer" = "yes" ] || die "not confirmed"
fi

# Waits for a Job to succeed; prints its logs either way.
wait_job() {
  local ns="$1" job="$2" status deadline=$((SECONDS + timeout))
  while :; do
    status="$("$kubectl" -n "$ns" get "job/$job" -o 'jsonpath={.status.succeeded}/{.status.failed}')"
    case "$status" in
      1/*) break ;;
      */[1-9]*)
        "$kubectl" -n "$ns" logs "job/$job" --all-containers --prefix >&2 || true
        die "job $ns/$job failed" ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || die "job $ns/$job did not finish within ${timeout}s"
    sleep "$poll"
  done
  "$kubectl" -n "$ns" logs "job/$job" --all-containers --prefix || true
}

restore_one() {
  local c="$1" ns writer kind_name labels job
  ns="$(namespace_of "$c")"
  writer="$(writer_of "$c")"
  "$kubectl" -n "$ns" get "cronjob/restore-$c" > /dev/null || die "no cronjob/restore-$c in $ns: run pulumi up first (docs/restore.md)"
  # The snapshot choice travels in a ConfigMap the template reads (optional: absent means latest).
  if [ -n "$snapshot" ]; then
    "$kubectl" -n "$ns" create configmap backup-restore --from-literal="SNAPSHOT=$snapshot" --dry-run=client -o yaml | "$kubectl" apply -f -
  else
    "$kubectl" -n "$ns" delete configmap backup-restore --ignore-not-found
  fi
  if [ -n "$writer" ]; then
    kind_name="${writer%% *}"
    labels="${writer#* }"
    echo "restore: stopping $ns/$kind_name"
    "$kubectl" -n "$ns" scale "$kind_name" --replicas=0
    # `kubectl wait` fails when nothing matches (already stopped, e.g. a second attempt).
    if [ -n "$("$kubectl" -n "$ns" get pod -l "$labels" -o name)" ]; then
      "$kubectl" -n "$ns" wait --for=delete pod -l "$labels" --timeout=300s
    fi
  fi
  job="restore-$c-$stamp"
  "$kubectl" -n "$ns" create job "$job" --from="cronjob/restore-$c"
  wait_job "$ns" "$job"
  "$kubectl" -n "$ns" delete configmap backup-restore --ignore-not-found
  if [ -n "$writer" ]; then
    echo "restore: starting $ns/$kind_name"
    "$kubectl" -n "$ns" scale "$kind_name" --replicas=1
    "$kubectl" -n "$ns" rollout status "$kind_name" --timeout=600s
  fi
  case "$c" in
    gitea)
      # Hooks carry the binary's path; regenerate them as Gitea's docs ask after a restore.
      "$kubectl" -n "$ns" exec "$kind_name" -c gitea -- gitea admin regenerate hooks ;;
    k3s)
      if [ -n "$ssh_target" ]; then
        echo "restore: swapping the staged datastore in on $ssh_target (K3s restarts)"
        "$ssh_cmd" "$ssh_target" sudo -n bash -s < "$repo/components/backup/scripts/k3s-swap-datastore.sh"
      else
        echo "restore: the datastore is staged in /var/lib/rancher/k3s/server/db-restore on the server; to swap it in (K3s restarts):"
        echo "  ssh USER@SERVER sudo bash -s < components/backup/scripts/k3s-swap-datastore.sh"
      fi ;;
  esac
  echo "restore: $c done"
}

for c in "${components[@]}"; do
  restore_one "$c"
done
