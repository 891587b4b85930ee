#!/usr/bin/env bash
# No unused dependencies: cargo-machete (crates.io) over every crate of the workspace.
# Part of `make test`. cargo-machete is installed into target/tools on first use (pinned,
# --locked), so a fresh machine needs nothing else; `cargo clean` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.9.2
tool=$PWD/target/tools/bin/cargo-machete
if [ ! -x "$tool" ] || [ "$("$tool" --version 2>/dev/null)" != "$version" ]; then
  echo "installing cargo-machete $version into target/tools"
  cargo install -q --locked --root "$PWD/target/tools" --version "$version" cargo-machete
fi
# A false positive (a crate used only through a macro or a build feature) goes in its
# Cargo.toml under [package.metadata.cargo-machete] ignored = [...], with the reason.
"$tool"
