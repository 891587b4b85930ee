#!/usr/bin/env bash
# Media figures: probe speed against ffmpeg, then a long no-panic fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p media --bench probe
LOAXA_FUZZ_CASES="${LOAXA_FUZZ_CASES:-5000}" cargo test -p media --release --test fuzz
