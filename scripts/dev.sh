#!/usr/bin/env bash
# Starts the whole stack locally on SQLite: auth-server on :8081, resource-api on :8080,
# one database file (./caseforge.db). Prints the admin token and curl lines that work as
# printed. Ctrl-C stops both services.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL=${DATABASE_URL:-sqlite://caseforge.db}
export AUTH_BIND=${AUTH_BIND:-127.0.0.1:8081}
export API_BIND=${API_BIND:-127.0.0.1:8080}
export AUTH_ISSUER=${AUTH_ISSUER:-http://$AUTH_BIND}
export RUST_LOG=${RUST_LOG:-info}
# A development admin token and key-encryption key, generated once and kept in .env (which is
# git-ignored and readable by you only): the signing keys in the database are sealed with the
# KEK, so losing it means new signing keys, and leaking it with the database leaks them.
touch .env && chmod 600 .env
from_env_file() { { grep "^$1=" .env || true; } | tail -n 1 | cut -d= -f2-; }
if [ -z "${ADMIN_TOKEN:-}" ]; then
  ADMIN_TOKEN=$(from_env_file ADMIN_TOKEN)
  if [ "${#ADMIN_TOKEN}" -lt 32 ]; then
    ADMIN_TOKEN="dev-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"
    echo "ADMIN_TOKEN=$ADMIN_TOKEN" >>.env
  fi
fi
if [ -z "${SIGNING_KEY_ENCRYPTION_KEY:-}" ]; then
  SIGNING_KEY_ENCRYPTION_KEY=$(from_env_file SIGNING_KEY_ENCRYPTION_KEY)
  if [ -z "$SIGNING_KEY_ENCRYPTION_KEY" ]; then
    SIGNING_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
    echo "SIGNING_KEY_ENCRYPTION_KEY=$SIGNING_KEY_ENCRYPTION_KEY" >>.env
  fi
fi
export ADMIN_TOKEN SIGNING_KEY_ENCRYPTION_KEY

cargo build --release -q -p auth-server -p resource-api

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

target/release/auth-server serve &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://$AUTH_BIND/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
target/release/resource-api &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://$API_BIND/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

# Demo credentials, made fresh on each start (secrets are shown only once).
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
app=$(target/release/auth-server app create --name "demo service" --environment sandbox \
  --scopes cases:read,cases:write,sar:read,sar:write,watchlist:read,watchlist:write,subjects:read,subjects:write,transactions:read,alerts:read 2>/dev/null)
client_id=$(printf '%s' "$app" | json '["client_id"]')
client_secret=$(printf '%s' "$app" | json '["client_secret"]')
key=$(target/release/auth-server key create --name "dev sandbox key" --environment sandbox \
  --scopes cases:read,cases:write,sar:read,watchlist:read,subjects:read,transactions:read,alerts:read 2>/dev/null | json '["key"]')

cat <<HINT

CaseForge is running on SQLite ($DATABASE_URL):
  auth-server   http://$AUTH_BIND   (JWKS: http://$AUTH_BIND/.well-known/jwks.json)
  resource-api  http://$API_BIND

Admin token (kept in .env): $ADMIN_TOKEN
Demo application (sandbox):  client_id=$client_id  client_secret=$client_secret
Sandbox API key:             $key

Call the API with the key (sandbox comes with sample transactions and alerts):
  curl -s http://$API_BIND/v2/transactions -H "X-API-Key: $key"

Or exchange the application's credentials for a 60-minute token and use it:
  TOKEN=\$(curl -s -X POST http://$AUTH_BIND/oauth/token -u "$client_id:$client_secret" -d grant_type=client_credentials | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s http://$API_BIND/v2/cases -H "Authorization: Bearer \$TOKEN"

Register another application (the secret is shown once):
  curl -s -X POST http://$AUTH_BIND/admin/applications \\
    -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \\
    -d '{"name":"my service","scopes":["cases:read"],"environment":"sandbox"}'

Press Ctrl-C to stop.
HINT
wait
