#!/usr/bin/env python3
"""Revocation latency driver for bench/revocation.sh.

For each credential kind, ROUNDS times: create a credential, use it on every replica until each
accepts it (so each holds it in memory), revoke it, and from the moment the revoke call's
response has been read, poll every replica in a tight loop (one keep-alive connection each, on
its own thread) until it refuses. The latency of a round is the slowest replica's. A random
pause of up to JITTER seconds (1 s) before each revocation spreads them over the poll's phase.

Each round talks from its own loopback source address (127.0.1.x), so that the resource API's
per-source failed-authentication throttle never turns the bench's own refusals into 429s.

Prints one line per kind: "kind n p50_ms p99_ms max_ms".
"""
import base64
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time

AUTH = os.environ["AUTH_URL"].removeprefix("http://")
APIS = [u.removeprefix("http://") for u in os.environ["API_URLS"].split(",")]
ADMIN = os.environ["ADMIN_TOKEN"]
ROUNDS = int(os.environ.get("ROUNDS", "30"))
TIMEOUT = float(os.environ.get("TIMEOUT", "10"))
# A random pause before each revocation, so that revocations fall at every phase of the
# replicas' poll instead of locking onto it (the rounds would otherwise follow the poll's beat).
JITTER = float(os.environ.get("JITTER", "1.0"))

_round = [0]


def source():
    _round[0] += 1
    n = _round[0]
    return (f"127.0.{1 + n // 250}.{1 + n % 250}", 0)


def conn(hostport, src=None):
    host, port = hostport.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=TIMEOUT, source_address=src)


def request(hostport, method, path, headers=None, body=None, src=None):
    c = conn(hostport, src)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def admin(method, path, body=None):
    status, data = request(
        AUTH,
        method,
        path,
        {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        json.dumps(body) if body is not None else None,
    )
    assert status < 300, (method, path, status, data)
    return json.loads(data) if data else None


def new_app(scopes):
    a = admin(
        "POST",
        "/admin/applications",
        {"name": "bench", "scopes": scopes, "environment": "sandbox", "tier": "unlimited"},
    )
    return a["client_id"], a["client_secret"]


def basic(cid, secret):
    return "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()


def token(cid, secret):
    status, data = request(
        AUTH,
        "POST",
        "/oauth/token",
        {"Authorization": basic(cid, secret), "Content-Type": "application/x-www-form-urlencoded"},
        "grant_type=client_credentials",
    )
    assert status == 200, data
    return json.loads(data)["access_token"]


def accepted_everywhere(credential, path, src):
    """Uses the credential on every replica until each accepts it."""
    deadline = time.monotonic() + TIMEOUT
    for api in APIS:
        while True:
            status, _ = request(api, "GET", path, {"Authorization": f"Bearer {credential}"}, src=src)
            if status == 200:
                break
            assert time.monotonic() < deadline, f"{api}{path} never accepted the credential ({status})"
            time.sleep(0.01)


def refused_everywhere(credential, path, refused, src, revoke):
    """Runs `revoke`, then polls every replica until each answers `refused`: seconds."""
    done = [None] * len(APIS)
    start_evt = threading.Event()
    t0 = [0.0]

    def poll(i, api):
        c = conn(api, src)
        c.connect()
        start_evt.wait()
        while True:
            c.request("GET", path, headers={"Authorization": f"Bearer {credential}"})
            r = c.getresponse()
            r.read()
            if r.status == refused:
                done[i] = time.perf_counter()
                break
            if r.status != 200:
                raise SystemExit(f"{api}{path}: unexpected {r.status}")
            if time.perf_counter() - t0[0] > TIMEOUT:
                done[i] = float("inf")
                break
        c.close()

    threads = [threading.Thread(target=poll, args=(i, a)) for i, a in enumerate(APIS)]
    for t in threads:
        t.start()
    time.sleep(random.random() * JITTER)
    revoke()
    t0[0] = time.perf_counter()
    start_evt.set()
    for t in threads:
        t.join()
    return max(done) - t0[0]


def kind_token(src):
    cid, secret = new_app(["cases:read"])
    tok = token(cid, secret)
    accepted_everywhere(tok, "/v2/me", src)

    def revoke():
        status, data = request(
            AUTH,
            "POST",
            "/oauth/revoke",
            {"Authorization": basic(cid, secret), "Content-Type": "application/x-www-form-urlencoded"},
            f"token={tok}",
        )
        assert status == 200, data

    return refused_everywhere(tok, "/v2/me", 401, src, revoke)


def kind_api_key(src):
    k = admin(
        "POST",
        "/admin/api-keys",
        {"name": "bench", "environment": "sandbox", "scopes": ["cases:read"], "tier": "unlimited"},
    )
    accepted_everywhere(k["key"], "/v2/me", src)
    return refused_everywhere(
        k["key"], "/v2/me", 401, src, lambda: admin("DELETE", f"/admin/api-keys/{k['id']}")
    )


def kind_disabled(src):
    cid, secret = new_app(["cases:read"])
    tok = token(cid, secret)
    accepted_everywhere(tok, "/v2/me", src)
    return refused_everywhere(
        tok, "/v2/me", 401, src,
        lambda: admin("PATCH", f"/admin/applications/{cid}", {"disabled": True}),
    )


def kind_scopes(src):
    cid, secret = new_app(["cases:read", "sar:read"])
    tok = token(cid, secret)
    accepted_everywhere(tok, "/v2/cases", src)
    return refused_everywhere(
        tok, "/v2/cases", 403, src,
        lambda: admin("PATCH", f"/admin/applications/{cid}", {"scopes": ["sar:read"]}),
    )


def kind_not_before(src):
    cid, secret = new_app(["cases:read"])
    tok = token(cid, secret)
    accepted_everywhere(tok, "/v2/me", src)
    return refused_everywhere(
        tok, "/v2/me", 401, src,
        lambda: admin("POST", f"/admin/applications/{cid}/revoke-tokens"),
    )


KINDS = [
    ("token revoked (POST /oauth/revoke)", kind_token),
    ("API key revoked", kind_api_key),
    ("application disabled", kind_disabled),
    ("scope removed", kind_scopes),
    ("revoke all tokens (tokens_not_before)", kind_not_before),
]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


def main():
    samples = {name: [] for name, _ in KINDS}
    # Interleaved: each round measures every kind once.
    for r in range(ROUNDS):
        for name, fn in KINDS:
            samples[name].append(fn(source()) * 1000)
        print(f"round {r + 1}/{ROUNDS}", file=sys.stderr)
    for name, _ in KINDS:
        v = samples[name]
        print(f"{name}\t{len(v)}\t{statistics.median(v):.1f}\t{pct(v, 99):.1f}\t{max(v):.1f}")


if __name__ == "__main__":
    main()
