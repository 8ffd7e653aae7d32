#!/usr/bin/env bash
# Lints every shell script the repository ships (and .ci/run) at warning level.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v shellcheck >/dev/null 2>&1 || { echo "shellcheck is not installed: apt-get install -y shellcheck" >&2; exit 1; }
git ls-files -z '*.sh' | xargs -0 shellcheck -S warning
shellcheck -S warning .ci/run
echo "shellcheck: clean"
