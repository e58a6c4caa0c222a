#!/usr/bin/env bash
# A legitimate client's token rate while others guess: POST /oauth/token for a repeat client
# (its secret verified once and cached), alone and then with 32 more connections beside it
# sending wrong secrets — 16 for the legitimate client's own id (the lockout attack) and 16 for
# unknown client ids. Goal: with the attack, at least half the unloaded rate.
#
#   bench/throttle.sh                  # 3 interleaved rounds × 8 s, 16 legitimate connections
#   ROUNDS=5 DURATION=10 bench/throttle.sh
#
# Release build, SQLite, production bcrypt cost (11), wrk on the same 2 cores. Writes
# bench/results/throttle.md. Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
LEGIT=${LEGIT:-16}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
cargo build --release -q -p auth-server

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
. bench/lib.sh

export DATABASE_URL="sqlite://$work/throttle.db" RUST_LOG=error
export SIGNING_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
ADMIN=bench-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
port=$(free_port)
ADMIN_TOKEN=$ADMIN AUTH_BIND=127.0.0.1:$port AUTH_ISSUER=http://127.0.0.1:$port \
  target/release/auth-server serve >"$work/auth.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

app=$(curl -fs -X POST "http://127.0.0.1:$port/admin/applications" -H "Authorization: Bearer $ADMIN" \
  -H "Content-Type: application/json" -d '{"name":"legit","scopes":["cases:read"],"environment":"sandbox","tier":"unlimited"}')
id=$(printf '%s' "$app" | json '["client_id"]'); secret=$(printf '%s' "$app" | json '["client_secret"]')
legit="Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
unknown_id=app_doesnotexist0000000000
url="http://127.0.0.1:$port/oauth/token"

run() { # conns secs auth [client id to guess for] -> "rps p50 p99 non2xx"
  local line
  line=$(GUESS_CLIENT_ID="${4:-}" METHOD=POST BODY=grant_type=client_credentials AUTH="$3" wrk -t1 -c"$1" -d"${2}s" -s bench/request.lua "$url" | grep '^BENCH')
  python3 - "$line" <<'PY'
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
print(f'{int(f["requests"]) / (int(f["duration_us"]) / 1e6):.0f} {int(f["p50_us"])/1000:.2f} {int(f["p99_us"])/1000:.2f} {f["non2xx"]}')
PY
}

run 4 2 "$legit" >/dev/null # warm: the legitimate secret is verified once and cached
samples="$work/samples"
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  echo "alone $(run "$LEGIT" "$DURATION" "$legit")" >>"$samples"
  # The attack starts first and outlasts the measurement.
  run 16 $((DURATION + 3)) "" "$id" >"$work/victim.$round" &
  a1=$!
  run 16 $((DURATION + 3)) "" "$unknown_id" >"$work/unknown.$round" &
  a2=$!
  sleep 1
  echo "attacked $(run "$LEGIT" "$DURATION" "$legit")" >>"$samples"
  wait "$a1" "$a2"
  echo "victim_guess $(cat "$work/victim.$round")" >>"$samples"
  echo "unknown_guess $(cat "$work/unknown.$round")" >>"$samples"
done
median() {
  python3 - "$samples" "$1" <<'PY'
import statistics, sys
rows = [l.split()[1:] for l in open(sys.argv[1]) if l.split()[0] == sys.argv[2]]
cols = list(zip(*rows))
med = [statistics.median(float(x) for x in c) for c in cols]
print(f"{med[0]:.0f} {med[1]:.2f} {med[2]:.2f} {int(sum(int(x) for x in cols[3]))}")
PY
}
read -r a_rps a_p50 a_p99 a_err < <(median alone)
read -r x_rps x_p50 x_p99 x_err < <(median attacked)
read -r v_rps v_p50 v_p99 v_err < <(median victim_guess)
read -r u_rps u_p50 u_p99 u_err < <(median unknown_guess)
mkdir -p bench/results
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $ROUNDS interleaved rounds × ${DURATION}s, medians, SQLite, release, bcrypt cost 11, BCRYPT_CONCURRENCY default"
  echo
  echo "| traffic | requests/s | p50 ms | p99 ms | non-2xx |"
  echo "|---|---|---|---|---|"
  echo "| legitimate repeat client, $LEGIT connections, alone | $a_rps | $a_p50 | $a_p99 | $a_err |"
  echo "| the same, with the 32 guessing connections below | $x_rps | $x_p50 | $x_p99 | $x_err |"
  echo "| 16 connections: wrong secrets for the legitimate client's id | $v_rps | $v_p50 | $v_p99 | $v_err (401/429) |"
  echo "| 16 connections: wrong secrets for an unknown id | $u_rps | $u_p50 | $u_p99 | $u_err (401/429) |"
  echo
  echo "Legitimate rate under attack: $(python3 -c "print(f'{$x_rps / $a_rps * 100:.0f}%')") of its unloaded rate (goal ≥ 50%); its requests refused: $x_err."
} | tee bench/results/throttle.md
