#!/usr/bin/env bash
# `pulumi up` of the e2e stack (stacks/Pulumi.ci.yaml: the dev environment, k3d on the runner's
# Docker, sized to the runner) on a local file backend: no Pulumi Cloud account, the state lives in
# $E2E_DIR/state and is encrypted with PULUMI_CONFIG_PASSPHRASE. Then writes what the probes read:
# outputs.json (secrets hidden), and kubeconfig and credentials.json (0600, their values masked in
# the log). Records the time to platform.
# shellcheck disable=SC2034  # E2E_PROBE is read by lib.sh (fail)
set -euo pipefail
E2E_PROBE="platform-up"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

: "${PULUMI_CONFIG_PASSPHRASE:?PULUMI_CONFIG_PASSPHRASE is required (the workflow sets it)}"
mkdir -p "${PULUMI_BACKEND_URL#file://}"
pulumi login "$PULUMI_BACKEND_URL" >/dev/null || fail "pulumi login $PULUMI_BACKEND_URL failed"
pulumi stack select --create "$E2E_STACK" --non-interactive || fail "pulumi stack select --create $E2E_STACK failed"

now > "$E2E_DIR/up-started"
started="$(now)"
pulumi up --yes --skip-preview --non-interactive --suppress-progress --stack "$E2E_STACK" || fail "pulumi up failed after $(( $(now) - started ))s"
took=$(( $(now) - started ))
timing "time to platform: pulumi up (k3d cluster and every component)" "$took"

pulumi stack output --json --stack "$E2E_STACK" > "$E2E_OUTPUTS" || fail "pulumi stack output failed"
(
  umask 077
  pulumi stack output kubeconfig --show-secrets --stack "$E2E_STACK" > "$E2E_DIR/kubeconfig"
  pulumi stack output credentials --show-secrets --json --stack "$E2E_STACK" > "$E2E_CREDENTIALS"
) || fail "reading the kubeconfig and credentials outputs failed"
jq -e '.giteaAdmin.password and .argocdGuest.password and .registry.password' "$E2E_CREDENTIALS" >/dev/null \
  || fail "the credentials output lacks a password"
if [ "${GITHUB_ACTIONS:-}" = true ]; then
  # The runner masks these in every later log line.
  jq -r '.. | objects | .password? // empty' "$E2E_CREDENTIALS" | while IFS= read -r secret; do printf '::add-mask::%s\n' "$secret"; done
  # And the kubeconfig's credential (the ServiceAccount token; a client key on older stacks).
  sed -n 's/^ *\(token\|client-key-data\): *//p' "$E2E_DIR/kubeconfig" | while IFS= read -r secret; do printf '::add-mask::%s\n' "$secret"; done
fi
[ -n "${GITHUB_ENV:-}" ] && printf 'KUBECONFIG=%s\n' "$E2E_DIR/kubeconfig" >> "$GITHUB_ENV"
export KUBECONFIG="$E2E_DIR/kubeconfig"
kubectl get nodes -o wide --request-timeout=30s >&2 || fail "the kubeconfig output does not reach the cluster"
pass "platform-up" "pulumi up of stack $E2E_STACK ($(jq -r '.environment' "$E2E_OUTPUTS")) in ${took}s"
