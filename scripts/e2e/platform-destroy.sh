#!/usr/bin/env bash
# `pulumi destroy` of the e2e stack (the k3d cluster goes last, through k3d-down.sh). Runs whatever
# happened before (the workflow's `if: always()`); a stack that was never created is not an error.
# shellcheck disable=SC2034  # E2E_PROBE is read by lib.sh (fail)
set -euo pipefail
E2E_PROBE="destroy"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

if ! pulumi stack select "$E2E_STACK" --non-interactive >/dev/null 2>&1; then
  log "no stack $E2E_STACK: nothing to destroy"
  exit 0
fi
started="$(now)"
pulumi destroy --yes --skip-preview --non-interactive --suppress-progress --stack "$E2E_STACK" \
  || fail "pulumi destroy failed after $(( $(now) - started ))s"
timing "pulumi destroy" "$(( $(now) - started ))"
pass "destroy" "pulumi destroy removed stack $E2E_STACK's resources"
