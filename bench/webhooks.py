"""Webhook figures for bench/webhooks.sh (issue 25), against one running stack.

1. Write cost: POST /v2/cases with wrk, interleaved: no endpoint, one subscribed endpoint,
   no endpoint (the endpoint disabled), ROUNDS times; medians of requests/s. Target: one
   endpoint >= 85% of none, in the same run.
2. Delivery latency at RATE events/s for LATENCY_SECS: cases created at a steady pace on
   keep-alive connections; the receiver notes when each case.created arrives. Latency =
   arrival - the moment the create's 201 arrived (the commit came just before it; the event's
   `timestamp` has only second precision). Also shown: from the moment the request was sent,
   an upper bound. Target: p99 <= 1 s.

Every request the receiver gets is verified with the `standardwebhooks` package from PyPI
(unmodified); a signature that does not verify is counted and fails the run.

Env: API_URL, TOKEN (unlimited tier; cases:write, webhooks:write), DURATION (s per wrk run),
ROUNDS, RATE, LATENCY_SECS, THREADS, CONNECTIONS.
"""

import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

API = os.environ["API_URL"].rstrip("/")
TOKEN = os.environ["TOKEN"]
DURATION = int(os.environ.get("DURATION", "5"))
ROUNDS = int(os.environ.get("ROUNDS", "2"))
RATE = int(os.environ.get("RATE", "100"))
LATENCY_SECS = int(os.environ.get("LATENCY_SECS", "10"))
THREADS = int(os.environ.get("THREADS", "2"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.verifier = None
        self.received = 0
        self.bad = 0
        self.arrivals = {}  # case id -> arrival
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                now = time.time()
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                ok = True
                try:
                    event = outer.verifier.verify(body, headers)
                except (WebhookVerificationError, AttributeError):
                    ok = False
                    event = None
                with outer.lock:
                    outer.received += 1
                    if not ok:
                        outer.bad += 1
                    elif event.get("type") == "case.created":
                        outer.arrivals[event["data"]["id"]] = now
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def call(method, path, body=None):
    u = urlparse(API)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data else None


def wrk():
    out = subprocess.run(
        ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}s", "-s", "bench/webhooks.lua", f"{API}/v2/cases"],
        env={**os.environ, "AUTH": f"Bearer {TOKEN}"}, capture_output=True, text=True, check=True).stdout
    m = re.search(r"BENCH requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) non2xx=(\d+)", out)
    req, dur, p50, p99, non2xx = map(int, m.groups())
    if non2xx:
        sys.exit(f"wrk: {non2xx} non-2xx answers")
    return req / (dur / 1e6), p50 / 1000, p99 / 1000


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    rx = Receiver()
    ep = call("POST", "/v2/webhook-endpoints", {"url": rx.url, "events": ["case.created"], "description": "bench"})
    rx.verifier = Webhook(ep["secret"])
    ep_path = f"/v2/webhook-endpoints/{ep['id']}"
    call("PATCH", ep_path, {"enabled": False})
    none, one = [], []
    for _ in range(ROUNDS):
        none.append(wrk())
        call("PATCH", ep_path, {"enabled": True})
        one.append(wrk())
        call("PATCH", ep_path, {"enabled": False})
    none.append(wrk())
    med = lambda runs, i: statistics.median(r[i] for r in runs)
    ratio = med(one, 0) / med(none, 0)
    print(f"write\tnone\t{med(none, 0):.0f} req/s\tp50 {med(none, 1):.1f} ms\tp99 {med(none, 2):.1f} ms")
    print(f"write\tone endpoint\t{med(one, 0):.0f} req/s\tp50 {med(one, 1):.1f} ms\tp99 {med(one, 2):.1f} ms")
    print(f"write\tratio\t{ratio:.1%} (target >= 85%)")

    # Let the backlog of the write runs drain before the latency run.
    call("PATCH", ep_path, {"enabled": True})
    deadline = time.time() + 120
    last = -1
    while time.time() < deadline:
        time.sleep(1)
        with rx.lock:
            n = rx.received
        if n == last:
            break
        last = n
    with rx.lock:
        rx.arrivals.clear()

    # A steady RATE/s for LATENCY_SECS over 4 keep-alive connections.
    ids, ids_lock = {}, threading.Lock()  # case id -> (sent, acknowledged)
    start = time.time() + 0.2
    per_thread = RATE / 4

    def pace(k):
        u = urlparse(API)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        n = 0
        while True:
            at = start + (n + k / 4) / per_thread
            if at > start + LATENCY_SECS:
                break
            delay = at - time.time()
            if delay > 0:
                time.sleep(delay)
            sent = time.time()
            c.request("POST", "/v2/cases", body=json.dumps({"title": "latency"}),
                      headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            r = c.getresponse()
            body = r.read()
            if r.status == 201:
                acked = time.time()
                with ids_lock:
                    ids[json.loads(body)["id"]] = (sent, acked)
            n += 1

    threads = [threading.Thread(target=pace, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.time() + 30
    while time.time() < deadline:
        with rx.lock:
            if all(i in rx.arrivals for i in ids):
                break
        time.sleep(0.2)
    with rx.lock:
        lat = [(rx.arrivals[i] - a) * 1000 for i, (_, a) in ids.items() if i in rx.arrivals]
        upper = [(rx.arrivals[i] - s) * 1000 for i, (s, _) in ids.items() if i in rx.arrivals]
        missing = sum(1 for i in ids if i not in rx.arrivals)
        bad, received = rx.bad, rx.received
    print(f"latency\t{len(ids)} events at {RATE}/s, from the 201\tp50 {pct(lat, 50):.1f} ms\tp99 {pct(lat, 99):.1f} ms\tmax {max(lat):.1f} ms\tmissing {missing}")
    print(f"latency\tfrom the request sent\tp50 {pct(upper, 50):.1f} ms\tp99 {pct(upper, 99):.1f} ms\tmax {max(upper):.1f} ms")
    print(f"verify\t{received} requests verified with standardwebhooks\t{bad} bad signatures")
    if bad or missing:
        sys.exit("bad signatures or missing events")


main()
