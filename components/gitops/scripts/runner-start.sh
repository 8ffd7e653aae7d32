#!/usr/bin/env bash
# act_runner's entry (before the image's run.sh), registered for one scope only (RUNNER_SCOPE,
# e.g. "org:platform"; issue 14):
#  - a registration (/data/.runner) made for another scope, e.g. the instance-wide one of a stack
#    built before, is removed, so run.sh registers again with the organisation's token;
#  - without a registration, waits (bounded) for the token file the bootstrap Job writes (a
#    Secret volume, optional: kubelet fills it in when the Secret appears), then hands over to
#    run.sh, which registers only while /data/.runner is missing (PM-10);
#  - with one, starts at once: a restarted pod never needs the token again.
set -euo pipefail

: "${RUNNER_SCOPE:?}" "${GITEA_RUNNER_REGISTRATION_TOKEN_FILE:?}"
DATA="${RUNNER_DATA:-/data}"
STATE="$DATA/${RUNNER_STATE_FILE:-.runner}"
SCOPE_FILE="$DATA/.runner-scope"
WAIT_SECONDS="${WAIT_SECONDS:-900}"
WAIT_INTERVAL="${WAIT_INTERVAL:-5}"
RUN_SH="${RUN_SH:-run.sh}"

log() { printf 'runner-start: %s\n' "$*" >&2; }

recorded="$(cat "$SCOPE_FILE" 2>/dev/null || true)"
if [ -e "$STATE" ] && [ "$recorded" != "$RUNNER_SCOPE" ]; then
  log "the registration in $STATE is for '${recorded:-unknown (instance-wide)}', not '$RUNNER_SCOPE': registering again"
  rm -f "$STATE"
fi

if [ ! -s "$STATE" ]; then
  deadline=$(( $(date +%s) + WAIT_SECONDS ))
  until [ -s "$GITEA_RUNNER_REGISTRATION_TOKEN_FILE" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "ERROR: no registration token in $GITEA_RUNNER_REGISTRATION_TOKEN_FILE after ${WAIT_SECONDS}s (the bootstrap Job writes it)"
      exit 1
    fi
    log "waiting for the registration token"
    sleep "$WAIT_INTERVAL"
  done
fi

# Written before run.sh registers: the only token it can use is the file's, of this scope.
printf '%s\n' "$RUNNER_SCOPE" > "$SCOPE_FILE"
cd "$DATA"
exec "$RUN_SH"
