#!/usr/bin/env bash
# The keyed audit chain at scale, on SQLite: EVENTS events are written straight into a fresh
# database by bench/audit_chain.py — an independent implementation of the documented chain
# (HKDF-SHA256 of the KEK, HMAC-SHA256 over prev_hash ‖ canonical form), so a passing verify
# also checks the construction docs/SECURITY.md describes — then it times:
#   verify   `auth-server audit verify` (every event read and its MAC checked)
#   rekey    a KEK rotation: `auth-server keys rotate` with the new KEK and the old one as
#            previous (the whole chain verified under both keys, every MAC recomputed under the
#            new key in one transaction, plus the signing keys' re-seal and the rotation)
#   verify'  `audit verify` with the new KEK alone
#
#   bench/audit-chain.sh                 # 100,000 events
#   EVENTS=1000000 bench/audit-chain.sh
#
# Release build. Prints one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-100000}
cargo build --release -q -p auth-server
bin=target/release/auth-server

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RUST_LOG=warn
export DATABASE_URL="sqlite://$work/audit.db"
old=$(head -c 32 /dev/urandom | base64)
new=$(head -c 32 /dev/urandom | base64)

SIGNING_KEY_ENCRYPTION_KEY=$old "$bin" migrate >/dev/null
python3 bench/audit_chain.py "$work/audit.db" "$old" "$EVENTS"

seconds() { # command… → wall seconds; the command must succeed
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 -c "print(round($t1 - $t0, 2))"
}
verify=$(SIGNING_KEY_ENCRYPTION_KEY=$old seconds "$bin" audit verify)
grep -q "intact: $EVENTS events" "$work/out" || { cat "$work/out" "$work/err" >&2; exit 1; }
rekey=$(SIGNING_KEY_ENCRYPTION_KEY=$new SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS=$old seconds "$bin" keys rotate)
verify_new=$(SIGNING_KEY_ENCRYPTION_KEY=$new seconds "$bin" audit verify)
events=$(sed -E 's/.*intact: ([0-9]+) events.*/\1/' "$work/out")
printf '{"events": %s, "verify_s": %s, "rekey_s": %s, "verify_after_rekey_s": %s, "db_mb": %s}\n' \
  "$events" "$verify" "$rekey" "$verify_new" "$(du -m "$work/audit.db" | cut -f1)"
