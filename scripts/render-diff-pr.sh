#!/usr/bin/env bash
# A pull request's render diff, offline: renders its merge base and its head with `npm run render`
# (Pulumi mocks: no credentials, no cluster) and writes the difference as Markdown with the head's
# scripts/render-diff.ts. Run from the head's checkout, with the base commit in its history.
#   BASE_REV=<commit or ref> [OUT=render-diff.md] bash scripts/render-diff-pr.sh
# The comment is written even when a side does not render; the exit status is the head's render.
set -euo pipefail
: "${BASE_REV:?BASE_REV: the pull request base (a commit or a ref)}"
root="$(git rev-parse --show-toplevel)"
cd "$root"
out="${OUT:-render-diff.md}"
head="$(git rev-parse HEAD)"
# The merge base, not the base branch's tip: the diff shows what this pull request changes.
if ! base="$(git merge-base "$BASE_REV" "$head")"; then
  echo "no merge base between $BASE_REV and $head: is the history complete (fetch-depth: 0)?" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach -q "$work/base" "$base"

npm ci --no-audit --no-fund
# The same lock file: the base shares the head's node_modules instead of a second install.
if git diff --quiet "$base" "$head" -- package.json package-lock.json; then
  ln -s "$root/node_modules" "$work/base/node_modules"
else
  (cd "$work/base" && npm ci --no-audit --no-fund)
fi

# A stale out/ would stand in for a stack that failed to render.
rm -rf "$root/out"
head_status=0
npm run render >"$work/head.log" 2>&1 || head_status=$?
base_status=0
(cd "$work/base" && npm run render) >"$work/base.log" 2>&1 || base_status=$?
echo "head render (exit $head_status):"; cat "$work/head.log"
echo "base render (exit $base_status):"; cat "$work/base.log"

args=("$work/base/out" "$root/out" --out "$out" --full "$work/full.md" --base-label "${base:0:12} (merge base)" --head-label "${head:0:12}")
if [ "$head_status" -ne 0 ]; then args+=(--head-error "$work/head.log"); fi
if [ "$base_status" -ne 0 ]; then args+=(--base-error "$work/base.log"); fi
npm run --silent render:diff -- "${args[@]}"
# The job log gets the whole diff; the comment (and the step summary) the bounded one.
cat "$work/full.md"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$out" >>"$GITHUB_STEP_SUMMARY"; fi
exit "$head_status"
