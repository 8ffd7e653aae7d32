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
    line="$(grep "^$node|" "$state/nodes")"
    if [ -f "$state/upgraded-$node" ] && [ -z "${STUCK:-}" ]; then
      echo "${TARGET:?} True"
    else
      echo "$line" | awk -F'|' '{print $2, $4}'
    fi ;;
  *) ;;
esac
