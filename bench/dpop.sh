#!/usr/bin/env bash
# The cost of issue 24's credentials, measured in one run on the same machine:
#   1. GET /v2/cases/{id} with a bearer token (the baseline)
#   2. GET /v2/cases/{id} with a DPoP-bound token and a fresh proof per request (signature
#      check of the proof, its jti taken once: Redis with REDIS=1, else the database)
#   3. POST /oauth/token with a private_key_jwt assertion per request (ES256), vs
#   4. POST /oauth/token with client_secret_basic
# wrk cannot sign, so every single-use proof and assertion is made ahead by bench/dpop_gen.py
# (PyJWT; installed into target/bench-venv when missing) — enough for the scenario's duration
# at RATE_CAP requests a second; a run that outpaces them shows up as non-2xx answers.
#
#   bench/dpop.sh                               # SQLite, 2 rounds × 5 s, 32 connections
#   REDIS=1 bench/dpop.sh                       # jtis shared through a throwaway redis-server
#   BACKEND=postgres bench/dpop.sh              # a throwaway PostgreSQL (scripts/pg-throwaway.sh)
#   ALG=EdDSA bench/dpop.sh                     # Ed25519 client and DPoP keys (default ES256)
#
# Release builds on loopback; each figure is the median over the rounds. Absolute numbers move
# with the machine's load: read the ratios, measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
RATE_CAP=${RATE_CAP:-12000}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
py=python3
if ! python3 -c 'import jwt, cryptography' 2>/dev/null; then
  venv=target/bench-venv
  [ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q 'pyjwt[crypto]==2.15.1'; }
  py=$venv/bin/python
fi

cargo build --release -q -p auth-server -p resource-api
cargo build --release -q -p bench --bin verify-cost

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
. bench/lib.sh

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
auth_port=$(free_port); api_port=$(free_port)
auth=http://127.0.0.1:$auth_port
api=http://127.0.0.1:$api_port
ADMIN_TOKEN=$ADMIN AUTH_BIND=127.0.0.1:$auth_port AUTH_ISSUER=$auth \
  target/release/auth-server serve >>"$work/auth.log" 2>&1 &
pids+=($!)
wait_up "$auth/healthz"
API_BIND=127.0.0.1:$api_port AUTH_ISSUER=$auth API_PUBLIC_URL=$api \
  target/release/resource-api >"$work/api.log" 2>&1 &
pids+=($!)
wait_up "$api/healthz"

admin() { curl -fsS -X POST "$auth$1" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d "$2"; }
$py bench/dpop_gen.py keygen "$work"
secret_app=$(admin /admin/applications '{"name":"bearer","scopes":["cases:read","cases:write"],"tier":"unlimited"}')
sid=$(printf '%s' "$secret_app" | json '["client_id"]')
ssecret=$(printf '%s' "$secret_app" | json '["client_secret"]')
key_app=$(admin /admin/applications "{\"name\":\"dpop\",\"scopes\":[\"cases:read\"],\"tier\":\"unlimited\",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":$(cat "$work/jwks.json")}")
kid=$(printf '%s' "$key_app" | json '["client_id"]')

bearer=$(curl -fsS -u "$sid:$ssecret" -d grant_type=client_credentials "$auth/oauth/token" | json '["access_token"]')
case_id=$(curl -fsS -X POST "$api/v2/cases" -H "Authorization: Bearer $bearer" -H 'Content-Type: application/json' \
  -d '{"title":"bench case"}' | json '["id"]')
$py bench/dpop_gen.py assertions "$work" "$kid" "$auth" 1 >"$work/one"
dpop_token=$(curl -fsS -H "DPoP: $($py bench/dpop_gen.py proofs "$work" POST "$auth/oauth/token" 1)" \
  --data-binary "$(cat "$work/one")" "$auth/oauth/token" | json '["access_token"]')
url=$api/v2/cases/$case_id
basic="Basic $(printf '%s:%s' "$sid" "$ssecret" | base64 -w0)"

need=$((RATE_CAP * DURATION))
run() { # name url mode auth lines-file
  local out
  out=$(MODE=$3 AUTH=$4 LINES_FILE=$5 THREADS=$THREADS wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" \
    -s bench/dpop.lua "$2" | grep '^BENCH')
  echo "$1 $out" >>"$work/samples"
}
for round in $(seq 1 "$ROUNDS"); do
  run bearer_get "$url" bearer "Bearer $bearer" /dev/null
  $py bench/dpop_gen.py proofs "$work" GET "$url" "$need" "$dpop_token" >"$work/proofs"
  run dpop_get "$url" get "DPoP $dpop_token" "$work/proofs"
  run secret_token "$auth/oauth/token" basic "$basic" /dev/null
  $py bench/dpop_gen.py assertions "$work" "$kid" "$auth" "$need" >"$work/assertions"
  run private_key_jwt_token "$auth/oauth/token" post "" "$work/assertions"
done
# One signature verification, single-threaded, on this machine now (bench/src/verify_cost.rs).
target/release/verify-cost >"$work/verify"
python3 - "$work/samples" "$BACKEND" "${REDIS:-0}" "${ALG:-ES256}" "$work/verify" "$(nproc)" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rest = line.split(" ", 1)
    f = dict(kv.split("=") for kv in rest.split()[1:])
    rps = int(f["requests"]) / (int(f["duration_us"]) / 1e6)
    rows.setdefault(name, []).append((rps, int(f["p50_us"]) / 1000, int(f["p99_us"]) / 1000, int(f["non2xx"])))
print(f"backend={sys.argv[2]} redis={sys.argv[3]} alg={sys.argv[4]}")
print("| scenario | req/s (median) | p50 ms | p99 ms | non-2xx |")
print("|---|---|---|---|---|")
med = {}
for name, samples in rows.items():
    rps = statistics.median(s[0] for s in samples)
    med[name] = rps
    print(f"| {name} | {rps:,.0f} | {statistics.median(s[1] for s in samples):.2f} | "
          f"{statistics.median(s[2] for s in samples):.2f} | {sum(s[3] for s in samples)} |")
if "bearer_get" in med and "dpop_get" in med:
    bearer, dpop = med["bearer_get"], med["dpop_get"]
    print(f"DPoP read / bearer read: {dpop / bearer:.0%}")
    # The ceiling: a bearer read plus one verification of the proof's signature per request
    # (the machine's cores shared as in the bearer run), with parsing, the ath/htu checks,
    # the single-use write and the longer request all free.
    verify_us = dict(line.split() for line in open(sys.argv[5]))
    us = float(verify_us[sys.argv[4]])
    cores = int(sys.argv[6])
    ceiling = 1 / (1 / bearer + us / 1e6 / cores)
    print(f"one {sys.argv[4]} verification: {us:.1f} us on one core; ceiling of a DPoP read here: "
          f"{ceiling:,.0f}/s = {ceiling / bearer:.0%} of bearer; this run reached {dpop / ceiling:.0%} of it")
PY
