#!/usr/bin/env bash
# The Node SDK (sdks/node, npm @caseforge/sdk): install its pinned dev tools, check that the
# models generated from sdks/openapi/resource-api.json are up to date, type-check, build, and
# run its tests against the release binaries (started on SQLite on free ports by the tests).
#
#   scripts/sdk-node.sh                                   # binaries from target/release
#   CASEFORGE_BIN_DIR=/path/to/bin scripts/sdk-node.sh    # binaries already built elsewhere
#
# Release binaries are built (cargo build --release) only when CASEFORGE_BIN_DIR is not set
# and target/release lacks them. Needs Node >= 18 and npm (installed with apt when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

log() { printf '\n== sdk-node: %s\n' "$*"; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "installing nodejs and npm"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "sdk-node: Node >= 18 needed (found $(node --version))" >&2
  exit 1
fi

if [ -z "${CASEFORGE_BIN_DIR:-}" ]; then
  export CASEFORGE_BIN_DIR="$repo/target/release"
  if [ ! -x "$CASEFORGE_BIN_DIR/auth-server" ] || [ ! -x "$CASEFORGE_BIN_DIR/resource-api" ]; then
    log "building the release binaries"
    cargo build --release --locked -q -p auth-server -p resource-api
  fi
fi
for bin in auth-server resource-api; do
  [ -x "$CASEFORGE_BIN_DIR/$bin" ] || { echo "sdk-node: $CASEFORGE_BIN_DIR/$bin is missing" >&2; exit 1; }
done

cd sdks/node
log "npm ci"
npm ci --no-audit --no-fund

log "generated models match sdks/openapi/resource-api.json"
npm run -s generate >/dev/null 2>&1
if ! git diff --quiet --exit-code -- src/generated || [ -n "$(git ls-files --others --exclude-standard -- src/generated)" ]; then
  git --no-pager diff --stat -- src/generated
  echo "sdk-node: src/generated is stale: run 'npm run generate' in sdks/node and commit it" >&2
  exit 1
fi

log "type-check and build"
npm run -s typecheck
npm run -s build

log "tests (binaries from $CASEFORGE_BIN_DIR)"
npm test
echo "sdk-node: ok"
