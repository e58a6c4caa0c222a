#!/usr/bin/env bash
# The Redis limiter's cost on the authenticated read, against the hand-written baseline, in one
# run (interleaved rounds, medians), on SQLite:
#   baseline   GET /cases/{id} of bench/src/baseline.rs (same read and JSON, no auth)
#   local      GET /v2/cases/{id}, rate-limited API keys, the in-process limiter (no REDIS_URL)
#   redis      the same on a second resource API with REDIS_URL (a throwaway redis-server)
#   local+unl, redis+unl  both resource APIs with an `unlimited` key (the limiter is skipped):
#              what the two processes cost apart from the limiter
# Each request of `local` and `redis` sends the next of KEYS `enterprise` API keys (5000/min,
# burst 500), so that the limiter is on the path of every request and no key reaches its limit
# (non-2xx shows it if one does). Also prints the Redis calls per limited request (leases) and
# the resident memory (VmRSS) of each process after the load.
#
#   bench/redis-limiter.sh                       # 3 rounds × 5 s, 64 connections, 400 keys
#   ROUNDS=5 DURATION=10 KEYS=800 bench/redis-limiter.sh
#
# Absolute numbers move with the machine's load: read the ratios, measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
KEYS=${KEYS:-400}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

cargo build --release -q -p auth-server -p resource-api -p bench

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

. bench/lib.sh
rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

export DATABASE_URL="sqlite://$work/bench.db" RUST_LOG=warn
export SIGNING_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
ADMIN=bench-admin-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
auth_port=$(free_port); local_port=$(free_port); redis_api_port=$(free_port); base_port=$(free_port); redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
pids+=($!)
ADMIN_TOKEN=$ADMIN AUTH_BIND=127.0.0.1:$auth_port AUTH_ISSUER=http://127.0.0.1:$auth_port \
  target/release/auth-server serve >"$work/auth.log" 2>&1 &
auth_pid=$!; pids+=($auth_pid)
wait_up "http://127.0.0.1:$auth_port/healthz"
API_BIND=127.0.0.1:$local_port AUTH_ISSUER=http://127.0.0.1:$auth_port target/release/resource-api >"$work/local.log" 2>&1 &
local_pid=$!; pids+=($local_pid)
REDIS_URL=redis://127.0.0.1:$redis_port/ API_BIND=127.0.0.1:$redis_api_port AUTH_ISSUER=http://127.0.0.1:$auth_port \
  target/release/resource-api >"$work/redis.log" 2>&1 &
redis_api_pid=$!; pids+=($redis_api_pid)
BASELINE_BIND=127.0.0.1:$base_port target/release/baseline >/dev/null 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$local_port/readyz"
wait_up "http://127.0.0.1:$redis_api_port/readyz"
wait_up "http://127.0.0.1:$base_port/cases/none"

