#!/usr/bin/env bash
# Revocation latency with two resource-API replicas and one auth server, on a throwaway
# PostgreSQL (push: LISTEN/NOTIFY) and on SQLite (the 1 s poll). For each credential kind —
# token revoked via /oauth/revoke, API key revoked, application disabled, scope removed,
# "revoke all tokens" — ROUNDS times: create it, use it on both replicas, revoke it, and
# measure from the revoke call's response until BOTH replicas refuse it (each polled in a tight
# loop on its own keep-alive connection; bench/revocation.py). Kinds are interleaved round by
# round. Then, on each backend: 100,000 API keys are added and a third resource API is started:
# its start time (to /readyz 200) and RSS at ready.
#
#   bench/revocation.sh                 # 30 rounds per kind and backend
#   ROUNDS=100 bench/revocation.sh
#   BACKENDS=postgres bench/revocation.sh
#
# Release builds, loopback, default settings (CREDENTIAL_POLL_SECS=1). Goal: PostgreSQL p99 ≤
# 100 ms, SQLite ≤ 1 s. Prints a table and writes it to bench/results/revocation.md.
# Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-30}
BACKENDS=${BACKENDS:-"postgres sqlite"}
KEYS=${KEYS:-100000}

command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
cargo build --release -q -p auth-server -p resource-api

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
wait_status() { # url status [tries of 10 ms]
  for _ in $(seq 1 "${3:-1500}"); do [ "$(curl -s -o /dev/null -w "%{http_code}" "$1")" = "$2" ] && return 0; sleep 0.01; done
  echo "no $2 from $1" >&2; exit 1
}
psql_bin() { command -v psql || ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1; }

export RUST_LOG=warn
export SIGNING_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
ADMIN=bench-admin-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
results="$work/results"
: >"$results"

for backend in $BACKENDS; do
  echo "== $backend" >&2
  if [ "$backend" = postgres ]; then
    pg_dir="$work/pg"; mkdir -p "$pg_dir"; chmod 777 "$work" "$pg_dir"
    base=$(scripts/pg-throwaway.sh start "$pg_dir" "$(free_port)")
    "$(psql_bin)" -q "$base" -c "CREATE DATABASE revocation_bench" >/dev/null
    export DATABASE_URL="${base%/*}/revocation_bench"
  else
    export DATABASE_URL="sqlite://$work/revocation.db"
  fi
  auth_port=$(free_port); api1=$(free_port); api2=$(free_port)
  ADMIN_TOKEN=$ADMIN AUTH_BIND=127.0.0.1:$auth_port AUTH_ISSUER=http://127.0.0.1:$auth_port \
    target/release/auth-server serve >"$work/auth-$backend.log" 2>&1 &
  pids+=($!)
  wait_status "http://127.0.0.1:$auth_port/healthz" 200
  for port in $api1 $api2; do
    API_BIND=127.0.0.1:$port AUTH_ISSUER=http://127.0.0.1:$auth_port \
      target/release/resource-api >"$work/api-$backend-$port.log" 2>&1 &
    pids+=($!)
  done
  wait_status "http://127.0.0.1:$api1/readyz" 200
  wait_status "http://127.0.0.1:$api2/readyz" 200

  AUTH_URL=http://127.0.0.1:$auth_port API_URLS=127.0.0.1:$api1,127.0.0.1:$api2 \
    ADMIN_TOKEN=$ADMIN ROUNDS=$ROUNDS python3 bench/revocation.py \
    | sed "s/^/$backend\t/" >>"$results"

  # Start time and RSS of a resource API with many keys in the database.
  echo "adding $KEYS API keys" >&2
  if [ "$backend" = postgres ]; then
    "$(psql_bin)" -q "$DATABASE_URL" -c "INSERT INTO api_keys (id, name, description, environment, scopes, tier, key_digest, masked_token, created_at, updated_at)
      SELECT 'key_bulk' || g, 'bulk', '', 'sandbox', 'cases:read', 'standard', md5(g::text) || md5((g + 1)::text), 'sk_sandbox_...', 0, 0
      FROM generate_series(1, $KEYS) g" >/dev/null
  else
    python3 - "$work/revocation.db" "$KEYS" <<'PY'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = int(sys.argv[2])
db.executemany(
    "INSERT INTO api_keys (id, name, description, environment, scopes, tier, key_digest, masked_token, created_at, updated_at) "
    "VALUES (?, 'bulk', '', 'sandbox', 'cases:read', 'standard', ?, 'sk_sandbox_...', 0, 0)",
    ((f"key_bulk{i}", hashlib.sha256(str(i).encode()).hexdigest()) for i in range(n)),
)
db.commit()
PY
  fi
  api3=$(free_port)
  t0=$(date +%s.%N)
  API_BIND=127.0.0.1:$api3 AUTH_ISSUER=http://127.0.0.1:$auth_port \
    target/release/resource-api >"$work/api-$backend-$api3.log" 2>&1 &
  pid3=$!
  pids+=($pid3)
  wait_status "http://127.0.0.1:$api3/readyz" 200
  t1=$(date +%s.%N)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid3/status")
  python3 -c "print(f'start\t$backend\t{($t1 - $t0):.2f}\t{$rss / 1024:.0f}')" >>"$results"

  stop_all
  if [ "$backend" = postgres ]; then scripts/pg-throwaway.sh stop "$pg_dir" >/dev/null; pg_dir=""; fi
done

mkdir -p bench/results
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $ROUNDS rounds per kind (kinds interleaved), one auth server + two resource-API replicas, release builds, default settings (CREDENTIAL_POLL_SECS=1)"
  echo
  echo "From the revoke call's response until both replicas refuse the credential (ms):"
  echo
  echo "| backend | credential change | n | p50 ms | p99 ms | max ms |"
  echo "|---|---|---|---|---|---|"
  grep -v '^start' "$results" | awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}'
  echo
  echo "A resource API started with $KEYS API keys in the database (keys are read on demand):"
  echo
  echo "| backend | start to /readyz 200 (s) | RSS at ready (MB) |"
  echo "|---|---|---|"
  grep '^start' "$results" | awk -F'\t' '{printf "| %s | %s | %s |\n", $2, $3, $4}'
} | tee bench/results/revocation.md
