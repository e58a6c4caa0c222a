#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: repeatable on a noisy shared
# machine where wall-clock throughput is not. Compares the whole process of the hand-written baseline
# (`GET /cases/{id}`) with the resource API (`GET /v2/cases/{id}`) with a JWT and with an API
# key, and the tuned baseline (`GET /cases-tuned/{id}`, the read without diesel's `first`): each
# is run twice, with N1 and N2 sequential requests, and the difference divided by
# N2 − N1 is the marginal cost of one request (start-up cancels out). The resource API's
# once-a-second credential poller is included in its count, so its ratio is a lower bound.
# Issue 24's credentials too: the same read with a DPoP-bound token and a fresh ES256 proof
# per request (its jti taken in the database: no Redis), and POST /oauth/token authenticated
# by a private_key_jwt assertion (ES256) beside one by client_secret_basic; proofs and
# assertions are signed ahead by bench/dpop_gen.py (PyJWT, in target/bench-venv if missing).
#
#   bench/callgrind.sh            # N1=20, N2=220; takes a few minutes
#   CG_KEEP=DIR bench/callgrind.sh  # also keeps the issue-24 rows' callgrind files in DIR
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-20}
N2=${N2:-220}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
py=python3
if ! python3 -c 'import jwt, cryptography' 2>/dev/null; then
  venv=target/bench-venv
  [ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q 'pyjwt[crypto]==2.15.1'; }
  py=$venv/bin/python
fi
cargo build --release -q -p auth-server -p resource-api -p bench
R=$PWD/target/release
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
. bench/lib.sh
j() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

export DATABASE_URL="sqlite://$work/cg.db" RUST_LOG=error
export SIGNING_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
ADMIN=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
auth_port=$(free_port); api_port=$(free_port); base_port=$(free_port)
ADMIN_TOKEN=$ADMIN AUTH_BIND=127.0.0.1:$auth_port AUTH_ISSUER=http://127.0.0.1:$auth_port "$R/auth-server" serve >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$auth_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
admin() { curl -fs -X POST "http://127.0.0.1:$auth_port$1" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d "$2"; }
app=$(admin /admin/applications '{"name":"cg","scopes":["cases:read","cases:write"],"environment":"sandbox","tier":"unlimited"}')
token=$(curl -fs -X POST "http://127.0.0.1:$auth_port/oauth/token" -u "$(echo "$app" | j '["client_id"]'):$(echo "$app" | j '["client_secret"]')" -d grant_type=client_credentials | j '["access_token"]')
key=$(admin /admin/api-keys '{"name":"cg","environment":"sandbox","scopes":["cases:read"],"tier":"unlimited"}' | j '["key"]')
export API_BIND=127.0.0.1:$api_port AUTH_ISSUER=http://127.0.0.1:$auth_port BASELINE_BIND=127.0.0.1:$base_port
export API_PUBLIC_URL=http://127.0.0.1:$api_port
"$R/resource-api" >/dev/null 2>&1 &
tmp_api=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$api_port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
case_id=$(curl -fs -X POST "http://127.0.0.1:$api_port/v2/cases" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"title":"callgrind"}' | j '["id"]')
# A full first page for the list row: 20 more cases, each with a description.
for i in $(seq 1 20); do
  curl -fs -o /dev/null -X POST "http://127.0.0.1:$api_port/v2/cases" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"title\":\"callgrind $i\",\"priority\":\"high\",\"description\":\"a case of moderate length, number $i\"}"
done
# Issue 24: a private_key_jwt application (ES256) and a DPoP-bound token of it. The second
# auth server (under valgrind below) shares the database and answers at its own issuer.
auth2_port=$(free_port)
auth2=http://127.0.0.1:$auth2_port
$py bench/dpop_gen.py keygen "$work"
key_app=$(admin /admin/applications "{\"name\":\"cg-dpop\",\"scopes\":[\"cases:read\"],\"environment\":\"sandbox\",\"tier\":\"unlimited\",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":$(cat "$work/jwks.json")}")
kid=$(echo "$key_app" | j '["client_id"]')
$py bench/dpop_gen.py assertions "$work" "$kid" "http://127.0.0.1:$auth_port" 1 >"$work/one"
dpop_token=$(curl -fs -H "DPoP: $($py bench/dpop_gen.py proofs "$work" POST "http://127.0.0.1:$auth_port/oauth/token" 1)" \
  --data-binary "$(cat "$work/one")" "http://127.0.0.1:$auth_port/oauth/token" | j '["access_token"]')
sid=$(echo "$app" | j '["client_id"]'); ssecret=$(echo "$app" | j '["client_secret"]')
kill "$tmp_api"; wait "$tmp_api" 2>/dev/null || true

