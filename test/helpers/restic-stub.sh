#!/usr/bin/env bash
# The restic stand-in of the script tests (helpers/sandbox.ts): `cat config` exits $CAT_RC (10 = no
# repository, as restic >= 0.17) until `init` ran; `backup` copies its paths under $SNAPSHOT_ROOT;
# `dump ... SNAPSHOT PATH` prints a file of $SNAPSHOT_ROOT or, for a directory, a tar of it whose
# entries are named without the leading slash, as restic dump does; FAIL_<COMMAND>=<code> makes
# that command exit with it. The sandbox logs the argv before this body runs.
args=("$@")
while [ "${args[0]:-}" = "-o" ]; do args=("${args[@]:2}"); done
cmd="${args[0]:-}"
fail_var="FAIL_$(echo "$cmd" | tr '[:lower:]' '[:upper:]')"
if [ -n "${!fail_var:-}" ]; then
  echo "restic stub: $cmd fails" >&2
  exit "${!fail_var}"
fi
case "$cmd" in
  cat)
    if [ -f "$SNAPSHOT_ROOT/.initialised" ]; then echo '{}'; exit 0; fi
    exit "${CAT_RC:-0}" ;;
  init) mkdir -p "$SNAPSHOT_ROOT"; touch "$SNAPSHOT_ROOT/.initialised" ;;
  backup)
    skip=""
    for a in "${args[@]:1}"; do
      case "$a" in --host|--tag) skip=1; continue ;; esac
      if [ -n "$skip" ]; then skip=""; continue; fi
      mkdir -p "$SNAPSHOT_ROOT$(dirname "$a")"
      cp -a "$a" "$SNAPSHOT_ROOT$a"
    done ;;
  dump)
    p="${args[${#args[@]}-1]}"
    if [ -d "$SNAPSHOT_ROOT$p" ]; then
      tar -C "$SNAPSHOT_ROOT" -cf - "${p#/}"
      # A dump that breaks off after its data (a dropped connection): only the exit status tells.
      if [ -n "${DUMP_THEN_FAIL:-}" ]; then exit 1; fi
    elif [ -f "$SNAPSHOT_ROOT$p" ]; then
      cat "$SNAPSHOT_ROOT$p"
    else
      echo "restic stub: no $p" >&2
      exit 1
    fi ;;
  forget|snapshots) ;;
  *) echo "restic stub: unexpected $cmd" >&2; exit 99 ;;
esac
