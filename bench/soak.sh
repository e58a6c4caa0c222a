#!/usr/bin/env bash
# Memory and threads under sustained load: both services on their hot paths at once for
# DURATION seconds (default 600), sampling each process's RSS and thread count every 10 s.
#   1. TOKENS distinct access tokens (default 100,000) are minted first, then the resource API
#      is read with every one of them round robin (GET /v2/cases/{id}): its verified-token cache
#      must stay bounded;
#   2. meanwhile the auth server issues tokens to a repeat client (POST /oauth/token).
#
#   bench/soak.sh                       # 10 minutes, SQLite
#   DURATION=120 TOKENS=20000 bench/soak.sh
#
# Prints the samples and a summary (RSS at ready, after warm-up, peak, at the end; threads) and
# writes them to bench/results/soak.md. Release builds on loopback; everything it starts is
# stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-600}
TOKENS=${TOKENS:-100000}
CONNECTIONS=${CONNECTIONS:-32}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p auth-server -p resource-api
. bench/lib.sh
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

export DATABASE_URL="sqlite://$work/soak.db" RUST_LOG=warn
export SIGNING_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
ADMIN=soak-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)
auth_port=$(free_port); api_port=$(free_port)
ADMIN_TOKEN=$ADMIN AUTH_BIND=127.0.0.1:$auth_port AUTH_ISSUER=http://127.0.0.1:$auth_port \
  target/release/auth-server serve >"$work/auth.log" 2>&1 &
auth_pid=$!; pids+=($auth_pid)
wait_up "http://127.0.0.1:$auth_port/healthz"
API_BIND=127.0.0.1:$api_port AUTH_ISSUER=http://127.0.0.1:$auth_port target/release/resource-api >"$work/api.log" 2>&1 &
api_pid=$!; pids+=($api_pid)
wait_up "http://127.0.0.1:$api_port/readyz"

rss() { mb VmRSS "$1" 1; }
# The process's own memory: about VmRSS without its file-backed pages (the database file's pages
# its SQLite connections map, the binary's).
anon() { mb RssAnon "$1" 1; }
threads() { awk '/^Threads/ {print $2}' "/proc/$1/status"; }
ready="auth $(rss $auth_pid) MB / $(threads $auth_pid) threads, api $(rss $api_pid) MB / $(threads $api_pid) threads"

admin() { curl -fs -X POST "http://127.0.0.1:$auth_port$1" -H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json" -d "$2"; }
app=$(admin /admin/applications '{"name":"soak","scopes":["cases:read","cases:write"],"environment":"sandbox","tier":"unlimited"}')
basic="Basic $(printf '%s:%s' "$(printf '%s' "$app" | json '["client_id"]')" "$(printf '%s' "$app" | json '["client_secret"]')" | base64 -w0)"
token=$(curl -fs -X POST "http://127.0.0.1:$auth_port/oauth/token" -H "Authorization: $basic" -d grant_type=client_credentials | json '["access_token"]')
case_id=$(curl -fs -X POST "http://127.0.0.1:$api_port/v2/cases" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
  -d '{"title":"soak case"}' | json '["id"]')

# Mint the distinct tokens (wrk stops when the time is up; enough at ~10k tokens/s).
echo "minting $TOKENS tokens" >&2
mint_secs=$(( TOKENS / 2000 + 5 ))
MODE=mint AUTH="$basic" OUT_PREFIX="$work/tok" wrk -t2 -c16 -d"${mint_secs}s" -s bench/tokens.lua \
  "http://127.0.0.1:$auth_port/oauth/token" >/dev/null
awk -v n="$TOKENS" "NR <= n" "$work"/tok.* >"$work/tokens"
minted=$(wc -l <"$work/tokens")

echo "load for ${DURATION}s" >&2
MODE=read TOKENS_FILE="$work/tokens" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/tokens.lua \
  "http://127.0.0.1:$api_port/v2/cases/$case_id" >"$work/api.wrk" &
w1=$!
METHOD=POST BODY=grant_type=client_credentials AUTH="$basic" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/request.lua \
  "http://127.0.0.1:$auth_port/oauth/token" >"$work/auth.wrk" &
w2=$!
samples="$work/samples"
t=0
while kill -0 $w1 2>/dev/null || kill -0 $w2 2>/dev/null; do
  echo "$t $(rss $auth_pid) $(threads $auth_pid) $(rss $api_pid) $(threads $api_pid) $(anon $auth_pid) $(anon $api_pid)" >>"$samples"
  sleep 10; t=$((t + 10))
done
echo "$t $(rss $auth_pid) $(threads $auth_pid) $(rss $api_pid) $(threads $api_pid) $(anon $auth_pid) $(anon $api_pid)" >>"$samples"

mkdir -p bench/results
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, SQLite, release builds, ${DURATION}s, $CONNECTIONS connections per service, $minted distinct tokens"
  echo
  echo "At ready: $ready"
  echo
  echo "| s | auth RSS MB | auth threads | api RSS MB | api threads | auth RssAnon MB | api RssAnon MB |"
  echo "|---|---|---|---|---|---|---|"
  awk '{printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7}' "$samples"
  echo
  python3 - "$samples" "$work/api.wrk" "$work/auth.wrk" <<'PY'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
warm = [r for r in rows if r[0] >= 60] or rows
for name, rss, thr, own in (("auth-server", 1, 2, 5), ("resource-api", 3, 4, 6)):
    print(f"- {name}: RSS after warm-up (60 s) {warm[0][rss]:.1f} MB, peak {max(r[rss] for r in rows):.1f} MB, "
          f"at the end {rows[-1][rss]:.1f} MB (own memory, RssAnon: {rows[-1][own]:.1f} MB); "
          f"threads at most {max(int(r[thr]) for r in rows)}")
for label, path in (("resource-api reads", sys.argv[2]), ("token requests", sys.argv[3])):
    line = next((l for l in open(path) if l.startswith("BENCH")), "")
    f = dict(kv.split("=") for kv in line.split()[1:]) if line else {}
    if f:
        rps = int(f["requests"]) / (int(f["duration_us"]) / 1e6)
        print(f"- {label}: {rps:.0f}/s, p99 {int(f['p99_us'])/1000:.1f} ms, non-2xx {f['non2xx']}")
PY
} | tee bench/results/soak.md
