#!/usr/bin/env bash
# Bounded coverage-guided fuzzing (cargo-fuzz, libFuzzer) of what Loa Xã reads from others:
# the media prober (uploads), the crontab parser (schedule forms, the API) and the CAP
# parser (warning systems). `make fuzz`.
#
# Each target runs LOAXA_FUZZ_SECONDS (default 40) from the checked-in seeds in fuzz/seeds/
# plus the corpus it grew before (target/fuzz-corpus/, kept between runs). Prints
# `BENCH|fuzz TARGET executions|N|-|-` and `BENCH|fuzz TARGET crashes|N|0|-`; exits 1 when
# a target crashed (libFuzzer leaves the input in fuzz/artifacts/TARGET/).
#
# cargo-fuzz needs nightly compiler features: RUSTC_BOOTSTRAP=1 lets the stable toolchain
# use them. cargo-fuzz itself is installed from crates.io when missing.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${LOAXA_FUZZ_SECONDS:-40}
targets=(media_probe crontab cap)
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked || { echo "cannot install cargo-fuzz"; exit 1; }
fi

failed=0
for t in "${targets[@]}"; do
  corpus=target/fuzz-corpus/$t
  mkdir -p "$corpus"
  log=target/fuzz-corpus/$t.log
  echo "== fuzz $t for $secs s"
  if ! cargo fuzz build -O "$t" >"$log" 2>&1; then
    echo "BENCH|fuzz $t|BUILD FAILED (see $log)|-|-"
    failed=1
    continue
  fi
  cargo fuzz run -O "$t" "$corpus" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 >>"$log" 2>&1
  rc=$?
  execs=$(awk '/stat::number_of_executed_units:/ { n = $2 } END { print n + 0 }' "$log")
  crashes=0
  if [ "$rc" -ne 0 ]; then
    crashes=1
    failed=1
    echo "fuzz $t stopped with status $rc; the input is in fuzz/artifacts/$t/:"
    tail -n 30 "$log"
  fi
  echo "fuzz $t: $execs executions in $secs s, corpus $(ls "$corpus" | wc -l) inputs"
  echo "BENCH|fuzz $t executions ($secs s)|$execs|-|-"
  echo "BENCH|fuzz $t crashes|$crashes|0|-"
done
exit $failed
