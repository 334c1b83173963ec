#!/usr/bin/env bash
# Builds kvindex-oracle (release, LTO) and prints its absolute path on the last
# stdout line:
#
#   ORACLE="$(test/oracle/build.sh | tail -n1)"
#
# Caches under ~/.cache/kvindex (or $KVINDEX_CACHE_DIR):
#   oracle-target-<hash of Cargo.lock + Cargo.toml>/   cargo target dir (deps reused across source edits)
#   oracle-bin-<hash of Cargo.lock + Cargo.toml + src>/kvindex-oracle
# When the binary for the current sources exists, cargo is not run at all.
# Needs cargo (Rust >= 1.85); crates.io only on the first build (offline after).
# Env: KVINDEX_CACHE_DIR, CARGO_BUILD_JOBS (default 2).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KVINDEX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kvindex}"

hash_files() {
  (cd "$here" && for f in "$@"; do printf '%s\n' "$f"; cat "$f"; done) | sha256sum | cut -c1-16
}
deps_key="$(hash_files Cargo.lock Cargo.toml)"
# shellcheck disable=SC2046  # file names have no spaces
full_key="$(hash_files Cargo.lock Cargo.toml $(cd "$here" && find src -type f -name '*.rs' | LC_ALL=C sort))"

target="$cache/oracle-target-$deps_key"
bin_dir="$cache/oracle-bin-$full_key"
bin="$bin_dir/kvindex-oracle"

if [[ -x "$bin" ]]; then
  printf '%s\n' "$bin"
  exit 0
fi

if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "build.sh: cargo not found (need Rust >= 1.85)" >&2; exit 1; }

mkdir -p "$target" "$bin_dir"
# cargo reports on stderr; stdout carries only the path.
CARGO_TARGET_DIR="$target" cargo build \
  --manifest-path "$here/Cargo.toml" --release --locked \
  --jobs "${CARGO_BUILD_JOBS:-2}" >&2
tmp="$(mktemp "$bin_dir/.kvindex-oracle.XXXXXX")"
cp "$target/release/kvindex-oracle" "$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$bin"
printf '%s\n' "$bin"
