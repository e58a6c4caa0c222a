#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL server for the test suite.
#
#   scripts/pg-throwaway.sh start DIR PORT   # prints the server URL on stdout
#   scripts/pg-throwaway.sh stop DIR
#
# PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres`
# user. Trust authentication on loopback only: this server lives for one test run.
set -euo pipefail

cmd=${1:?start|stop}
dir=${2:?data directory}

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local candidate
  candidate=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$candidate" ] || { echo "pg-throwaway: $name not found (install postgresql)" >&2; exit 1; }
  echo "$candidate"
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    # runuser keeps the environment small and needs no password.
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    port=${3:?port}
    initdb=$(find_bin initdb)
    pg_ctl=$(find_bin pg_ctl)
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    as_pg "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # Tuned for a disposable test server: no fsync, enough connections for parallel tests.
    as_pg "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    pg_ctl=$(find_bin pg_ctl)
    if [ -d "$dir/data" ]; then
      as_pg "$pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
