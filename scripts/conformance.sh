#!/usr/bin/env bash
# Spec conformance: both services, as built, against the OpenAPI documents they serve.
#
#   scripts/conformance.sh                     # as in CI
#   EXAMPLES=50 scripts/conformance.sh         # more cases per operation
#
# Builds the debug binaries (reusing target/), starts both on a fresh SQLite file in a temp
# directory on free ports, creates a sandbox application and an API key with every scope, and
# runs schemathesis over each served /openapi.json with valid credentials. It fails on any 5xx,
# any status code, header or content type the document does not list, and any body that does
# not match its schema. It also validates the RFC 8414 metadata with Authlib.
#
# schemathesis and Authlib are pinned and installed once into target/conformance/venv (cached
# with target/). Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
AUTHLIB_VERSION=1.6.5
PYJWT_VERSION=2.15.1
EXAMPLES=${EXAMPLES:-8}
repo=$(pwd)

log() { printf '\n== conformance: %s\n' "$*"; }

# --- tools -----------------------------------------------------------------------------------
venv=target/conformance/venv
want="schemathesis==$SCHEMATHESIS_VERSION authlib==$AUTHLIB_VERSION pyjwt[crypto]==$PYJWT_VERSION"
if [ "$(cat "$venv/.pinned" 2>/dev/null)" != "$want" ] || ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
  log "installing $want into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" >"$venv/.pinned"
fi
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }

log "building auth-server and resource-api (debug)"
cargo build -q --locked -p auth-server -p resource-api

# --- both services on a fresh database ----------------------------------------------------------
work=$(mktemp -d /tmp/caseforge-conformance.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# On failure, the services' logs say what they saw.
show_logs() { for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }; done; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
    sleep 0.1
  done
  echo "not ready: $1" >&2
  show_logs
  exit 1
}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

auth_port=$(free_port)
api_port=$(free_port)
auth="http://127.0.0.1:$auth_port"
api="http://127.0.0.1:$api_port"
admin_token="conformance-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"

# Started from the temp directory, so that no `.env` of the checkout is read.
export DATABASE_URL="sqlite://$work/caseforge.db" RUST_LOG=warn AUTH_ISSUER="$auth"
(cd "$work" && exec env SIGNING_KEY_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" \
  ADMIN_TOKEN="$admin_token" AUTH_BIND="127.0.0.1:$auth_port" \
  "$repo/target/debug/auth-server" serve >"$work/auth.log" 2>&1) &
pids+=($!)
wait_ready "$auth/readyz"
(cd "$work" && exec env API_BIND="127.0.0.1:$api_port" API_PUBLIC_URL="$api" \
  "$repo/target/debug/resource-api" >"$work/api.log" 2>&1) &
pids+=($!)
wait_ready "$api/readyz"

admin() {
  curl -fsS -X POST "$auth$1" -H "Authorization: Bearer $admin_token" \
    -H 'Content-Type: application/json' -d "$2"
}
scopes=$(curl -fsS "$auth/.well-known/oauth-authorization-server" | python3 -c \
  'import json,sys; print(json.dumps(json.load(sys.stdin)["scopes_supported"]))')
admin /admin/applications \
  "{\"name\":\"conformance\",\"scopes\":$scopes,\"environment\":\"sandbox\",\"tier\":\"unlimited\"}" \
  >"$work/app.json"
api_key=$(admin /admin/api-keys \
  "{\"name\":\"conformance\",\"scopes\":$scopes,\"environment\":\"sandbox\",\"tier\":\"unlimited\"}" |
  json '["key"]')

status=0

# --- RFC 8414 metadata ------------------------------------------------------------------------
log "RFC 8414 metadata (Authlib $AUTHLIB_VERSION)"
# Authlib requires https endpoints; this check runs over loopback http, so that one rule is
# relaxed here (AUTHLIB_INSECURE_TRANSPORT) and every other rule applies.
if ! curl -fsS "$auth/.well-known/oauth-authorization-server" |
  AUTHLIB_INSECURE_TRANSPORT=1 "$venv/bin/python" -c '
import json, sys
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
metadata = AuthorizationServerMetadata(json.load(sys.stdin))
metadata.validate()
print("valid:", ", ".join(sorted(metadata)))
'; then
  status=1
fi

# --- private_key_jwt (Authlib) and DPoP (PyJWT proofs) end to end ----------------------------
log "private_key_jwt with Authlib's PrivateKeyJWT, DPoP with PyJWT proofs"
if ! AUTH_URL="$auth" API_URL="$api" ADMIN_TOKEN="$admin_token" AUTHLIB_INSECURE_TRANSPORT=1 \
  "$venv/bin/python" scripts/private_key_jwt_dpop.py; then
  show_logs
  status=1
fi

# --- schemathesis ----------------------------------------------------------------------------
checks=not_a_server_error,status_code_conformance,content_type_conformance
checks=$checks,response_headers_conformance,response_schema_conformance
run_schemathesis() {
  local name=$1 base=$2
  shift 2
  log "schemathesis $SCHEMATHESIS_VERSION on $name ($base/openapi.json, $EXAMPLES examples per operation)"
  # No `.env`/`schemathesis.toml` of the checkout is picked up either.
  if ! (cd "$work" && "$repo/$venv/bin/schemathesis" run "$base/openapi.json" \
    --url "$base" --checks "$checks" --max-examples "$EXAMPLES" \
    --phases examples,coverage,fuzzing --workers 1 --request-timeout 10 \
    --generation-with-security-parameters false --suppress-health-check all --no-color "$@"); then
    status=1
  fi
}
# The resource API first: the auth server's run may revoke the key it uses (schemathesis takes
# ids from list answers and calls DELETE with them).
run_schemathesis resource-api "$api" -H "X-API-Key: $api_key"
run_schemathesis auth-server "$auth" -H "Authorization: Bearer $admin_token"

if [ "$status" -ne 0 ]; then
  show_logs
  echo "conformance: FAILED"
  exit 1
fi
echo "conformance: ok"
