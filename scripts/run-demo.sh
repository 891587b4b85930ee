#!/usr/bin/env bash
# `make run`: seed the Thạch Thất demo (if ./data is empty), serve it, and run one local
# controller for Thị trấn Liên Quan (station LQ) on the default sound device. Without a
# sound card the controller records what would have aired to DATA/aired.wav instead.
set -euo pipefail
DATA=${1:-./data}
LISTEN=${2:-127.0.0.1:8080}
BIN=${LOAXA_BIN:-target/release}
mkdir -p "$DATA"

"$BIN/loaxa-web" --data "$DATA" demo --listen "$LISTEN" &
WEB=$!
CTL=
cleanup() {
  [ -n "$CTL" ] && kill "$CTL" 2>/dev/null || true
  kill "$WEB" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  if curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$WEB" 2>/dev/null; then echo "the server did not start" >&2; exit 1; fi
  sleep 0.1
done

run_controller() {
  "$BIN/loaxa-controller" --server "http://$LISTEN" --station LQ \
    --token-file "$DATA/LQ.token" --data "$DATA/controller-LQ" --output "$1"
}

echo "Web: http://$LISTEN   (Ctrl-C stops both)"
set +e
run_controller default &
CTL=$!
wait "$CTL"
rc=$?
set -e
if [ "$rc" = 3 ]; then
  echo "No sound card here: recording what would have aired to $DATA/aired.wav (listen with: aplay $DATA/aired.wav)"
  run_controller "wav:$DATA/aired.wav" &
  CTL=$!
  wait "$CTL"
fi
