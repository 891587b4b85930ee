#!/usr/bin/env bash
# Run a command next to a private, throw-away PostgreSQL cluster:
#
#   scripts/with-postgres.sh cargo test -p web
#
# The cluster lives in a temporary directory (its data and its socket), listens on
# 127.0.0.1 on a free port, trusts every local connection, and is exported to CMD as
# LOAXA_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT (web::testing::postgres_database
# makes a fresh database on it for each test). Whatever CMD returns, the cluster is
# stopped and its directory removed; the script exits with CMD's status.
#
# The cluster is thrown away: it runs without fsync, and takes up to 400 connections (each
# test server opens a few).
#
# As root the cluster runs as the `postgres` user (initdb refuses root); otherwise as
# the current user.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARG…]" >&2
  exit 2
fi

BIN=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && BIN=$d
done
if [ -z "$BIN" ] && command -v initdb >/dev/null; then BIN=$(dirname "$(command -v initdb)"); fi
if [ -z "$BIN" ]; then
  echo "PostgreSQL is not installed (no initdb). On Debian: apt-get install -y postgresql" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

TMP=$(mktemp -d /tmp/loaxa-pg.XXXXXX)
DATA=$TMP/data
SOCK=$TMP/sock
STARTED=""
cleanup() {
  if [ -n "$STARTED" ]; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -s stop >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$SOCK"
if [ "$(id -u)" = 0 ]; then chown -R postgres: "$TMP"; fi
as_owner "$BIN/initdb" -D "$DATA" --auth=trust -U postgres --no-locale -E UTF8 >"$TMP/initdb.log" 2>&1 || {
  cat "$TMP/initdb.log" >&2
  exit 1
}

# A free port: try a few random ones (another cluster may take one between check and use,
# so the start itself is what decides).
PORT=""
for _ in 1 2 3 4 5 6 7 8; do
  p=$((20000 + RANDOM % 40000))
  if as_owner "$BIN/pg_ctl" -D "$DATA" -l "$TMP/server.log" -w -s \
    -o "-p $p -k $SOCK -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off" start >/dev/null 2>&1; then
    PORT=$p
    STARTED=1
    break
  fi
done
if [ -z "$PORT" ]; then
  echo "the private PostgreSQL cluster did not start:" >&2
  cat "$TMP/server.log" >&2 || true
  exit 1
fi

export LOAXA_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PORT"
status=0
"$@" || status=$?
exit "$status"
