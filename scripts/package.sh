#!/usr/bin/env bash
# Build the Debian packages of loaxa-web and loaxa-controller into target/debian/.
# Usage: scripts/package.sh [--target TRIPLE]
#   no target: both packages from the host's release build (the one `make run` builds);
#              the packaged binaries are stripped copies (cargo deb --strip), target/release
#              keeps its line tables for benchmarks and profiling.
#   --target TRIPLE (e.g. aarch64-unknown-linux-gnu, for a Pi; see scripts/pi.sh for the
#              cross environment): the controller alone, `--profile dist` (release without
#              debug info, stripped), into target/TRIPLE/debian/.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
target=
if [ "${1:-}" = --target ]; then target=${2:?--target needs a triple}; fi

command -v cargo-deb >/dev/null || "$CARGO" install cargo-deb --locked

# Man pages from the clap definitions (host release build: they do not depend on the target).
"$CARGO" run -q --release -p web --example manpage_web -- target/man
"$CARGO" run -q --release -p controller --example manpage_controller -- target/man

if [ -z "$target" ]; then
  "$CARGO" build --release --bin loaxa-web --bin loaxa-controller
  "$CARGO" deb --no-build --strip -p web
  "$CARGO" deb --no-build --strip -p controller
  ls -l target/debian/*.deb
else
  "$CARGO" build --profile dist --target "$target" -p controller --bin loaxa-controller
  "$CARGO" deb --no-build --profile dist --target "$target" -p controller
  ls -l "target/$target/debian/"*.deb
fi
