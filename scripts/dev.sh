#!/usr/bin/env bash
# Starts the whole stack locally on SQLite: auth-server on :8081, resource-api on :8080 (or
# AUTH_BIND / API_BIND), one database file (./caseforge.db). Writes .caseforge-dev.env (yours only, git-ignored):
# source it and every README example works as written. The demo application and sandbox key
# are kept across restarts (made again only when they no longer work), and so are the console's
# demo operators admin@caseforge.test and dev@caseforge.test (passwords in .env). Ctrl-C stops
# both.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

export DATABASE_URL=${DATABASE_URL:-sqlite://$repo/caseforge.db}
export AUTH_BIND=${AUTH_BIND:-127.0.0.1:8081}
export API_BIND=${API_BIND:-127.0.0.1:8080}
export AUTH_ISSUER=${AUTH_ISSUER:-http://$AUTH_BIND}
export RUST_LOG=${RUST_LOG:-info}
# The demo admin signs in without an authenticator app; production keeps the default (true).
export CONSOLE_REQUIRE_TOTP_FOR_ADMINS=${CONSOLE_REQUIRE_TOTP_FOR_ADMINS:-false}
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
# The resource API's key for webhook secrets at rest (its own, not the KEK), kept in .env too.
if [ -z "${WEBHOOK_SECRET_KEY:-}" ]; then
  WEBHOOK_SECRET_KEY=$(from_env_file WEBHOOK_SECRET_KEY)
  if [ -z "$WEBHOOK_SECRET_KEY" ]; then
    WEBHOOK_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
    echo "WEBHOOK_SECRET_KEY=$WEBHOOK_SECRET_KEY" >>.env
  fi
fi
# Development receivers run on this machine (localhost, a LAN address): allow them.
WEBHOOK_ALLOW_PRIVATE_TARGETS=${WEBHOOK_ALLOW_PRIVATE_TARGETS:-true}
export ADMIN_TOKEN SIGNING_KEY_ENCRYPTION_KEY WEBHOOK_SECRET_KEY WEBHOOK_ALLOW_PRIVATE_TARGETS
# The console's demo operators' passwords, generated once and kept in .env like the token.
new_password() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }
password_notes=()
for var in CONSOLE_ADMIN_PASSWORD CONSOLE_DEV_PASSWORD; do
  value=$(from_env_file "$var")
  if [ "${#value}" -lt 12 ]; then
    value=$(new_password)
    echo "$var=$value" >>.env
    password_notes+=("$var")
  fi
  printf -v "$var" '%s' "$value"
done

# The first build takes several minutes on a small machine: show it. DEV_PROFILE=debug builds
# (and runs) the unoptimised binaries instead: a much quicker first build, slower services.
profile=${DEV_PROFILE:-release}
case "$profile" in
  release) build_flags=(--release) ;;
  debug) build_flags=() ;;
  *) echo "dev.sh: DEV_PROFILE must be release or debug" >&2; exit 2 ;;
esac
echo "dev.sh: building auth-server and resource-api ($profile; the first build takes a while)" >&2
cargo build "${build_flags[@]}" -p auth-server -p resource-api
bin=$repo/target/$profile

# Creates the database on the first run (the ops commands below never create one).
"$bin/auth-server" migrate >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

wait_ready() {
  for _ in $(seq 1 150); do "$bin/$1" healthcheck 2>/dev/null && return 0; sleep 0.2; done
  echo "dev.sh: $1 did not become ready; see its log above" >&2
  exit 1
}
# The resource API's /docs page fetches tokens for its "Authorize" button from the auth server,
# in the browser (a CORS request): the auth server allows the API's origin, besides any you set.
api_origin="http://$API_BIND"
case ",${CORS_ALLOWED_ORIGINS:-}," in
  *",$api_origin,"*) auth_cors=$CORS_ALLOWED_ORIGINS ;;
  *) auth_cors="${CORS_ALLOWED_ORIGINS:+$CORS_ALLOWED_ORIGINS,}$api_origin" ;;
esac
CORS_ALLOWED_ORIGINS=$auth_cors "$bin/auth-server" serve &
pids+=($!)
wait_ready auth-server
"$bin/resource-api" serve &
pids+=($!)
wait_ready resource-api

