#!/usr/bin/env bash
# Frees disk on a GitHub-hosted runner before the platform pulls its images. The standard runners
# guarantee 14 GB of SSD; the platform needs several GB more than its images: k3d's containerd
# unpacks K3s, Istio, Argo CD, Gitea, act_runner, dind, Prometheus, Kiali, PostgreSQL and the
# registry; the runner's Docker-in-Docker pulls node:24 (the job image, ~1 GB unpacked), python,
# Trivy and its database, and keeps the build layers; the registry's volume holds the pushed images.
# Removed: preinstalled toolchains this job never uses, the largest first (sizes as GitHub's
# ubuntu-24.04 image reports them, roughly): the Android SDK (~10 GB), CodeQL bundles (~5 GB),
# Haskell (GHC, ghcup), .NET, Swift, PowerShell and Julia, and cached Docker images. The arm64 image
# ships fewer of them; missing paths are skipped. Node, Python, Go, git, Docker and jq stay.
# shellcheck disable=SC2034  # E2E_PROBE is read by lib.sh
set -euo pipefail
E2E_PROBE="free-disk"
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

FREE_DISK_PATHS="${FREE_DISK_PATHS:-/usr/local/lib/android /opt/hostedtoolcache/CodeQL /opt/ghc /usr/local/.ghcup /usr/share/dotnet /usr/share/swift /usr/local/share/powershell /usr/local/julia*}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

avail() { df -Pk / | awk 'NR == 2 { printf "%d", $4 / 1048576 }'; }
before="$(avail)"
started="$(now)"
pids=()
removed=""
# shellcheck disable=SC2086  # the list is word-split (and globbed) on purpose
for p in $FREE_DISK_PATHS; do
  [ -e "$p" ] || continue
  removed="$removed $p"
  "${as_root[@]}" rm -rf "$p" &
  pids+=("$!")
done
for pid in "${pids[@]}"; do wait "$pid" || fail "removing a toolchain failed"; done
if command -v docker >/dev/null 2>&1; then
  docker image prune --all --force >/dev/null 2>&1 || log "docker image prune failed (ignored)"
fi
after="$(avail)"
timing "free disk space" "$(( $(now) - started ))" "/ had ${before} GB free, now ${after} GB"
pass "free-disk" "${before} GB -> ${after} GB free on /; removed:${removed:- nothing}"
