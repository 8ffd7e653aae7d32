#!/usr/bin/env bash
# pulumi as scripts/ops/upgrade-k3s.sh sees it: `stack export` prints the URNs of $STATE/urns;
# `up --target URN` marks the node of that install command upgraded (k3s-server -> $SERVER).
state="${STATE:?}"
case "$1 $2" in
  "stack export")
    printf '{"deployment": {"resources": [\n'
    sed 's/.*/  {"urn": "&", "type": "command:remote:Command"},/' "$state/urns"
    printf '  {"urn": "urn:pulumi:homelab::gitops-platform::pulumi:pulumi:Stack::gitops-platform-homelab"}\n]}}\n' ;;
  "up --yes")
    urn="${*: -1}"
    name="${urn##*::k3s-}"
    [ "$name" = "server" ] && name="${SERVER:?}"
    touch "$state/upgraded-$name" ;;
esac
