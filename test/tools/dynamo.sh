#!/usr/bin/env bash
# Installs the reference peer, NVIDIA Dynamo 1.6.1 from PyPI, into a cached virtual environment
# ~/.cache/kvindex/dynamo-1.6.1/ (if missing) and prints its python's path as the last stdout line.
# The recipe is the measured one (docs/reference/dynamo-1.6.1/README.md §1): ai-dynamo needs
# --no-deps because two of its pins are not on PyPI and neither is needed here.
set -euo pipefail

DYNAMO_VERSION=1.6.1
KVINDEX_CACHE=${KVINDEX_CACHE:-$HOME/.cache/kvindex}
venv="$KVINDEX_CACHE/dynamo-$DYNAMO_VERSION"
stamp="$venv/.kvindex-complete"

if [ -f "$stamp" ]; then
  echo "$venv/bin/python"
  exit 0
fi

python=""
for candidate in python3.11 python3.12 python3.10 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
    "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    python=$candidate
    break
  fi
done
[ -n "$python" ] || { echo "dynamo.sh: need CPython >= 3.10" >&2; exit 1; }

rm -rf "$venv"
mkdir -p "$KVINDEX_CACHE"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "ai-dynamo-runtime==$DYNAMO_VERSION" >&2
"${pip[@]}" --no-deps "ai-dynamo==$DYNAMO_VERSION" >&2
"${pip[@]}" "aiohttp>=3.14.3,<4.0" certifi "kubernetes>=32.0.1,<33.0.0" "msgspec>=0.19.0" \
  "prometheus-client>=0.23.1,<1.0" "pyzmq>=26.0.0" "redis>=6.2.0,<9.0.0" "tqdm>=4.0.0" \
  "transformers>=4.56.0" "zstandard>=0.23,<1.0" msgpack xxhash tokenizers >&2
"$venv/bin/python" -c 'import dynamo.llm; from dynamo.llm import RadixTree; RadixTree()' >&2
touch "$stamp"
echo "$venv/bin/python"
