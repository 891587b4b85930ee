#!/usr/bin/env bash
# Fuzz the HTTP API from its own OpenAPI document with schemathesis (PyPI): a real
# loaxa-web on 127.0.0.1 (a free port) over a seeded data directory (an area tree, two
# stations, an admin), every operation called with an admin's bearer token, with valid and
# invalid data, for LOAXA_API_FUZZ_SECONDS (default 150). Fails when any answer is a 5xx
# (or the connection drops). Part of `make test` (short) and `make fuzz`.
#
# schemathesis is installed into a virtualenv under target/ on first use. Prints
# `BENCH|api fuzz …` lines: requests the server answered (from its /metrics), operations
# tested and test cases (schemathesis's count), 5xx answers.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${LOAXA_API_FUZZ_SECONDS:-150}
bin=${LOAXA_WEB_BIN:-target/debug/loaxa-web}
venv=$PWD/target/fuzz-api-venv
out=$PWD/target/fuzz-api
mkdir -p "$out"

if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "installing schemathesis into $venv"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q 'schemathesis>=4.3,<5' \
    || { echo "cannot install schemathesis"; exit 1; }
fi
if [ ! -x "$bin" ]; then
  cargo build -q -p web --bin loaxa-web || exit 1
fi

data=$(mktemp -d)
web_pid=
cleanup() {
  [ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null && wait "$web_pid" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT INT TERM

web() { env -u LOAXA_DATA -u LOAXA_LISTEN -u LOAXA_CONFIG "$bin" --data "$data/data" "$@"; }
password='fuzzing is a long password'
web area add HN --name 'Thành phố Hà Nội' >/dev/null || exit 1
web area add TT --name 'Huyện Thạch Thất' --parent HN >/dev/null || exit 1
web area add LQ --name 'Thị trấn Liên Quan' --parent TT >/dev/null || exit 1
device=$(web station add LQ --name 'Đài Liên Quan' --area LQ | tail -n 1) || exit 1
web station add BP --name 'Đài Bình Phú' --area TT >/dev/null || exit 1
echo "$password" | web user add admin --role admin --area HN >/dev/null || exit 1
echo "$password" | web user add op --role operator --area LQ >/dev/null || exit 1

# Started directly (not through the function, which would run in a subshell): $! is the
# server's own pid, so that the cleanup stops it.
env -u LOAXA_DATA -u LOAXA_LISTEN -u LOAXA_CONFIG "$bin" --data "$data/data" \
  serve --listen 127.0.0.1:0 >"$out/server.out" 2>"$out/server.log" &
web_pid=$!
base=
for _ in $(seq 1 200); do
  base=$(grep -o 'http://127.0.0.1:[0-9]*' "$out/server.out" | head -1)
  [ -n "$base" ] && break
  kill -0 "$web_pid" 2>/dev/null || { echo "the server did not start"; cat "$out/server.log"; exit 1; }
  sleep 0.05
done
[ -n "$base" ] || { echo "the server did not say where it listens"; exit 1; }
token=$(curl -fsS "$base/api/v1/auth/token" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') \
  || { echo "cannot sign in"; exit 1; }

# Not fuzzed: what would revoke the admin token the run uses (signing out, changing or
# resetting a password, disabling a user). The station endpoints (/device/…) take a device
# token: a quarter of the time goes to them with LQ's.
# (Run from target/: schemathesis keeps a .schemathesis/ directory where it runs.)
st() {
  (cd "$out" && "$venv/bin/schemathesis" run "$base/api/v1/openapi.json" \
    --checks not_a_server_error \
    --phases examples,coverage,fuzzing \
    --workers 1 --seed "${LOAXA_API_FUZZ_SEED:-2026}" \
    --request-timeout 30 --no-color \
    --suppress-health-check all --generation-with-security-parameters false \
    --generation-database none "$@")
}
echo "== schemathesis on $base for $secs s"
# The station's run first: the admin's run rotates station tokens.
st --header "Authorization: Bearer $device" --include-path-regex '/device/' \
  --max-time "$((secs / 4 + 1))" >"$out/schemathesis-device.txt" 2>&1
rc_device=$?
st --header "Authorization: Bearer $token" \
  --exclude-name 'DELETE /api/v1/auth/token' \
  --exclude-name 'POST /api/v1/auth/password' \
  --exclude-name 'POST /api/v1/users/{username}/disable' \
  --exclude-name 'POST /api/v1/users/{username}/password' \
  --exclude-path-regex '/device/' --max-time "$((secs * 3 / 4))" \
  --report junit --report-dir "$out" >"$out/schemathesis.txt" 2>&1
rc=$?
[ "$rc" -ne 0 ] || rc=$rc_device
tail -n 12 "$out/schemathesis-device.txt"
tail -n 40 "$out/schemathesis.txt"

# The server's own count of what it answered, by route and status.
metrics=$(curl -fsS "$base/metrics")
alive=$?
echo "$metrics" > "$out/metrics.txt"
requests=$(echo "$metrics" | awk -F'} ' '/^loaxa_http_requests_total\{/ { n += $2 } END { print n + 0 }')
sum() { grep -ohE "$1" "$out/schemathesis.txt" "$out/schemathesis-device.txt" | grep -oE '[0-9]+' | awk '{ n += $1 } END { print n + 0 }'; }
ops=$(sum 'Tested: [0-9]+')
cases=$(sum '[0-9]+ generated')
errors=$(echo "$metrics" | awk -F'} ' '/^loaxa_http_requests_total\{.*status="5/ { n += $2 } END { print n + 0 }')
echo "$metrics" | grep '^loaxa_http_requests_total{.*status="5' || true
if grep -q 'panicked' "$out/server.log"; then
  echo "the server panicked:"; grep -A3 'panicked' "$out/server.log" | head -20
  errors=$((errors + 1))
fi
echo "BENCH|api fuzz: requests answered ($secs s)|$requests|-|-"
echo "BENCH|api fuzz: operations of the OpenAPI document tested|${ops:-0}|-|-"
echo "BENCH|api fuzz: test cases generated|${cases:-0}|-|-"
echo "BENCH|api fuzz: 5xx answers or panics|$errors|0|-"
if [ "$alive" -ne 0 ] || [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ]; then
  echo "api fuzz FAILED (schemathesis status $rc; full output in $out/schemathesis.txt, server log in $out/server.log)"
  exit 1
fi
echo "api fuzz: no server error"
