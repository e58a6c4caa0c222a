"""Writes N audit events chained under the key the auth server derives from a KEK, straight
into a migrated SQLite database: an implementation of the chain from its documentation only
(auth-server/src/service/audit.rs, docs/SECURITY.md T15), used by bench/audit-chain.sh.

    python3 bench/audit_chain.py DB_PATH KEK_BASE64 N
"""

import base64
import hashlib
import hmac
import json
import sqlite3
import sys

SALT = b"caseforge kek derivation v1"
INFO = b"caseforge audit-chain hmac-sha256 v1"


def audit_key(kek: bytes) -> bytes:
    # HKDF-SHA256 (RFC 5869): one block of output is all 32 bytes.
    prk = hmac.new(SALT, kek, hashlib.sha256).digest()
    return hmac.new(prk, INFO + b"\x01", hashlib.sha256).digest()


def main() -> None:
    path, kek_b64, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    key = audit_key(base64.b64decode(kek_b64))
    db = sqlite3.connect(path)
    prev = "0" * 64
    rows = []
    at = 1_767_225_600_000_000
    for seq in range(1, n + 1):
        fields = json.dumps({"name": f"key {seq}", "environment": "sandbox"}, separators=(",", ":"))
        row = [seq, at + seq, "cli", "ops", "", "api_key.create", f"key_{seq:020d}", None, "success", fields]
        canonical = json.dumps(row, separators=(",", ":"), ensure_ascii=False)
        mac = hmac.new(key, (prev + canonical).encode(), hashlib.sha256).hexdigest()
        rows.append(row + [prev, mac])
        prev = mac
    db.executemany(
        "INSERT INTO audit_events (seq, at, actor_type, actor_id, actor_label, action, target, "
        "source, outcome, fields, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.commit()


if __name__ == "__main__":
    main()
