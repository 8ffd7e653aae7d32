#!/usr/bin/env bash
# Whether the live `pulumi preview --diff` of one stack runs here. It needs the stack's Kubernetes
# API (a helm v4 Chart's construct fails when the cluster is unreachable: oci allows 6443 from
# adminCidr only, homelab sits on a LAN, dev on 127.0.0.1), so it runs only for the stacks named
# in the repository variable PREVIEW_STACKS, and only with the secrets that stack needs. Otherwise
# it says why (a notice on GitHub, a line on Gitea) and writes ready=false.
#   STACK=oci PREVIEW_STACKS="oci dev" PULUMI_ACCESS_TOKEN=… bash scripts/preview-gate.sh
set -euo pipefail
: "${STACK:?STACK: the stack to preview}" "${GITHUB_OUTPUT:?GITHUB_OUTPUT: the step output file}"

skip() {
  if [ "${GITEA_ACTIONS:-}" = "true" ]; then
    echo "preview of stack $STACK skipped: $1"
  else
    echo "::notice title=preview skipped::stack $STACK skipped: $1"
  fi
  echo "ready=false" >>"$GITHUB_OUTPUT"
  exit 0
}

IFS=', ' read -r -a listed <<<"${PREVIEW_STACKS:-}"
found=false
for s in "${listed[@]}"; do
  if [ "$s" = "$STACK" ]; then found=true; fi
done
if [ "$found" != true ]; then
  skip "not in the repository variable PREVIEW_STACKS (\"${PREVIEW_STACKS:-}\"); list there the stacks whose Kubernetes API this runner reaches"
fi

required=(PULUMI_ACCESS_TOKEN)
# @pulumi/oci reads these (Pulumi registry: OCI installation & configuration).
if [ "$STACK" = "oci" ]; then
  required+=(TF_VAR_tenancy_ocid TF_VAR_user_ocid TF_VAR_fingerprint TF_VAR_private_key TF_VAR_region)
fi
missing=()
for name in "${required[@]}"; do
  if [ -z "${!name:-}" ]; then missing+=("$name"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  skip "repository secret(s) not set: ${missing[*]}"
fi
echo "ready=true" >>"$GITHUB_OUTPUT"