# --- demo credentials: reused while they work, made again when they do not -----------------
# Scopes the README examples need: the application gets all of them, the key the ones a script
# calling with X-API-Key uses.
app_scopes=cases:read,cases:write,sar:read,sar:write,watchlist:read,watchlist:write,subjects:read,subjects:write,transactions:read,alerts:read,webhooks:read,webhooks:write
key_scopes=cases:read,cases:write,sar:read,watchlist:read,subjects:read,transactions:read,alerts:read
env_file=$repo/.caseforge-dev.env
from_dev_env() { [ -f "$env_file" ] && { grep "^export $1=" "$env_file" || true; } | tail -n 1 | cut -d= -f2- | tr -d "'"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

client_id=$(from_dev_env CLIENT_ID || true)
client_secret=$(from_dev_env CLIENT_SECRET || true)
key=$(from_dev_env SANDBOX_KEY || true)

app_works() {
  [ -n "$client_id" ] && [ -n "$client_secret" ] &&
    CLIENT_SECRET=$client_secret "$bin/auth-server" token --issuer "$AUTH_ISSUER" \
      --client-id "$client_id" --scope "$app_scopes" >/dev/null 2>&1
}
key_works() {
  [ -n "$key" ] || return 1
  local me
  me=$(curl -fs "http://$API_BIND/v2/me" -H "X-API-Key: $key") || return 1
  printf '%s' "$me" | python3 -c "
import json, sys
have = set(json.load(sys.stdin)['scopes'])
sys.exit(0 if set(sys.argv[1].split(',')) <= have else 1)" "$key_scopes"
}

if app_works; then
  app_note="reused"
else
  app=$("$bin/auth-server" app create --name "demo service" --environment sandbox --scopes "$app_scopes" 2>/dev/null)
  client_id=$(printf '%s' "$app" | json '["client_id"]')
  client_secret=$(printf '%s' "$app" | json '["client_secret"]')
  app_note="new"
fi
if key_works; then
  key_note="reused"
else
  key=$("$bin/auth-server" key create --name "dev sandbox key" --environment sandbox \
    --scopes "$key_scopes" 2>/dev/null | json '["key"]')
  key_note="new"
fi

# The console's demo operators: made (with the passwords from .env) only when missing.
operators=$("$bin/auth-server" operator list)
ensure_operator() { # email role password-variable
  if printf '%s' "$operators" | python3 -c "
import json, sys
sys.exit(0 if any(o['email'] == sys.argv[1] for o in json.load(sys.stdin)['data']) else 1)" "$1"; then
    case " ${password_notes[*]} " in
      *" $3 "*) echo "dev.sh: $1 exists but .env had no $3; new link: $("$bin/auth-server" operator setup-link --email "$1" | json '["setup_link"]')" >&2 ;;
    esac
    echo reused
  else
    printf '%s\n' "${!3}" | "$bin/auth-server" operator create --email "$1" --role "$2" --password-stdin >/dev/null
    echo new
  fi
}
admin_note=$(ensure_operator admin@caseforge.test admin CONSOLE_ADMIN_PASSWORD)
dev_note=$(ensure_operator dev@caseforge.test developer CONSOLE_DEV_PASSWORD)

# Written whole each run, readable by you only.
(
  umask 077
  cat >"$env_file.tmp" <<ENV
# Written by scripts/dev.sh: the local stack and its demo credentials (sandbox).
# Source it in your shell:  source $env_file
# What the services and the CLI read (so that \`auth-server operator create\`, \`healthcheck\`
# and the setup links it prints name this stack, on whatever ports dev.sh used):
export DATABASE_URL='$DATABASE_URL'
export AUTH_BIND='$AUTH_BIND'
export API_BIND='$API_BIND'
export AUTH_ISSUER='$AUTH_ISSUER'
export SIGNING_KEY_ENCRYPTION_KEY='$SIGNING_KEY_ENCRYPTION_KEY'
# What the examples use:
export AUTH_URL='$AUTH_ISSUER'
export API_URL='http://$API_BIND'
export ADMIN_TOKEN='$ADMIN_TOKEN'
export CLIENT_ID='$client_id'
export CLIENT_SECRET='$client_secret'
export SANDBOX_KEY='$key'
export CONSOLE_URL='$AUTH_ISSUER/console'
# auth-server and resource-api on PATH (the build dev.sh runs).
case ":\$PATH:" in *":$bin:"*) ;; *) export PATH='$bin':"\$PATH" ;; esac
ENV
  chmod 600 "$env_file.tmp"
  mv "$env_file.tmp" "$env_file"
)

cat <<HINT

CaseForge is running on SQLite ($DATABASE_URL):
  auth-server   http://$AUTH_BIND   (JWKS: http://$AUTH_BIND/.well-known/jwks.json)
  resource-api  http://$API_BIND
  demo application $client_id ($app_note), sandbox API key ($key_note), all in $env_file

In another shell, load the credentials (ADMIN_TOKEN, CLIENT_ID, CLIENT_SECRET, SANDBOX_KEY,
AUTH_URL, API_URL; auth-server on PATH):

  source $env_file

Then, for example:
  curl -s \$API_URL/v2/transactions -H "X-API-Key: \$SANDBOX_KEY"
  TOKEN=\$(auth-server token --issuer \$AUTH_URL --client-id \$CLIENT_ID)   # 60 minutes, every demo scope
  curl -s \$API_URL/v2/me -H "Authorization: Bearer \$TOKEN"

The console: $AUTH_ISSUER/console
  admin      admin@caseforge.test  $CONSOLE_ADMIN_PASSWORD   ($admin_note)
  developer  dev@caseforge.test    $CONSOLE_DEV_PASSWORD   ($dev_note)
  (passwords kept in .env: CONSOLE_ADMIN_PASSWORD, CONSOLE_DEV_PASSWORD)

Press Ctrl-C to stop.
HINT
wait
