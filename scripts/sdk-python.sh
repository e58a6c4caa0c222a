#!/usr/bin/env bash
# The Python SDK (sdks/python) against the real services.
#
#   scripts/sdk-python.sh                                  # as in CI
#   CASEFORGE_BIN_DIR=/path/to/release scripts/sdk-python.sh -k walk   # other binaries; pytest args
#
# Makes a fresh venv under target/sdk-python/, installs the package as a user would
# (`pip install ./sdks/python[test]`, not editable), checks that the generated models match the
# OpenAPI document (sdks/python/scripts/generate_models.sh, then a diff), and runs pytest in
# sdks/python/tests. The tests start auth-server and resource-api from CASEFORGE_BIN_DIR
# (default target/release, built here with cargo only when that default is used and a binary
# is missing) on SQLite in a temp directory, on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

log() { printf '\n== sdk-python: %s\n' "$*"; }

if [ -z "${CASEFORGE_BIN_DIR:-}" ]; then
  export CASEFORGE_BIN_DIR="$repo/target/release"
  if [ ! -x "$CASEFORGE_BIN_DIR/auth-server" ] || [ ! -x "$CASEFORGE_BIN_DIR/resource-api" ]; then
    log "building release binaries"
    cargo build --release --locked -p auth-server -p resource-api
  fi
fi
# Absolute: the tests run from sdks/python.
CASEFORGE_BIN_DIR=$(cd "$CASEFORGE_BIN_DIR" && pwd)
export CASEFORGE_BIN_DIR

command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
python3 -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv; }

log "models up to date with sdks/openapi/resource-api.json"
sdks/python/scripts/generate_models.sh >/dev/null
if ! git diff --exit-code -- sdks/python/src/caseforge/_models.py sdks/python/src/caseforge/_resources_async.py; then
  echo "sdk-python: generated files differ from what the OpenAPI document and _resources.py give; run sdks/python/scripts/generate_models.sh and commit" >&2
  exit 1
fi

venv=target/sdk-python/test-venv
log "fresh venv $venv; pip install ./sdks/python[test]"
rm -rf "$venv" sdks/python/build sdks/python/src/caseforge.egg-info  # no stale in-tree build
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "./sdks/python[test]"
"$venv/bin/pip" check
"$venv/bin/python" -c 'import caseforge; print("caseforge", caseforge.__version__, "from", caseforge.__file__)'

log "pytest (binaries from $CASEFORGE_BIN_DIR)"
# From the tests' directory, so that `caseforge` is the installed package, not the source tree.
(cd sdks/python && "$repo/$venv/bin/python" -m pytest tests -p no:cacheprovider -q "$@")

# The oldest Python the package supports, when this machine has it (pyenv or Debian's).
py39=
for candidate in python3.9 "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/3.9*/bin/python3.9; do
  if "$candidate" -c 'import venv, ensurepip' 2>/dev/null; then
    py39=$candidate
    break
  fi
done
if [ -n "$py39" ]; then
  venv39=target/sdk-python/test-venv-3.9
  log "again on $("$py39" --version)"
  rm -rf "$venv39" sdks/python/build sdks/python/src/caseforge.egg-info
  "$py39" -m venv "$venv39"
  "$venv39/bin/pip" install -q --disable-pip-version-check "./sdks/python[test]"
  (cd sdks/python && "$repo/$venv39/bin/python" -m pytest tests -p no:cacheprovider -q "$@")
else
  log "no python3.9 here: tested on $("$venv/bin/python" --version) only"
fi
rm -rf sdks/python/build sdks/python/src/caseforge.egg-info
