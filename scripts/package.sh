#!/usr/bin/env bash
# Build the Debian packages of loaxa-web and loaxa-controller into target/debian/.
# Usage: scripts/package.sh [--target TRIPLE]   (e.g. aarch64-unknown-linux-gnu, for a Pi)
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
target_args=()
if [ "${1:-}" = --target ]; then target_args=(--target "$2"); fi

command -v cargo-deb >/dev/null || "$CARGO" install cargo-deb --locked

# Man pages from the clap definitions (host build: they do not depend on the target).
"$CARGO" run -q -p web --example manpage_web -- target/man
"$CARGO" run -q -p controller --example manpage_controller -- target/man

# The release binaries `make run` builds are reused (cargo deb --no-build).
"$CARGO" build --release "${target_args[@]}" --bin loaxa-web --bin loaxa-controller
if [ ${#target_args[@]} -eq 0 ]; then
  "$CARGO" deb --no-build -p web
fi
"$CARGO" deb --no-build -p controller "${target_args[@]}"
ls -l target/debian/*.deb 2>/dev/null || find target -name '*.deb' -newer Cargo.toml
