#!/usr/bin/env bash
# `make bench`: run every benchmark, keep each one's full output under target/bench/, and
# print one table of every figure (the `BENCH|metric|figure|target|baseline` lines).
# Each benchmark bounds its own time; a failing one is reported and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
out=target/bench
mkdir -p "$out"
: > "$out/figures.txt"

run() {
  local name=$1; shift
  echo "== $name: $*"
  local start=$SECONDS
  if "$@" > "$out/$name.txt" 2>&1; then
    echo "   done in $((SECONDS - start)) s"
  else
    echo "   FAILED after $((SECONDS - start)) s (see $out/$name.txt)"
    echo "BENCH|$name|FAILED (see $out/$name.txt)|-|-" >> "$out/figures.txt"
  fi
  grep -a '^BENCH|' "$out/$name.txt" >> "$out/figures.txt" || true
  if grep -aq '^ *Compiling ' "$out/$name.txt"; then
    echo "   note: cargo compiled during this benchmark; its time includes the build"
  fi
}

have_bench() { grep -q "name = \"$2\"" "$1/Cargo.toml" 2>/dev/null; }

# Build everything first, so that each benchmark's time is its own and the run's length
# says what the benchmarks cost (a fresh machine adds the build, printed apart). Each is
# built with the very command that runs it: `--workspace` unifies features differently
# from `-p tests`, and cargo would rebuild in the middle of the timed run.
echo "== build: every benchmark, loaxa-web and the media fuzz test, release"
build_start=$SECONDS
build() { "$@" >> "$out/build.txt" 2>&1 || { echo "   build FAILED: $* (see $out/build.txt)"; exit 1; }; }
: > "$out/build.txt"
build cargo bench -p media --bench probe --no-run
build cargo test -p media --release --test fuzz --no-run
build cargo bench -p controller --bench start_error --no-run
for b in sync_load urgent_push soak cap_feed live nodes; do
  have_bench tests "$b" && build cargo bench -p tests --bench "$b" --no-run
done
have_bench web report && build cargo bench -p web --bench report --no-run
have_bench web connections && build cargo bench -p web --bench connections --no-run
have_bench web log_ack && build cargo bench -p web --bench log_ack --no-run
build cargo build --release -p web --bin loaxa-web
export LOAXA_WEB_BIN="$PWD/target/release/loaxa-web"
build_s=$((SECONDS - build_start))
echo "   done in $build_s s"
run_start=$SECONDS

run media-probe cargo bench -p media --bench probe
run media-fuzz env LOAXA_FUZZ_CASES="${LOAXA_FUZZ_CASES:-3000}" cargo test -p media --release --test fuzz
run controller-start-error cargo bench -p controller --bench start_error
for b in sync_load urgent_push soak cap_feed live nodes; do
  have_bench tests "$b" && run "tests-$b" cargo bench -p tests --bench "$b"
done
have_bench web report && run web-report cargo bench -p web --bench report
have_bench web connections && run web-connections cargo bench -p web --bench connections
have_bench web log_ack && run web-log-ack cargo bench -p web --bench log_ack
# Fuzzing is `make fuzz` (scripts/fuzz.sh): building its targets alone takes longer than
# this whole run.

run_s=$((SECONDS - run_start))
echo "BENCH|make bench: the benchmarks' run, after the build|$run_s s (build $build_s s)|<= 900 s|-" >> "$out/figures.txt"

echo
echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
printf '| %s | %s | %s | %s |\n' metric figure target baseline
printf '| --- | --- | --- | --- |\n'
awk -F'|' '{ printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5 }' "$out/figures.txt"