admin() { curl -fs -X POST "http://127.0.0.1:$auth_port$1" -H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json" -d "$2"; }
app=$(admin /admin/applications '{"name":"bench","scopes":["cases:read","cases:write"],"environment":"sandbox","tier":"unlimited"}')
client_id=$(printf '%s' "$app" | json '["client_id"]'); secret=$(printf '%s' "$app" | json '["client_secret"]')
token=$(curl -fs -X POST "http://127.0.0.1:$auth_port/oauth/token" -u "$client_id:$secret" -d grant_type=client_credentials | json '["access_token"]')
case_id=$(curl -fs -X POST "http://127.0.0.1:$local_port/v2/cases" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
  -d '{"title":"benchmark case","description":"a realistic description of a suspicious pattern","priority":"high"}' | json '["id"]')
unlimited_key=$(admin /admin/api-keys '{"name":"bench","environment":"sandbox","scopes":["cases:read"],"tier":"unlimited"}' | json '["key"]')
keys_file="$work/keys"
for _ in $(seq 1 "$KEYS"); do
  admin /admin/api-keys '{"name":"bench","environment":"sandbox","scopes":["cases:read"],"tier":"enterprise"}' | json '["key"]'
done >"$keys_file"
sleep 2 # both resource APIs' credential polls have seen every key

run() {
  local url=$1 script=$2 auth=$3 line
  line=$(KEYS_FILE="$keys_file" AUTH="$auth" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$script" "$url" | grep '^BENCH')
  python3 - "$line" <<'PY'
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
rps = int(f["requests"]) / (int(f["duration_us"]) / 1e6)
print(f'{rps:.0f} {int(f["p50_us"])/1000:.2f} {int(f["p99_us"])/1000:.2f} {f["non2xx"]} {f["requests"]}')
PY
}
ratio() { python3 -c "print(f'{$1 / $2 * 100:.0f}%')"; }
evals() { redis-cli -p "$redis_port" info commandstats | awk -F'[:=,]' '/^cmdstat_(evalsha|eval):/ {s+=$3} END {print s+0}'; }

base_case="http://127.0.0.1:$base_port/cases/$case_id"
local_case="http://127.0.0.1:$local_port/v2/cases/$case_id"
redis_case="http://127.0.0.1:$redis_api_port/v2/cases/$case_id"

# Warm-up (short, so that no key spends much of its budget).
DURATION=1 run "$base_case" bench/request.lua "" >/dev/null
DURATION=1 run "$local_case" bench/keys.lua "" >/dev/null
DURATION=1 run "$redis_case" bench/keys.lua "" >/dev/null

samples="$work/samples"
redis_requests=0
evals_before=$(evals)
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  echo "b $(run "$base_case" bench/request.lua "")" >>"$samples"
  echo "l $(run "$local_case" bench/keys.lua "")" >>"$samples"
  r=$(run "$redis_case" bench/keys.lua "")
  echo "r $r" >>"$samples"
  redis_requests=$((redis_requests + $(echo "$r" | awk '{print $5}')))
  echo "lu $(run "$local_case" bench/request.lua "Bearer $unlimited_key")" >>"$samples"
  echo "u $(run "$redis_case" bench/request.lua "Bearer $unlimited_key")" >>"$samples"
done
evals_after=$(evals)
median() {
  python3 - "$samples" "$1" <<'PY'
import statistics, sys
rows = [l.split()[1:] for l in open(sys.argv[1]) if l.split()[0] == sys.argv[2]]
cols = list(zip(*rows))
med = [statistics.median(float(x) for x in c) for c in cols[:3]]
print(f"{med[0]:.0f} {med[1]:.2f} {med[2]:.2f} {int(sum(int(x) for x in cols[3]))}")
PY
}
read -r b_rps b_p50 b_p99 b_err < <(median b)
read -r l_rps l_p50 l_p99 l_err < <(median l)
read -r r_rps r_p50 r_p99 r_err < <(median r)
read -r u_rps u_p50 u_p99 u_err < <(median u)
read -r lu_rps lu_p50 lu_p99 lu_err < <(median lu)
per_call=$(python3 -c "e=$evals_after-$evals_before; print(f'{$redis_requests / e:.1f}' if e else 'n/a')")

mkdir -p bench/results
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS, $ROUNDS interleaved rounds × ${DURATION}s, medians, SQLite, release builds, $KEYS enterprise keys"
  echo
  echo "| scenario | requests/s | p50 ms | p99 ms | non-2xx | vs baseline |"
  echo "|---|---|---|---|---|---|"
  echo "| baseline: hand-written GET /cases/{id}, no auth | $b_rps | $b_p50 | $b_p99 | $b_err | 100% |"
  echo "| GET /v2/cases/{id}, enterprise API keys, in-process limiter | $l_rps | $l_p50 | $l_p99 | $l_err | $(ratio "$l_rps" "$b_rps") |"
  echo "| GET /v2/cases/{id}, enterprise API keys, Redis limiter | $r_rps | $r_p50 | $r_p99 | $r_err | $(ratio "$r_rps" "$b_rps") |"
  echo "| GET /v2/cases/{id}, unlimited API key, in-process limiter (skipped) | $lu_rps | $lu_p50 | $lu_p99 | $lu_err | $(ratio "$lu_rps" "$b_rps") |"
  echo "| GET /v2/cases/{id}, unlimited API key, Redis configured (limiter skipped) | $u_rps | $u_p50 | $u_p99 | $u_err | $(ratio "$u_rps" "$b_rps") |"
  echo
  echo "Redis limiter: $per_call limited requests per Redis call (leases); Redis vs in-process limiter: $(ratio "$r_rps" "$l_rps")"
  echo "VmRSS after the load: auth-server $(rss_mb $auth_pid) MB, resource-api (in-process limiter) $(rss_mb $local_pid) MB, resource-api (Redis) $(rss_mb $redis_api_pid) MB"
} | tee bench/results/redis-limiter.md