# Prints the total instructions of one run of `bin` serving `n` requests.
count() {
  local bin=$1 url=$2 cred=$3 n=$4 out="$work/cg.$RANDOM.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" != "000" ] && break; sleep 0.2; done
  sleep 1
  for _ in $(seq 1 "$n"); do curl -s -o /dev/null "$url" -H "Authorization: Bearer $cred"; done
  kill -TERM "$pid"; wait "$pid" || true
  grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
}
per_request() {
  local a b
  a=$(count "$@" "$N1"); b=$(count "$@" "$N2")
  echo $(( (b - a) / (N2 - N1) ))
}
base=$(per_request "$R/baseline" "http://127.0.0.1:$base_port/cases/$case_id" none)
tuned=$(per_request "$R/baseline" "http://127.0.0.1:$base_port/cases-tuned/$case_id" none)
jwt=$(per_request "$R/resource-api" "http://127.0.0.1:$api_port/v2/cases/$case_id" "$token")
apikey=$(per_request "$R/resource-api" "http://127.0.0.1:$api_port/v2/cases/$case_id" "$key")
list=$(per_request "$R/resource-api" "http://127.0.0.1:$api_port/v2/cases?page_size=20" "$token")

# As count, for requests that each need their own single-use credential: after `bin` (with
# its arguments) answers at `ready`, `prepare n` writes n lines to $work/lines (signed then, so
# that no proof is stale when used) and `send line` makes one request.
count_each() {
  local ready=$1 prepare=$2 send=$3 n=$4 out="$work/cg.$RANDOM.out"
  shift 4
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$ready")" != "000" ] && break; sleep 0.2; done
  sleep 1
  "$prepare" "$n"
  local line
  while IFS= read -r line; do "$send" "$line"; done <"$work/lines"
  kill -TERM "$pid"; wait "$pid" || true
  [ -n "${CG_KEEP:-}" ] && cp "$out" "$CG_KEEP/$prepare.$n.out"
  grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
}
per_request_each() {
  local a b
  a=$(count_each "$1" "$2" "$3" "$N1" "${@:4}"); b=$(count_each "$1" "$2" "$3" "$N2" "${@:4}")
  echo $(( (b - a) / (N2 - N1) ))
}
read_url=http://127.0.0.1:$api_port/v2/cases/$case_id
proofs() { $py bench/dpop_gen.py proofs "$work" GET "$read_url" "$1" "$dpop_token" >"$work/lines"; }
dpop_read() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$read_url" -H "Authorization: DPoP $dpop_token" -H "DPoP: $1")" = 200 ] \
    || echo "DPoP read refused" >&2
}
assertions() { $py bench/dpop_gen.py assertions "$work" "$kid" "$auth2" "$1" >"$work/lines"; }
assertion_token() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$auth2/oauth/token" --data-binary "$1")" = 200 ] \
    || echo "private_key_jwt token refused" >&2
}
secrets() { for _ in $(seq 1 "$1"); do echo grant_type=client_credentials; done >"$work/lines"; }
secret_token() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$auth2/oauth/token" -u "$sid:$ssecret" -d "$1")" = 200 ] \
    || echo "client_secret_basic token refused" >&2
}
dpop=$(per_request_each "$read_url" proofs dpop_read "$R/resource-api")
# (Environment exported, not `env …`: valgrind would measure env and lose the server at exec.)
auth2_env() { export ADMIN_TOKEN=$ADMIN AUTH_BIND=127.0.0.1:$auth2_port AUTH_ISSUER=$auth2; }
pkjwt=$(auth2_env; per_request_each "$auth2/healthz" assertions assertion_token "$R/auth-server" serve)
basic=$(auth2_env; per_request_each "$auth2/healthz" secrets secret_token "$R/auth-server" serve)

pct() { python3 -c "print(f'{$1 / $2 * 100:.0f}%')"; }
echo "| scenario | instructions per request | throughput ratio if CPU-bound |"
echo "|---|---|---|"
echo "| baseline: hand-written GET /cases/{id} (same read and JSON, no auth) | $base | 100% |"
echo "| GET /v2/cases/{id} with a JWT | $jwt | $(pct "$base" "$jwt") |"
echo "| GET /v2/cases/{id} with an API key | $apikey | $(pct "$base" "$apikey") |"
echo "| baseline, tuned: the same read without first's bound LIMIT | $tuned | 100% |"
echo "| GET /v2/cases/{id} with a JWT, vs the tuned baseline | $jwt | $(pct "$tuned" "$jwt") |"
echo "| GET /v2/cases/{id} with an API key, vs the tuned baseline | $apikey | $(pct "$tuned" "$apikey") |"
echo "| GET /v2/cases (a page of 20), JWT, vs the same service's point read | $list | $(pct "$jwt" "$list") |"
echo "| GET /v2/cases/{id}, DPoP-bound token + fresh ES256 proof (jti in the database), vs the JWT read | $dpop | $(pct "$jwt" "$dpop") |"
echo "| POST /oauth/token, client_secret_basic (auth server) | $basic | 100% |"
echo "| POST /oauth/token, private_key_jwt ES256 assertion, vs client_secret_basic | $pkjwt | $(pct "$basic" "$pkjwt") |"
