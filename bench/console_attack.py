#!/usr/bin/env python3
"""The console sign-in attacks of issue 21, against a running auth server.

    console_attack.py BASE_URL guess   EMAIL PASSWORD   # 2 connections guess EMAIL's password
    console_attack.py BASE_URL patient EMAIL PASSWORD   # the same, retrying every guess refused 429
    console_attack.py BASE_URL spread  EMAIL PASSWORD   # the same guesses, each from a new address
    console_attack.py BASE_URL flood   EMAIL PASSWORD   # 32 connections of wrong sign-ins, 15 s

Each client binds its own loopback source address (127.0.0.x), so the server sees distinct
sources without a proxy, for old and new binaries alike. `guess` tries a list of 60 passwords in
which the right one is 38th, moving on after a 429 (against a server that checked throttled
attempts, a 429 meant "wrong": the attack of issue 21); `patient` retries a guess refused with
429 a second later instead (a 429 that checked nothing); `spread` sends each guess from
another address (a botnet); `flood`
sends wrong sign-ins from one address with 32 connections (a process of its own at the lowest
CPU priority, standing in for a remote attacker on this shared machine) while another address
signs in with the right password twice a second. Prints one JSON object. Standard library only.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """One client: its own source address and cookie jar; no redirects followed."""

    def __init__(self, base, source):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.origin = u.hostname, u.port, f"{u.scheme}://{u.netloc}"
        self.source = source
        self.cookies = {}
        self.conn = None

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(
                self.host, self.port, timeout=60, source_address=(self.source, 0)
            )
        return self.conn

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in range(2):
            try:
                c = self._conn()
                c.request(method, path, body=body, headers=h)
                r = c.getresponse()
                data = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt:
                    raise
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                pair = v.split(";", 1)[0]
                name, _, value = pair.partition("=")
                if value and "Max-Age=0" not in v:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
        return r.status, data.decode("utf-8", "replace")

    def login(self, email, password):
        """One sign-in attempt: the form (and its CSRF cookie), then the POST. Returns the
        status (303 signed in, 401 refused after a check, 429 refused before any check)."""
        self.cookies.pop("cf_session", None)
        status, page = self.request("GET", "/console/login")
        m = CSRF.search(page)
        if status != 200 or not m:
            return status
        form = urllib.parse.urlencode(
            {"csrf_token": m.group(1), "email": email, "password": password, "totp": ""}
        )
        status, _ = self.request(
            "POST",
            "/console/login",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.origin,
            },
        )
        return status


def candidates(password):
    """60 guesses, the right one 38th."""
    words = [f"Summer{2000 + i}!pass" for i in range(60)]
    words[37] = password
    return words


def guess(base, email, password, spread, patient=False):
    words = candidates(password)
    lock = threading.Lock()
    state = {"next": 0, "found_at": None, "statuses": {}, "sent": 0}
    start = time.monotonic()
    deadline = start + 60

    def worker(n):
        b = Browser(base, "127.0.0.10")  # one attacker, two connections
        while time.monotonic() < deadline:
            with lock:
                if state["found_at"] is not None or state["next"] >= len(words):
                    return
                i = state["next"]
                state["next"] += 1
            if spread:
                # Every guess from a new address: a fresh client, nothing remembered.
                b = Browser(base, f"127.1.{i // 200}.{1 + i % 200}")
            status = b.login(email, words[i])
            with lock:
                state["sent"] += 1
                state["statuses"][str(status)] = state["statuses"].get(str(status), 0) + 1
                if status == 303:
                    state["found_at"] = time.monotonic() - start
                elif status == 429 and patient:
                    # A throttled guess was not checked: try it again later.
                    state["next"] = min(state["next"], i)
            if status == 429 and patient:
                time.sleep(1)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "scenario": "spread" if spread else ("patient" if patient else "guess"),
        "password_position": 38,
        "found": state["found_at"] is not None,
        "found_after_s": None if state["found_at"] is None else round(state["found_at"], 2),
        "attempts_sent": state["sent"],
        "answers": state["statuses"],
        "seconds": round(time.monotonic() - start, 1),
    }


def flood_attacker(base, seconds):
    """32 connections of wrong sign-ins from 127.0.0.7 for `seconds`; prints the answers."""
    stop = time.monotonic() + seconds
    counts = {}
    lock = threading.Lock()

    def attacker(n):
        b = Browser(base, "127.0.0.7")
        i = 0
        while time.monotonic() < stop:
            status = b.login(f"nobody{n}-{i}@example.com", "not the password at all")
            i += 1
            with lock:
                counts[str(status)] = counts.get(str(status), 0) + 1

    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(counts))


def flood(base, email, password):
    # The attacker runs in a process of its own at the lowest CPU priority: on this machine it
    # shares the server's two cores, and a remote attacker would take none of them.
    attacker = subprocess.Popen(
        [sys.executable, __file__, base, "flood-attacker", "15"],
        stdout=subprocess.PIPE,
        preexec_fn=lambda: os.nice(19),
    )
    time.sleep(0.2)
    stop = time.monotonic() + 14
    real = []
    while time.monotonic() < stop:
        b = Browser(base, "127.0.0.8")
        t0 = time.monotonic()
        status = b.login(email, password)
        real.append((status, time.monotonic() - t0))
        time.sleep(0.5)
    out, _ = attacker.communicate()
    times = sorted(s for _, s in real)
    return {
        "scenario": "flood",
        "attacker_connections": 32,
        "attacker_answers": json.loads(out),
        "real_sign_ins": len(real),
        "real_sign_in_statuses": sorted({s for s, _ in real}),
        "real_sign_in_p50_s": round(times[len(times) // 2], 3) if times else None,
        "real_sign_in_max_s": round(times[-1], 3) if times else None,
    }


def main():
    base, scenario = sys.argv[1:3]
    if scenario == "flood-attacker":
        return flood_attacker(base, float(sys.argv[3]))
    email, password = sys.argv[3:5]
    if scenario == "guess":
        out = guess(base, email, password, spread=False)
    elif scenario == "patient":
        out = guess(base, email, password, spread=False, patient=True)
    elif scenario == "spread":
        out = guess(base, email, password, spread=True)
    elif scenario == "flood":
        out = flood(base, email, password)
    else:
        sys.exit(f"unknown scenario {scenario}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
