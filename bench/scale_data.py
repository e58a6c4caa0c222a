#!/usr/bin/env python3
"""Bulk-loads the scale data set into a migrated CaseForge database (bench/scale.sh).

    scale_data.py sqlite:///path/db.sqlite  --cases N [--first I] [--keys N] [--ids-out F] [--keys-out F]
    scale_data.py postgres://user@host:port/db  ...

Cases alternate between the sandbox and live environments (rows I, I+1, …): status
open/open/in_review/escalated/closed, four priorities, one in two assigned, two rows per
`created_at` (so that the id breaks ties). API keys are valid rows the resource API accepts:
`cf_sand_`/`cf_live_` + 43 base62 + CRC-32 checksum, SHA-256 digest, masked form, scope
`cases:read`, tier `unlimited`. `--keys-out` gets the first 100 plaintext keys; `--ids-out`
10,000 random sandbox case ids of this batch (the bench's random reads).

The indexes of the loaded tables are dropped before the insert and created again after (one
sort instead of a million b-tree inserts); SQLite goes through the stdlib module, PostgreSQL
through `psql` and COPY. Standard library only.
"""
import argparse
import hashlib
import io
import random
import sqlite3
import subprocess
import sys
import time
import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
STATUSES = ["open", "open", "in_review", "escalated", "closed"]
PRIORITIES = ["low", "medium", "high", "critical"]
T0 = 1735689600000000  # 2025-01-01T00:00:00Z in microseconds

CASE_COLS = ["id", "environment", "reference", "title", "description", "status", "priority",
             "assignee", "subject_ids", "resolution", "created_at", "updated_at", "closed_at",
             "version"]
KEY_COLS = ["id", "name", "description", "environment", "scopes", "tier", "key_digest",
            "masked_token", "expires_at", "last_used_at", "revoked_at", "created_at",
            "updated_at"]


def case_rows(first, n):
    for i in range(first, first + n):
        env = "sandbox" if i % 2 == 0 else "live"
        status = STATUSES[i % 5]
        at = T0 + (i // 2) * 1_000_000
        yield (
            f"case_b{i:019d}", env, f"CF-2025-{i // 2 + 1:06d}",
            f"Unusual cash deposits, batch {i}",
            "Several deposits just under the reporting threshold at different branches.",
            status, PRIORITIES[i % 4], f"analyst-{i % 50}" if i % 2 == 0 else None,
            "[]", "resolved" if status == "closed" else None, at, at,
            at if status == "closed" else None, 1,
        )


def checksum(key):
    v = zlib.crc32(key.encode())
    out = []
    for _ in range(6):
        out.append(BASE62[v % 62])
        v //= 62
    return "".join(reversed(out))


def key_rows(n, rng, plaintext):
    now = int(time.time() * 1e6)
    for i in range(n):
        env = "sandbox" if i % 2 == 0 else "live"
        prefix = "cf_sand_" if env == "sandbox" else "cf_live_"
        head = prefix + "".join(rng.choice(BASE62) for _ in range(43))
        key = head + checksum(head)
        if len(plaintext) < 100 and env == "sandbox":
            plaintext.append(key)
        yield (
            f"key_b{i:019d}", f"bench key {i}", "", env, "cases:read", "unlimited",
            hashlib.sha256(key.encode()).hexdigest(), f"{prefix}********{key[-4:]}",
            None, None, None, now, now,
        )


class Sqlite:
    def __init__(self, url):
        self.db = sqlite3.connect(url.removeprefix("sqlite://"), isolation_level=None)
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("PRAGMA cache_size = -262144")

    def indexes(self, table):
        return [r[0] for r in self.db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,))]

    def drop(self, ddl):
        self.db.execute("DROP INDEX " + ddl.split()[3 if ddl.split()[1] == "UNIQUE" else 2])

    def run(self, sql):
        self.db.execute(sql)

    def load(self, table, cols, rows):
        self.db.execute("BEGIN")
        self.db.executemany(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
        self.db.execute("COMMIT")

    def finish(self):
        self.db.execute("ANALYZE")


class Postgres:
    def __init__(self, url):
        self.url = url

    def psql(self, sql, stdin=None):
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url, "-At", "-c", sql],
                           input=stdin, capture_output=True)
        if r.returncode != 0:
            sys.exit(f"psql: {r.stderr.decode()}")
        return r.stdout.decode()

    def indexes(self, table):
        out = self.psql(f"SELECT indexdef FROM pg_indexes WHERE tablename = '{table}' "
                        "AND indexname NOT IN (SELECT conname FROM pg_constraint)")
        return [l for l in out.splitlines() if l]

    def drop(self, ddl):
        words = ddl.split()
        self.psql("DROP INDEX " + words[3 if words[1] == "UNIQUE" else 2])

    def run(self, sql):
        self.psql(sql)

    def load(self, table, cols, rows):
        buf = io.StringIO()
        for r in rows:
            buf.write("\t".join("\\N" if v is None else str(v) for v in r))
            buf.write("\n")
        self.psql(f"COPY {table} ({', '.join(cols)}) FROM STDIN", buf.getvalue().encode())

    def finish(self):
        # Index-only scans need the visibility map; autovacuum would get there later.
        self.psql("VACUUM ANALYZE cases")
        self.psql("VACUUM ANALYZE api_keys")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--cases", type=int, default=0)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--keys", type=int, default=0)
    p.add_argument("--ids-out")
    p.add_argument("--keys-out")
    a = p.parse_args()
    db = Postgres(a.url) if a.url.startswith("postgres") else Sqlite(a.url)
    rng = random.Random(12)
    started = time.time()
    for table, cols, n, rows in [
        ("cases", CASE_COLS, a.cases, lambda: case_rows(a.first, a.cases)),
        ("api_keys", KEY_COLS, a.keys, None),
    ]:
        if n == 0:
            continue
        ddl = db.indexes(table)
        for d in ddl:
            db.drop(d)
        plaintext = []
        chunk = 100_000
        if table == "cases":
            for start in range(0, n, chunk):
                db.load(table, cols, list(case_rows(a.first + start, min(chunk, n - start))))
        else:
            db.load(table, cols, list(key_rows(n, rng, plaintext)))
            if a.keys_out:
                with open(a.keys_out, "w") as f:
                    f.write("\n".join(plaintext) + "\n")
        for d in ddl:
            db.run(d)
        print(f"{table}: {n} rows in {time.time() - started:.1f} s", file=sys.stderr)
    db.finish()
    if a.ids_out and a.cases:
        sandbox = [i for i in range(a.first, a.first + a.cases) if i % 2 == 0]
        pick = [sandbox[rng.randrange(len(sandbox))] for _ in range(10_000)]
        with open(a.ids_out, "w") as f:
            f.write("".join(f"case_b{i:019d}\n" for i in pick))
    print(f"loaded in {time.time() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
