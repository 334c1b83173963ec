#!/usr/bin/env bash
# Installs a pinned helm into ~/.cache/kvindex/helm-<version>/ (if missing) and prints the binary's
# path as the last line of stdout. Idempotent: a cached binary returns at once.
# Source: the Go module proxy (`go install helm.sh/helm/v4/cmd/helm@vX`; ~3.5 min cold on 2 cores).
# KUBE_BUILD_NICE=1 builds with `nice -n 10` and `go build -p 1`, for shared machines.
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-4.3.1}
KVINDEX_CACHE=${KVINDEX_CACHE:-$HOME/.cache/kvindex}
dir="$KVINDEX_CACHE/helm-$HELM_VERSION"
bin="$dir/helm"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "helm.sh: need go (the Go module proxy) to build helm" >&2
  exit 1
fi

mkdir -p "$KVINDEX_CACHE"
tmp=$(mktemp -d "$KVINDEX_CACHE/.helm-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

run=()
flags="-buildvcs=false"
if [ "${KUBE_BUILD_NICE:-0}" = 1 ]; then
  run=(nice -n 10)
  flags="$flags -p=1"
fi
# helm reports its version from this variable; `go install` leaves it at the module's default.
ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION"
CGO_ENABLED=0 GOBIN="$tmp/out" GOFLAGS="$flags" "${run[@]}" go install -trimpath -ldflags "$ldflags" \
  "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION" >&2

"$tmp/out/helm" version >&2
mkdir -p "$dir"
# Rename into place last, so a concurrent or interrupted run never leaves a half-written binary.
mv "$tmp/out/helm" "$bin.tmp.$$"
mv -f "$bin.tmp.$$" "$bin"
echo "$bin"
