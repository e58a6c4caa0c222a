#!/usr/bin/env bash
# Benchmarks the hot paths against a hand-written baseline (bench/src/baseline.rs: actix-web,
# plain diesel + r2d2, web::block; none of the workspace's crates) measured in the same run:
#   1. POST /oauth/token for a repeat client   vs  baseline POST /token (one primary-key read + one Ed25519 signature)
#   2. GET /v2/cases/{id} with a JWT           vs  baseline GET /cases/{id} (same read, same JSON, no auth)
#   3. GET /v2/cases/{id} with an API key      vs  the same baseline
#   4. both reads again vs baseline GET /cases-tuned/{id}: the same read without diesel's `first`
#      (whose bound LIMIT makes SQLite recompile the statement per call; the services avoid it)
#   5. POST /oauth/token from cold: a freshly started auth server (empty verified-credential
#      cache), the first DURATION seconds at CONNECTIONS connections
#
#   bench/run.sh                                   # 3 rounds × 5 s per scenario, 64 connections
#   ROUNDS=5 DURATION=10 CONNECTIONS=128 THREADS=1 bench/run.sh
#   BACKEND=postgres bench/run.sh                  # a throwaway PostgreSQL 15 (scripts/pg-throwaway.sh)
#
# The scenarios are interleaved round by round and each figure is the median over the rounds,
# so that a burst of load on the shared machine skews one sample, not one scenario.
#
# Release builds on loopback, one fresh SQLite database, wrk from the same machine. Prints a
# table and writes it to bench/results/latest-$BACKEND.md. Everything it starts is stopped on exit.
# Absolute numbers move with the machine's load: read the ratios, measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }

cargo build --release -q -p auth-server -p resource-api -p bench

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

. bench/lib.sh
# Up means: answers HTTP at all (any status).

# REDIS=1: both services share their limits through a throwaway redis-server (REDIS_URL). The
# bench credentials are `unlimited`, so this shows the cost of Redis being configured; the
# limiter itself on every request: bench/redis-limiter.sh.
if [ "${REDIS:-0}" = 1 ]; then
  command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
  pids+=($!)
  export REDIS_URL="redis://127.0.0.1:$redis_port/"
fi

BACKEND=${BACKEND:-sqlite}
if [ "$BACKEND" = postgres ]; then
  pg_port=$(free_port)
  # Outside $work: the server runs as the postgres user, which cannot enter a mktemp directory.
  pg_dir=$(mktemp -d /tmp/caseforge-bench-pg.XXXXXX)
  DATABASE_URL=$(scripts/pg-throwaway.sh start "$pg_dir" "$pg_port")
  trap 'cleanup; scripts/pg-throwaway.sh stop "$pg_dir" >/dev/null 2>&1 || true; rm -rf "$pg_dir"' EXIT
  export DATABASE_URL
else
  export DATABASE_URL="sqlite://$work/bench.db"
fi
export RUST_LOG=warn
export SIGNING_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
ADMIN=bench-admin-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
auth_port=$(free_port); api_port=$(free_port); base_port=$(free_port)
start_auth() {
  ADMIN_TOKEN=$ADMIN AUTH_BIND=127.0.0.1:$auth_port AUTH_ISSUER=http://127.0.0.1:$auth_port \
    target/release/auth-server serve >>"$work/auth.log" 2>&1 &
  auth_pid=$!
  pids+=($auth_pid)
  wait_up "http://127.0.0.1:$auth_port/healthz"
}
start_auth
API_BIND=127.0.0.1:$api_port AUTH_ISSUER=http://127.0.0.1:$auth_port target/release/resource-api >"$work/api.log" 2>&1 &
pids+=($!)
BASELINE_BIND=127.0.0.1:$base_port target/release/baseline >/dev/null 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$api_port/readyz"
wait_up "http://127.0.0.1:$base_port/cases/none"

