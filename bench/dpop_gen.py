"""Signed JWTs for bench/dpop.sh, made ahead of the run (wrk cannot sign): every proof and
every assertion is single-use, so each request of a scenario gets its own.

  dpop_gen.py keygen DIR                      client key (DIR/client.pem) and its JWKS (DIR/jwks.json)
  dpop_gen.py assertions DIR CLIENT_ID AUD N  N token-request bodies (private_key_jwt), one a line
  dpop_gen.py proofs DIR METHOD URL N [TOKEN] N DPoP proofs (with ath of TOKEN), one a line
"""
import base64
import hashlib
import json
import os
import sys
import time
import uuid
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

# ALG=ES256 (default) or EdDSA: the algorithm of the client's key and of the DPoP key.
ALG = os.environ.get("ALG", "ES256")


def to_jwk(public):
    return json.loads((OKPAlgorithm if ALG == "EdDSA" else ECAlgorithm).to_jwk(public))


def load(path):
    return serialization.load_pem_private_key(open(path, "rb").read(), password=None)


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "keygen":
        for name in ("client", "dpop"):
            key = ed25519.Ed25519PrivateKey.generate() if ALG == "EdDSA" else ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            open(os.path.join(d, f"{name}.pem"), "wb").write(pem)
        public = to_jwk(load(os.path.join(d, "client.pem")).public_key())
        json.dump({"keys": [public]}, open(os.path.join(d, "jwks.json"), "w"))
        return
    now = int(time.time())
    out = sys.stdout
    if mode == "assertions":
        client_id, aud, n = sys.argv[3], sys.argv[4], int(sys.argv[5])
        key = load(os.path.join(d, "client.pem"))
        for _ in range(n):
            a = jwt.encode({"iss": client_id, "sub": client_id, "aud": aud, "iat": now,
                            "exp": now + 600, "jti": uuid.uuid4().hex}, key, algorithm=ALG)
            out.write(urlencode({"grant_type": "client_credentials",
                                 "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                                 "client_assertion": a}) + "\n")
    elif mode == "proofs":
        method, url, n = sys.argv[3], sys.argv[4], int(sys.argv[5])
        token = sys.argv[6] if len(sys.argv) > 6 else None
        key = load(os.path.join(d, "dpop.pem"))
        jwk = to_jwk(key.public_key())
        header = {"typ": "dpop+jwt", "jwk": jwk}
        ath = None
        if token:
            ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
        for _ in range(n):
            claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": now}
            if ath:
                claims["ath"] = ath
            out.write(jwt.encode(claims, key, algorithm=ALG, headers=header) + "\n")


main()
