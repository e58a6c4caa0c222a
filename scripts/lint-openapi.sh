#!/usr/bin/env bash
# Both OpenAPI documents, as the code builds them, written to sdks/openapi/ and linted with
# Redocly's recommended rules.
#
#   scripts/lint-openapi.sh            # refresh sdks/openapi/*.json from the code, then lint
#   scripts/lint-openapi.sh --check    # as in CI: fail if the committed files differ, then lint
#
# The documents come from the binaries' hidden `openapi` subcommand (`resource-api openapi`,
# `auth-server openapi`): no server, database or configuration is started or read; `servers`
# names the default addresses (API 127.0.0.1:8080, issuer 127.0.0.1:8081). The SDK generators
# read the committed files, so a change to the API shows up as a diff here.
#
# @redocly/cli is pinned and run through npx with its npm cache under target/ (cached with it);
# any lint error fails the script (warnings are printed, not fatal).
set -euo pipefail
cd "$(dirname "$0")/.."

REDOCLY_VERSION=2.77.0
check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

log() { printf '\n== lint-openapi: %s\n' "$*"; }

log "building auth-server and resource-api (debug)"
cargo build -q --locked -p auth-server -p resource-api

out=sdks/openapi
mkdir -p "$out"
tmp=$(mktemp -d /tmp/caseforge-openapi.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
target/debug/resource-api openapi >"$tmp/resource-api.json"
target/debug/auth-server openapi >"$tmp/auth-server.json"

stale=()
for doc in resource-api auth-server; do
  if ! cmp -s "$tmp/$doc.json" "$out/$doc.json"; then
    stale+=("$out/$doc.json")
    if ! $check; then
      cp "$tmp/$doc.json" "$out/$doc.json"
      echo "wrote $out/$doc.json"
    fi
  fi
done
if $check && [ ${#stale[@]} -gt 0 ]; then
  for f in "${stale[@]}"; do
    echo "$f differs from what the code produces:"
    diff -u "$f" "$tmp/$(basename "$f")" | head -n 40 || true
  done
  echo "lint-openapi: the committed documents are stale; refresh them with: scripts/lint-openapi.sh (then commit sdks/openapi/)"
  exit 1
fi

log "@redocly/cli $REDOCLY_VERSION lint --extends recommended"
export npm_config_cache="$PWD/target/npm-cache" npm_config_update_notifier=false
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
status=0
for doc in resource-api auth-server; do
  if ! npx --yes "@redocly/cli@$REDOCLY_VERSION" lint --extends recommended "$out/$doc.json"; then
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  echo "lint-openapi: FAILED"
  exit 1
fi
echo "lint-openapi: ok"
