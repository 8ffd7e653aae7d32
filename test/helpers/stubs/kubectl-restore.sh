#!/usr/bin/env bash
# kubectl as scripts/ops/restore.sh sees it (test/restore.test.ts): the restore Job reports
# succeeded after $JOB_POLLS polls, or failed with JOB_RESULT=failed; MISSING_CRONJOB=1 hides the
# templates; NO_PODS=1 lists no writer pods; the manifest `apply -f -` reads is saved to
# $STATE/applied.yaml.
state="${STATE:?}"
args=" $* "
case "$args" in
  *" config current-context "*) echo "homelab" ;;
  *" get cronjob/restore-"*) [ -z "${MISSING_CRONJOB:-}" ] || { echo 'Error from server (NotFound): cronjobs.batch "restore-x" not found' >&2; exit 1; } ;;
  *" create configmap "*"--dry-run=client"*) printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: backup-restore\ndata:\n  SNAPSHOT: %s\n' "$(printf '%s\n' "$@" | sed -n 's/^--from-literal=SNAPSHOT=//p')" ;;
  *" apply -f - "*) cat > "$state/applied.yaml" ;;
  *" get job/"*)
    n="$(cat "$state/polls" 2>/dev/null || echo 0)"
    echo $((n + 1)) > "$state/polls"
    if [ "$n" -lt "${JOB_POLLS:-2}" ]; then echo "/"; elif [ "${JOB_RESULT:-}" = "failed" ]; then echo "/1"; else echo "1/"; fi ;;
  *" get pod -l "*) [ -n "${NO_PODS:-}" ] || echo "pod/writer-0" ;;
  *" logs "*) echo "restore-gitea: restored snapshot latest: 1 repositories" ;;
  *) ;;
esac
