#!/usr/bin/env bash
# Benchmarks the hot paths against a bare actix-web baseline measured in the same run.
#
#   bench/run.sh            # default: 10 s per scenario, 64 connections, 2 wrk threads
#   DURATION=30 CONNECTIONS=128 bench/run.sh
#
# Starts release builds on loopback with a fresh SQLite database, drives them with wrk from
# the same machine, prints a table and writes it to bench/results/latest.md. Everything it
# starts is stopped on exit. Numbers are only comparable within one run: the baseline column
# is there so that the ratio, not the absolute figure, is what you read.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }

cargo build --release -q -p auth-server -p bench

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

base_port=$(free_port)
BASELINE_BIND=127.0.0.1:$base_port target/release/baseline >/dev/null 2>&1 &
pids+=($!)

auth_port=$(free_port)
ADMIN_TOKEN=bench-admin DATABASE_URL="sqlite://$work/bench.db" AUTH_BIND=127.0.0.1:$auth_port \
  RUST_LOG=warn target/release/auth-server serve >"$work/auth.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$base_port/"
wait_up "http://127.0.0.1:$auth_port/healthz"

created=$(curl -fs -X POST "http://127.0.0.1:$auth_port/admin/applications" \
  -H "Authorization: Bearer bench-admin" -H "Content-Type: application/json" \
  -d '{"name":"bench","scopes":["cases:read","cases:write"],"environment":"sandbox","tier":"unlimited"}')
client_id=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
secret=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
good="Basic $(printf '%s:%s' "$client_id" "$secret" | base64 -w0)"
bad="Basic $(printf '%s:%s' "$client_id" "cfsec_wrong" | base64 -w0)"

# One scenario: prints "requests/s p50_ms p99_ms non2xx".
run() {
  local url=$1 basic=$2 conns=$3 secs=$4
  local line
  local threads=$THREADS
  [ "$conns" -lt "$threads" ] && threads=$conns
  line=$(BASIC="$basic" wrk -t"$threads" -c"$conns" -d"${secs}s" -s bench/token.lua "$url" | grep '^BENCH')
  python3 - "$line" <<'PY'
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
rps = int(f["requests"]) / (int(f["duration_us"]) / 1e6)
print(f'{rps:.0f} {int(f["p50_us"])/1000:.2f} {int(f["p99_us"])/1000:.2f} {f["non2xx"]}')
PY
}

# Warm up both servers (and the verified-credential cache) before measuring.
run "http://127.0.0.1:$base_port/" "$good" 8 2 >/dev/null
run "http://127.0.0.1:$auth_port/oauth/token" "$good" 8 2 >/dev/null

read -r b_rps b_p50 b_p99 b_err < <(run "http://127.0.0.1:$base_port/" "$good" "$CONNECTIONS" "$DURATION")
read -r t_rps t_p50 t_p99 t_err < <(run "http://127.0.0.1:$auth_port/oauth/token" "$good" "$CONNECTIONS" "$DURATION")
# A wrong secret pays the full bcrypt verify. The failure throttle answers 429 after ten tries,
# so measure the latency of the first five attempts one by one instead of throughput.
wrong_ms=$(for _ in 1 2 3 4 5; do
  curl -s -o /dev/null -w '%{time_total}\n' -X POST "http://127.0.0.1:$auth_port/oauth/token" \
    -H "Authorization: $bad" -H "Content-Type: application/x-www-form-urlencoded" -d grant_type=client_credentials
done | python3 -c 'import sys; v=[float(x)*1000 for x in sys.stdin]; print(f"{sum(v)/len(v):.1f}")')

ratio=$(python3 -c "print(f'{$t_rps / $b_rps * 100:.0f}%')")
mkdir -p bench/results
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, SQLite, release build"
  echo
  echo "| scenario | requests/s | p50 ms | p99 ms | non-2xx | vs baseline |"
  echo "|---|---|---|---|---|---|"
  echo "| bare actix-web POST (baseline) | $b_rps | $b_p50 | $b_p99 | $b_err | 100% |"
  echo "| POST /oauth/token, repeat client (cached verify) | $t_rps | $t_p50 | $t_p99 | $t_err | $ratio |"
  echo
  echo "Wrong secret (full bcrypt verify, cost 11): mean latency of 5 sequential attempts: $wrong_ms ms"
} | tee bench/results/latest.md
