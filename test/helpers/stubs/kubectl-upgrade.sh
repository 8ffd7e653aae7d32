#!/usr/bin/env bash
# kubectl as scripts/ops/upgrade-k3s.sh sees it (test/upgrade-k3s.test.ts): $STATE/nodes holds
# "name|version|control-plane label|Ready" lines, as the script's jsonpath prints them; a node reports $TARGET once $STATE/upgraded-<name>
# exists (the pulumi stub writes it), unless STUCK=1.
state="${STATE:?}"
args=" $* "
case "$args" in
  *" get nodes "*) cat "$state/nodes" ;;
  *" get node "*)
    node="$3"
    # API_DOWN_POLLS: the first polls after the upgrade find the API restarting.
    if [ -f "$state/upgraded-$node" ]; then
      n="$(cat "$state/down-$node" 2>/dev/null || echo 0)"
      echo $((n + 1)) > "$state/down-$node"
      if [ "$n" -lt "${API_DOWN_POLLS:-0}" ]; then echo "The connection to the server was refused" >&2; exit 1; fi
    fi
    line="$(grep "^$node|" "$state/nodes")"
    if [ -f "$state/upgraded-$node" ] && [ -z "${STUCK:-}" ]; then
      echo "${TARGET:?} True"
    else
      echo "$line" | awk -F'|' '{print $2, $4}'
    fi ;;
  *) ;;
esac
