#!/usr/bin/env bash
# Webhooks (issue 25): what an event costs the write that makes it, and how soon a healthy
# endpoint has it. On each backend (SQLite: the worker polls every 200 ms; PostgreSQL, a
# throwaway server: NOTIFY wakes it), one auth server and one resource API:
#
# 1. POST /v2/cases with wrk, interleaved runs with no enabled endpoint and with one endpoint
#    subscribed to case.created (medians; target: with one >= 85% of without, same run);
# 2. delivery latency at RATE events/s (target p99 <= 1 s), from the event's timestamp to its
#    arrival at a receiver on the same machine.
#
# Every delivery is verified with the `standardwebhooks` package from PyPI (pinned, installed
# once into target/webhooks-bench/venv). bench/webhooks.py does the measuring.
#
#   bench/webhooks.sh                       # both backends, 2 rounds × 5 s, 100 events/s for 10 s
#   BACKENDS=sqlite DURATION=10 ROUNDS=3 bench/webhooks.sh
#   PROFILE=debug bench/webhooks.sh         # without a release build (figures not comparable)
#
# Prints a table and writes it to bench/results/webhooks.md. Everything it starts is stopped
# on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=${BACKENDS:-"sqlite postgres"}
PROFILE=${PROFILE:-release}
export DURATION=${DURATION:-5} ROUNDS=${ROUNDS:-2} RATE=${RATE:-100} LATENCY_SECS=${LATENCY_SECS:-10}

command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p auth-server -p resource-api
else
  cargo build -q -p auth-server -p resource-api
fi
bin=target/$PROFILE

want="standardwebhooks==1.3.0"
venv=target/webhooks-bench/venv
if [ "$(cat "$venv/.pinned" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$want"
  echo "$want" >"$venv/.pinned"
fi

work=$(mktemp -d)
pids=()
pg_dir=""
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }
cleanup() {
  stop_all
  [ -n "$pg_dir" ] && scripts/pg-throwaway.sh stop "$pg_dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh
wait_status() { # url status
  for _ in $(seq 1 1500); do [ "$(curl -s -o /dev/null -w "%{http_code}" "$1")" = "$2" ] && return 0; sleep 0.01; done
  echo "no $2 from $1" >&2; exit 1
}
psql_bin() { command -v psql || ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1; }

export RUST_LOG=warn
export SIGNING_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
export WEBHOOK_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
# The receiver is on loopback.
export WEBHOOK_ALLOW_PRIVATE_TARGETS=true
ADMIN=bench-admin-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
results="$work/results"
: >"$results"

for backend in $BACKENDS; do
  echo "== $backend" >&2
  if [ "$backend" = postgres ]; then
    pg_dir="$work/pg"; mkdir -p "$pg_dir"; chmod 777 "$work" "$pg_dir"
    base=$(scripts/pg-throwaway.sh start "$pg_dir" "$(free_port)")
    "$(psql_bin)" -q "$base" -c "CREATE DATABASE webhooks_bench" >/dev/null
    export DATABASE_URL="${base%/*}/webhooks_bench"
  else
    export DATABASE_URL="sqlite://$work/webhooks.db"
  fi
  auth_port=$(free_port); api_port=$(free_port)
  ADMIN_TOKEN=$ADMIN AUTH_BIND=127.0.0.1:$auth_port AUTH_ISSUER=http://127.0.0.1:$auth_port \
    "$bin/auth-server" serve >"$work/auth-$backend.log" 2>&1 &
  pids+=($!)
  wait_status "http://127.0.0.1:$auth_port/healthz" 200
  API_BIND=127.0.0.1:$api_port AUTH_ISSUER=http://127.0.0.1:$auth_port \
    "$bin/resource-api" >"$work/api-$backend.log" 2>&1 &
  pids+=($!)
  wait_status "http://127.0.0.1:$api_port/readyz" 200

  app=$(curl -sf "http://127.0.0.1:$auth_port/admin/applications" -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' \
    -d '{"name":"webhooks bench","scopes":["cases:write","webhooks:write"],"environment":"sandbox","tier":"unlimited"}')
  id=$(echo "$app" | json '["client_id"]'); secret=$(echo "$app" | json '["client_secret"]')
  token=$(curl -sf "http://127.0.0.1:$auth_port/oauth/token" -u "$id:$secret" -d grant_type=client_credentials | json '["access_token"]')

  API_URL=http://127.0.0.1:$api_port TOKEN=$token "$venv/bin/python" bench/webhooks.py \
    | sed "s/^/$backend\t/" >>"$results"
  stop_all
  if [ -n "$pg_dir" ]; then scripts/pg-throwaway.sh stop "$pg_dir" >/dev/null 2>&1 || true; pg_dir=""; fi
done

mkdir -p bench/results
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $PROFILE build, wrk -t2 -c16, $ROUNDS interleaved rounds × ${DURATION}s (medians), $RATE events/s for ${LATENCY_SECS}s"
  echo
  cat "$results"
} | tee bench/results/webhooks.md