admin() { curl -fs -X POST "http://127.0.0.1:$auth_port$1" -H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json" -d "$2"; }
app=$(admin /admin/applications '{"name":"bench","scopes":["cases:read","cases:write"],"environment":"sandbox","tier":"unlimited"}')
client_id=$(printf '%s' "$app" | json '["client_id"]'); secret=$(printf '%s' "$app" | json '["client_secret"]')
basic="Basic $(printf '%s:%s' "$client_id" "$secret" | base64 -w0)"
bad="Basic $(printf '%s:%s' "$client_id" "cfsec_wrong" | base64 -w0)"
token=$(curl -fs -X POST "http://127.0.0.1:$auth_port/oauth/token" -H "Authorization: $basic" -d grant_type=client_credentials | json '["access_token"]')
key=$(admin /admin/api-keys '{"name":"bench","environment":"sandbox","scopes":["cases:read"],"tier":"unlimited"}' | json '["key"]')
case_id=$(curl -fs -X POST "http://127.0.0.1:$api_port/v2/cases" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
  -d '{"title":"benchmark case","description":"a realistic description of a suspicious pattern","priority":"high"}' | json '["id"]')

# One scenario: prints "requests/s p50_ms p99_ms non2xx".
run() {
  local url=$1 method=$2 body=$3 auth=$4 conns=$5 secs=$6 threads=$THREADS line
  [ "$conns" -lt "$threads" ] && threads=$conns
  line=$(METHOD="$method" BODY="$body" AUTH="$auth" wrk -t"$threads" -c"$conns" -d"${secs}s" -s bench/request.lua "$url" | grep '^BENCH')
  python3 - "$line" <<'PY'
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
rps = int(f["requests"]) / (int(f["duration_us"]) / 1e6)
print(f'{rps:.0f} {int(f["p50_us"])/1000:.2f} {int(f["p99_us"])/1000:.2f} {f["non2xx"]}')
PY
}
ratio() { python3 -c "print(f'{$1 / $2 * 100:.0f}%')"; }

tok_url="http://127.0.0.1:$auth_port/oauth/token"
case_url="http://127.0.0.1:$api_port/v2/cases/$case_id"
base_case="http://127.0.0.1:$base_port/cases/$case_id"
tuned_case="http://127.0.0.1:$base_port/cases-tuned/$case_id"
base_tok="http://127.0.0.1:$base_port/token"

# Warm-up: caches, connection pools, page cache.
for u in "$base_case" "$tuned_case" "$case_url"; do run "$u" GET "" "Bearer $token" 8 2 >/dev/null; done
run "$case_url" GET "" "Bearer $key" 8 2 >/dev/null
run "$tok_url" POST grant_type=client_credentials "$basic" 8 2 >/dev/null

samples="$work/samples"
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  echo "bt $(run "$base_tok" POST "grant_type=client_credentials&client_id=$client_id" "" "$CONNECTIONS" "$DURATION")" >>"$samples"
  echo "t $(run "$tok_url" POST grant_type=client_credentials "$basic" "$CONNECTIONS" "$DURATION")" >>"$samples"
  echo "bc $(run "$base_case" GET "" "" "$CONNECTIONS" "$DURATION")" >>"$samples"
  echo "bu $(run "$tuned_case" GET "" "" "$CONNECTIONS" "$DURATION")" >>"$samples"
  echo "j $(run "$case_url" GET "" "Bearer $token" "$CONNECTIONS" "$DURATION")" >>"$samples"
  echo "k $(run "$case_url" GET "" "Bearer $key" "$CONNECTIONS" "$DURATION")" >>"$samples"
done
# Median of each column per scenario: "rps p50 p99 non2xx".
median() {
  python3 - "$samples" "$1" <<'PY'
import statistics, sys
rows = [l.split()[1:] for l in open(sys.argv[1]) if l.split()[0] == sys.argv[2]]
cols = list(zip(*rows))
med = [statistics.median(float(x) for x in c) for c in cols]
print(f"{med[0]:.0f} {med[1]:.2f} {med[2]:.2f} {int(sum(int(x) for x in cols[3]))}")
PY
}
read -r bt_rps bt_p50 bt_p99 bt_err < <(median bt)
read -r t_rps t_p50 t_p99 t_err < <(median t)
read -r bc_rps bc_p50 bc_p99 bc_err < <(median bc)
read -r bu_rps bu_p50 bu_p99 bu_err < <(median bu)
read -r j_rps j_p50 j_p99 j_err < <(median j)
read -r k_rps k_p50 k_p99 k_err < <(median k)

# Tokens from cold: the auth server restarted (its verified-credential cache empty, so the first
# request of every connection would need bcrypt but for the shared verification), then the first
# DURATION seconds at CONNECTIONS connections, once per round; medians.
for round in $(seq 1 "$ROUNDS"); do
  kill "$auth_pid"; wait "$auth_pid" 2>/dev/null || true
  start_auth
  echo "c $(run "$tok_url" POST grant_type=client_credentials "$basic" "$CONNECTIONS" "$DURATION")" >>"$samples"
done
read -r c_rps c_p50 c_p99 c_err < <(median c)

# A wrong secret costs what an unknown client costs; the failure throttle answers 429 after ten tries,
# so measure the latency of the first five attempts one by one.
wrong_ms=$(for _ in 1 2 3 4 5; do
  curl -s -o /dev/null -w '%{time_total}\n' -X POST "$tok_url" -H "Authorization: $bad" -d grant_type=client_credentials
done | python3 -c 'import sys; v=[float(x)*1000 for x in sys.stdin]; print(f"{sum(v)/len(v):.1f}")')

mkdir -p bench/results
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS, $ROUNDS interleaved rounds × ${DURATION}s, medians, $BACKEND, release builds"
  echo
  echo "| scenario | requests/s | p50 ms | p99 ms | non-2xx | vs its baseline |"
  echo "|---|---|---|---|---|---|"
  echo "| baseline: hand-written POST /token (primary-key read + Ed25519 signature) | $bt_rps | $bt_p50 | $bt_p99 | $bt_err | 100% |"
  echo "| POST /oauth/token, repeat client | $t_rps | $t_p50 | $t_p99 | $t_err | $(ratio "$t_rps" "$bt_rps") |"
  echo "| baseline: hand-written actix-web + diesel GET /cases/{id}, same read and JSON, no auth | $bc_rps | $bc_p50 | $bc_p99 | $bc_err | 100% |"
  echo "| GET /v2/cases/{id} with a JWT | $j_rps | $j_p50 | $j_p99 | $j_err | $(ratio "$j_rps" "$bc_rps") |"
  echo "| GET /v2/cases/{id} with an API key | $k_rps | $k_p50 | $k_p99 | $k_err | $(ratio "$k_rps" "$bc_rps") |"
  echo "| baseline, tuned: the same read without first's bound LIMIT | $bu_rps | $bu_p50 | $bu_p99 | $bu_err | 100% |"
  echo "| GET /v2/cases/{id} with a JWT, vs the tuned baseline | $j_rps | $j_p50 | $j_p99 | $j_err | $(ratio "$j_rps" "$bu_rps") |"
  echo "| GET /v2/cases/{id} with an API key, vs the tuned baseline | $k_rps | $k_p50 | $k_p99 | $k_err | $(ratio "$k_rps" "$bu_rps") |"
  echo "| POST /oauth/token from cold (fresh auth server, first ${DURATION}s) | $c_rps | $c_p50 | $c_p99 | $c_err | $(ratio "$c_rps" "$bt_rps") |"
  echo
  echo "Wrong client secret (one SHA-256 and two constant-time digest comparisons, the same work as for an unknown client): mean latency of 5 sequential attempts: $wrong_ms ms"
} | tee "bench/results/latest-$BACKEND.md"
