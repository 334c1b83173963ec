#!/usr/bin/env bash
# Installs Debian's chromium (and chromium-driver) for the dashboard's headless browser test and
# prints the binary's path as the last line of stdout. Idempotent: an installed chromium returns at
# once. Needs root (or passwordless sudo) for apt-get.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  command -v chromium
  exit 0
fi

sudo_cmd=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo -n"; else
    echo "chromium.sh: not root and no sudo; install the Debian packages chromium and chromium-driver" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq >&2
$sudo_cmd apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
command -v chromium
