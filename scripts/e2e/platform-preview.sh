#!/usr/bin/env bash
# The second `pulumi up` is empty: after the whole run (releases, a canary, an abort), a preview of
# the unchanged program has nothing to do (--expect-no-changes fails on any create, update, replace
# or delete, and --diff prints it).
# shellcheck disable=SC2034  # E2E_PROBE is read by lib.sh (fail)
set -euo pipefail
E2E_PROBE="no-changes"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

started="$(now)"
pulumi preview --expect-no-changes --diff --non-interactive --suppress-progress --stack "$E2E_STACK" \
  || fail "pulumi preview --expect-no-changes found changes: a second pulumi up would not be empty"
timing "pulumi preview of the deployed stack (expect no changes)" "$(( $(now) - started ))"
pass "no-changes" "pulumi preview --expect-no-changes: the second up is empty"
