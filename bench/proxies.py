"""Two clients behind one HAProxy (bench/proxies.sh): an attacker sending junk API keys and a
victim with credentials the resource API has never seen. Each client connects to the balancer
from its own loopback address (127.0.0.7 and 127.0.0.8), so HAProxy's `option forwardfor`
names them apart; the resource API sees every connection come from the balancer (127.0.0.1).

Usage: proxies.py LB_URL AUTH_URL ADMIN_TOKEN  — prints one JSON object.
"""
import base64
import http.client
import json
import random
import sys
import time
import urllib.request
import zlib

lb_url, auth_url, admin = sys.argv[1:4]
lb_host, lb_port = lb_url.removeprefix("http://").split(":")

ATTACKER, VICTIM = "127.0.0.7", "127.0.0.8"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def admin_post(path, body):
    req = urllib.request.Request(
        auth_url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
    )
    return json.load(urllib.request.urlopen(req))


def token(client_id, secret):
    req = urllib.request.Request(
        auth_url + "/oauth/token",
        data=b"grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode())
    return json.load(urllib.request.urlopen(req))["access_token"]


def junk_key():
    # A well-formed sandbox key with a valid CRC-32 checksum (shared::api_key): it passes the
    # format check and would cost a database lookup.
    head = "cf_sand_" + "".join(random.choice(BASE62) for _ in range(43))
    crc = zlib.crc32(head.encode())
    check = ""
    for _ in range(6):
        crc, r = divmod(crc, 62)
        check = BASE62[r] + check
    return head + check


class Client:
    """One keep-alive connection to the balancer from `source`."""

    def __init__(self, source):
        self.source = source
        self.conn = None

    def me(self, headers):
        for _ in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(lb_host, int(lb_port), timeout=10, source_address=(self.source, 0))
            try:
                self.conn.request("GET", "/v2/me", headers=headers)
                resp = self.conn.getresponse()
                resp.read()
                return resp.status
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
        raise RuntimeError("balancer unreachable")


def fresh_credentials(n):
    """n API keys and n tokens (of n applications) the resource API has never seen."""
    keys, tokens = [], []
    for i in range(n):
        k = admin_post("/admin/api-keys", {"name": f"victim{i}", "environment": "sandbox", "scopes": ["cases:read"], "tier": "unlimited"})
        keys.append(k["key"])
        a = admin_post("/admin/applications", {"name": f"victim{i}", "environment": "sandbox", "scopes": ["cases:read"], "tier": "unlimited"})
        tokens.append(token(a["client_id"], a["client_secret"]))
    return keys, tokens


attacker, victim = Client(ATTACKER), Client(VICTIM)
keys, tokens = fresh_credentials(11)
# Sanity: the key format above is what the server accepts (401 = looked up, not 400/malformed).
# Sent from a third address, so that it costs neither client anything.
probe = Client("127.0.0.9").me({"X-API-Key": junk_key()})

# 1. The burst: 70 junk keys, each with an X-Forwarded-For of the attacker's choosing.
burst = [attacker.me({"X-API-Key": junk_key(), "X-Forwarded-For": f"198.51.100.{random.randrange(256)}"}) for _ in range(70)]
after_burst = {
    "uncached_key": victim.me({"X-API-Key": keys[0]}),
    "fresh_token": victim.me({"Authorization": f"Bearer {tokens[0]}"}),
}

# 2. Sustained: 12 junk requests a second for 10 s; once a second the victim presents an API
# key and a token it has never used before.
sustained = {"junk": [], "uncached_key": [], "fresh_token": []}
start = time.monotonic()
for tick in range(120):
    target = start + tick / 12
    time.sleep(max(0.0, target - time.monotonic()))
    sustained["junk"].append(attacker.me({"X-API-Key": junk_key()}))
    if tick % 12 == 6:
        i = 1 + tick // 12
        sustained["uncached_key"].append(victim.me({"X-API-Key": keys[i]}))
        sustained["fresh_token"].append(victim.me({"Authorization": f"Bearer {tokens[i]}"}))


def count(codes):
    out = {}
    for c in codes:
        out[str(c)] = out.get(str(c), 0) + 1
    return out


print(
    json.dumps(
        {
            "probe": probe,
            "burst": count(burst),
            "after_burst": after_burst,
            "sustained": {k: count(v) for k, v in sustained.items()},
        }
    )
)
