# private_key_jwt with Authlib's PrivateKeyJWT client, unmodified, and DPoP with hand-made
# RFC 9449 proofs (PyJWT), against a running stack: registers an application with a fresh P-256
# key (dpop_bound_access_tokens), checks that a token request without a proof is refused, gets
# a DPoP-bound token, reads /v2/cases with a proof, and checks that the same token as Bearer is
# refused with a DPoP challenge. Needs AUTH_URL, API_URL (= API_PUBLIC_URL), ADMIN_TOKEN; run by
# scripts/conformance.sh (AUTHLIB_INSECURE_TRANSPORT=1 over loopback http).
import base64
import hashlib
import json
import os
import time
import uuid

import jwt, requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import ECAlgorithm

auth_url, api_url, admin = os.environ["AUTH_URL"], os.environ["API_URL"], os.environ["ADMIN_TOKEN"]
client_key = ec.generate_private_key(ec.SECP256R1())
public_jwk = json.loads(ECAlgorithm.to_jwk(client_key.public_key()))
app = requests.post(f"{auth_url}/admin/applications", headers={"Authorization": f"Bearer {admin}"},
    json={"name": "authlib e2e", "scopes": ["cases:read"], "token_endpoint_auth_method": "private_key_jwt",
          "jwks": {"keys": [public_jwk]}, "dpop_bound_access_tokens": True}).json()
client_id = app["client_id"]
assert "client_secret" not in app

dpop_key = ec.generate_private_key(ec.SECP256R1())
dpop_jwk = json.loads(ECAlgorithm.to_jwk(dpop_key.public_key()))
def proof(method, url, token=None):
    claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
    if token:
        claims["ath"] = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    return jwt.encode(claims, dpop_key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": dpop_jwk})

token_url = f"{auth_url}/oauth/token"
pem = client_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
session = OAuth2Session(client_id, pem, token_endpoint_auth_method=PrivateKeyJWT(token_url, alg="ES256"))
session.register_client_auth_method(PrivateKeyJWT(token_url, alg="ES256"))
# Without a proof: refused (the application is registered dpop_bound_access_tokens).
try:
    session.fetch_token(token_url, grant_type="client_credentials")
    raise SystemExit("expected invalid_dpop_proof")
except Exception as e:
    assert "invalid_dpop_proof" in str(e), e
token = session.fetch_token(token_url, grant_type="client_credentials", headers={"DPoP": proof("POST", token_url)})
assert token["token_type"] == "DPoP", token
at = token["access_token"]
url = f"{api_url}/v2/cases"
r = requests.get(url, headers={"Authorization": f"DPoP {at}", "DPoP": proof("GET", url, at)})
assert r.status_code == 200, r.text
r = requests.get(url, headers={"Authorization": f"Bearer {at}"})
assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("DPoP"), r.headers
print("authlib private_key_jwt + DPoP: ok", r.headers["WWW-Authenticate"][:60])
