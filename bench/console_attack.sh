#!/usr/bin/env bash
# The console sign-in attacks of issue 21 against a real auth server (SQLite, release build):
#
#   guess   2 connections guess one operator's password from a list where it is 38th, moving on
#           after a 429 (which meant "wrong" while throttled attempts were still checked)
#   patient the same, retrying every guess refused with 429 a second later
#   spread  the same guesses, each from a new source address (a botnet)
#   flood   32 connections of wrong sign-ins for 15 s from one address, while another address
#           signs in with the right password once a second
#
#   bench/console_attack.sh                        # this tree, release build
#   BIN_DIR=/tmp/before bench/console_attack.sh    # other binaries (e.g. built from an older commit)
#
# Each scenario runs against a fresh server and database. Clients bind distinct loopback
# source addresses (bench/console_attack.py), so no proxy is needed. Prints one JSON object per
# scenario, with the audit rows the scenario wrote. Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${BIN_DIR:-}" ]; then
  cargo build --release -q -p auth-server
  BIN_DIR=target/release
fi
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
. bench/lib.sh

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

EMAIL=ada@example.com
PASSWORD='correct horse battery staple'

run() { # scenario
  local db="$work/$1.db" port
  port=$(free_port)
  export DATABASE_URL="sqlite://$db" RUST_LOG=warn
  export SIGNING_KEY_ENCRYPTION_KEY=${SIGNING_KEY_ENCRYPTION_KEY:-$(head -c 32 /dev/urandom | base64)}
  "$BIN_DIR/auth-server" migrate >/dev/null
  printf '%s\n' "$PASSWORD" | "$BIN_DIR/auth-server" operator create --email "$EMAIL" \
    --role developer --password-stdin >/dev/null
  AUTH_BIND=127.0.0.1:$port AUTH_ISSUER=http://127.0.0.1:$port "$BIN_DIR/auth-server" serve \
    >"$work/$1.log" 2>&1 &
  pid=$!
  wait_up "http://127.0.0.1:$port/healthz"
  local out rows
  out=$(python3 bench/console_attack.py "http://127.0.0.1:$port" "$1" "$EMAIL" "$PASSWORD")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  rows=$("$BIN_DIR/auth-server" audit export | grep -c '"session.login"' || true)
  python3 -c "import json,sys; o=json.loads(sys.argv[1]); o['audit_login_rows']=int(sys.argv[2]); print(json.dumps(o))" \
    "$out" "$rows"
}

for scenario in ${SCENARIOS:-guess patient spread flood}; do
  run "$scenario"
done
