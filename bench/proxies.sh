#!/usr/bin/env bash
# The attack of issue 21 behind a real HAProxy: one client sends junk API keys through the
# balancer (70 at once, then 12 a second for 10 s); another client behind the same balancer
# presents an API key and a token the resource API has never seen. HAProxy is configured like
# deploy/haproxy.cfg (HTTP mode, `option forwardfor`); the clients connect to it from their own
# loopback addresses (127.0.0.7, 127.0.0.8), and it connects to the resource API from 127.0.0.1.
#
#   bench/proxies.sh                               # this tree's binaries, TRUSTED_PROXIES=127.0.0.1/32
#   TRUSTED_PROXIES= bench/proxies.sh              # the same binaries, nothing trusted
#   BIN_DIR=/tmp/before bench/proxies.sh           # other binaries (e.g. built from an older commit)
#
# Counts, not timings: debug binaries are fine. SQLite. Prints one JSON object (bench/proxies.py).
# Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

TRUSTED_PROXIES=${TRUSTED_PROXIES-127.0.0.1/32}
if [ -z "${BIN_DIR:-}" ]; then
  cargo build -q -p auth-server -p resource-api
  BIN_DIR=target/debug
fi
command -v haproxy >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
. bench/lib.sh

export DATABASE_URL="sqlite://$work/proxies.db" RUST_LOG=warn
ADMIN=bench-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
auth_port=$(free_port)
api_port=$(free_port)
lb_port=$(free_port)
issuer="http://127.0.0.1:$auth_port"

ADMIN_TOKEN=$ADMIN SIGNING_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64) \
  AUTH_BIND=127.0.0.1:$auth_port AUTH_ISSUER=$issuer \
  "$BIN_DIR/auth-server" serve >"$work/auth.log" 2>&1 &
pids+=($!)
wait_up "$issuer/healthz"
TRUSTED_PROXIES=$TRUSTED_PROXIES API_BIND=127.0.0.1:$api_port AUTH_ISSUER=$issuer \
  "$BIN_DIR/resource-api" serve >"$work/api.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$api_port/readyz")" = 200 ] && break
  sleep 0.1
done

cat >"$work/haproxy.cfg" <<EOF
global
    maxconn 256
defaults
    mode http
    option forwardfor
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend api
    bind 127.0.0.1:$lb_port
    default_backend resource_apis
backend resource_apis
    server api1 127.0.0.1:$api_port
EOF
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$lb_port/healthz"

python3 bench/proxies.py "http://127.0.0.1:$lb_port" "$issuer" "$ADMIN"
