"""``private_key`` and ``dpop`` without a server: keys, assertions, proofs, retries, nonces
(httpx's MockTransport). The same behaviour against the real services: test_stack_keys.py."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Callable

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import caseforge

METADATA = {"issuer": "http://auth", "token_endpoint": "http://auth/oauth/token"}
ME = {"principal_type": "application", "id": "app_x", "environment": "sandbox", "scopes": ["cases:read"], "tier": "standard"}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("caseforge._client.time.sleep", lambda s: None)

    async def fake_async_sleep(s: float) -> None:
        return None

    monkeypatch.setattr("caseforge._client.asyncio.sleep", fake_async_sleep)


def b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def parts(jwt: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    h, p, s = jwt.split(".")
    return json.loads(b64d(h)), json.loads(b64d(p)), f"{h}.{p}".encode(), b64d(s)


def verify(jwt: str, public: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Checks the JWS signature with cryptography itself (an independent check of the encoding)."""
    header, claims, signing_input, sig = parts(jwt)
    if header["alg"] == "ES256":
        assert len(sig) == 64
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        public.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    elif header["alg"] == "EdDSA":
        public.verify(sig, signing_input)
    else:
        assert header["alg"] == "PS256"
        public.verify(sig, signing_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    return header, claims


def pem(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def server(log: list[httpx.Request], api: Callable[[httpx.Request], httpx.Response] = lambda r: httpx.Response(200, json=ME), token_type: str = "DPoP") -> Callable[[httpx.Request], httpx.Response]:
    def handler(req: httpx.Request) -> httpx.Response:
        log.append(req)
        if req.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=METADATA)
        if req.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "tok-1", "token_type": token_type, "expires_in": 3600})
        return api(req)

    return handler


def client(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> caseforge.Client:
    return caseforge.Client(base_url="http://api", auth_url="http://auth", client_id="app_x", http_client=httpx.Client(transport=httpx.MockTransport(handler)), **kw)


def form(req: httpx.Request) -> dict[str, str]:
    return dict(httpx.QueryParams(req.content.decode()))


@pytest.mark.parametrize("kind", ["p256-pem", "p256-sec1-pem", "p256-jwk", "ed25519-pem", "ed25519-jwk", "rsa-pem", "rsa-jwk-json"])
def test_assertion_is_signed_with_the_keys_algorithm_and_names_the_client(kind: str) -> None:
    from caseforge._keys import load_signing_key

    if kind.startswith("p256"):
        key: Any = ec.generate_private_key(ec.SECP256R1())
        alg = "ES256"
    elif kind.startswith("ed25519"):
        key = ed25519.Ed25519PrivateKey.generate()
        alg = "EdDSA"
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        alg = "PS256"
    if kind == "p256-sec1-pem":
        given: Any = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()).decode()
    elif kind.endswith("pem"):
        given = pem(key)
    else:
        # A private JWK as a user would have one: the public members and `d` (and the RSA CRT ones).
        public = load_signing_key(pem(key)).public_jwk()
        if alg == "ES256":
            d = key.private_numbers().private_value.to_bytes(32, "big")
            given = {**public, "d": base64.urlsafe_b64encode(d).rstrip(b"=").decode(), "kid": "from-jwk"}
        elif alg == "EdDSA":
            d = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
            given = {**public, "d": base64.urlsafe_b64encode(d).rstrip(b"=").decode(), "kid": "from-jwk"}
        else:
            n = key.private_numbers()
            enc = lambda i: base64.urlsafe_b64encode(i.to_bytes((i.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()  # noqa: E731
            given = json.dumps({**public, "d": enc(n.d), "p": enc(n.p), "q": enc(n.q), "kid": "from-jwk"})
    log: list[httpx.Request] = []
    c = client(server(log, token_type="Bearer"), private_key=given)
    assert c.me().id == "app_x"
    token_req = next(r for r in log if r.url.path == "/oauth/token")
    assert "authorization" not in token_req.headers  # no secret, no Basic
    f = form(token_req)
    assert f["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    header, claims = verify(f["client_assertion"], key.public_key())
    assert header["alg"] == alg and header["typ"] == "JWT"
    assert header.get("kid") == ("from-jwk" if "jwk" in kind else None)
    assert claims["iss"] == claims["sub"] == "app_x" and claims["aud"] == "http://auth"
    assert claims["exp"] - claims["iat"] == 300 and len(claims["jti"]) >= 32
    assert "BEGIN" not in repr(c) and alg in repr(c)


def test_key_id_names_the_kid_and_each_token_request_has_a_new_jti() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    log: list[httpx.Request] = []
    tokens = iter(["t1", "t2"])

    def handler(req: httpx.Request) -> httpx.Response:
        log.append(req)
        if req.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=METADATA)
        if req.url.path == "/oauth/token":
            if len([r for r in log if r.url.path == "/oauth/token"]) == 1:
                return httpx.Response(503, json={"error": "service_unavailable", "error_description": "."})
            return httpx.Response(200, json={"access_token": next(tokens), "token_type": "Bearer", "expires_in": 3600})
        return httpx.Response(200, json=ME)

    c = client(handler, private_key=pem(key).decode(), key_id="k2")
    c.me()
    assertions = [form(r)["client_assertion"] for r in log if r.url.path == "/oauth/token"]
    assert len(assertions) == 2  # the 503 was retried with a new assertion
    jtis = {parts(a)[1]["jti"] for a in assertions}
    assert len(jtis) == 2 and {parts(a)[0]["kid"] for a in assertions} == {"k2"}


def test_dpop_proofs_on_the_token_request_and_every_api_request_each_new() -> None:
    log: list[httpx.Request] = []
    calls = {"n": 0}

    def api(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/v2/me":
            return httpx.Response(200, json=ME)
        calls["n"] += 1
        if calls["n"] == 1:  # one 503: the retry must carry a new proof
            return httpx.Response(503, json={"error": "service_unavailable", "error_description": "."})
        return httpx.Response(200, json={"data": [], "pagination": {"page": 1, "page_size": 5, "total": 0, "total_pages": 0, "next_cursor": None}})

    c = client(server(log, api), client_secret="sec", dpop=True)
    c.cases.list(page_size=5, status="open")
    c.me()
    token_req = next(r for r in log if r.url.path == "/oauth/token")
    th, tc = verify(token_req.headers["dpop"], ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64d(parts(token_req.headers["dpop"])[0]["jwk"]["x"]), "big"),
        int.from_bytes(b64d(parts(token_req.headers["dpop"])[0]["jwk"]["y"]), "big"), ec.SECP256R1()).public_key())
    assert th["typ"] == "dpop+jwt" and th["alg"] == "ES256" and set(th["jwk"]) == {"kty", "crv", "x", "y"}
    assert tc["htm"] == "POST" and tc["htu"] == "http://auth/oauth/token" and "ath" not in tc
    api_reqs = [r for r in log if r.url.host == "api"]
    assert len(api_reqs) == 3
    ath = base64.urlsafe_b64encode(hashlib.sha256(b"tok-1").digest()).rstrip(b"=").decode()
    jtis = {tc["jti"]}
    for r in api_reqs:
        assert r.headers["authorization"] == "DPoP tok-1"
        h, claims, _, _ = parts(r.headers["dpop"])
        assert h["jwk"] == th["jwk"]  # one key per client
        assert claims["htu"] == f"http://api{r.url.path}" and claims["htm"] == r.method and claims["ath"] == ath
        jtis.add(claims["jti"])
    assert len(jtis) == 4


def test_use_dpop_nonce_is_retried_once_with_the_nonce_and_remembered_per_server() -> None:
    log: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        log.append(req)
        nonce = parts(req.headers["dpop"])[1].get("nonce") if "dpop" in req.headers else None
        if req.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=METADATA)
        if req.url.path == "/oauth/token":
            if nonce != "auth-n1":
                return httpx.Response(400, json={"error": "use_dpop_nonce", "error_description": "."}, headers={"DPoP-Nonce": "auth-n1"})
            return httpx.Response(200, json={"access_token": "tok", "token_type": "DPoP", "expires_in": 3600})
        if nonce != "api-n1":
            return httpx.Response(401, json={"error": "use_dpop_nonce", "error_description": "."}, headers={"DPoP-Nonce": "api-n1", "WWW-Authenticate": 'DPoP error="use_dpop_nonce"'})
        return httpx.Response(200, json=ME)

    c = client(handler, client_secret="sec", dpop=True)
    c.me()
    c.me()
    seen = [(r.url.host, r.url.path, parts(r.headers["dpop"])[1].get("nonce")) for r in log if "dpop" in r.headers]
    assert seen == [
        ("auth", "/oauth/token", None),
        ("auth", "/oauth/token", "auth-n1"),
        ("api", "/v2/me", None),  # the auth server's nonce is not the API's
        ("api", "/v2/me", "api-n1"),
        ("api", "/v2/me", "api-n1"),  # remembered: no second round trip
    ]
    assert len({parts(r.headers["dpop"])[1]["jti"] for r in log if "dpop" in r.headers}) == 5


def test_a_nonce_refusal_twice_in_a_row_raises() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=METADATA)
        return httpx.Response(400, json={"error": "use_dpop_nonce", "error_description": "."}, headers={"DPoP-Nonce": "again"})

    c = client(handler, client_secret="sec", dpop=True)
    with pytest.raises(caseforge.BadRequestError) as e:
        c.me()
    assert e.value.code == "use_dpop_nonce"


async def test_async_client_signs_assertions_and_proofs() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    log: list[httpx.Request] = []
    c = caseforge.AsyncClient(
        base_url="http://api", auth_url="http://auth", client_id="app_x", private_key=pem(key), dpop=True,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(server(log))),
    )
    assert (await c.me()).id == "app_x"
    token_req = next(r for r in log if r.url.path == "/oauth/token")
    header, _ = verify(form(token_req)["client_assertion"], key.public_key())
    assert header["alg"] == "EdDSA" and "dpop" in token_req.headers
    api_req = next(r for r in log if r.url.host == "api")
    assert api_req.headers["authorization"] == "DPoP tok-1" and parts(api_req.headers["dpop"])[1]["htu"] == "http://api/v2/me"


def test_configuration_errors(clean_env: pytest.MonkeyPatch) -> None:
    p256 = pem(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(caseforge.ConfigurationError, match="client_secret or private_key"):
        caseforge.Client(client_id="app_x", client_secret="s", private_key=p256)
    with pytest.raises(caseforge.ConfigurationError, match="API keys"):
        caseforge.Client(api_key="cf_sand_" + "a" * 43, dpop=True)
    with pytest.raises(caseforge.ConfigurationError, match="client_id"):
        caseforge.Client(private_key=p256)
    with pytest.raises(caseforge.ConfigurationError, match="P-256"):
        caseforge.Client(client_id="app_x", private_key=pem(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(caseforge.ConfigurationError, match="private part"):
        caseforge.Client(client_id="app_x", private_key={"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
    with pytest.raises(caseforge.ConfigurationError, match="not a PEM"):
        caseforge.Client(client_id="app_x", private_key="-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    # The environment's secret is not read beside a private key; the environment's API key neither.
    clean_env.setenv("CASEFORGE_CLIENT_SECRET", "env-secret")
    clean_env.setenv("CASEFORGE_API_KEY", "cf_sand_" + "b" * 43)
    c = caseforge.Client(client_id="app_x", private_key=p256, dpop=True)
    assert c._config.client_secret is None and c._config.api_key is None
    assert "PRIVATE" not in repr(c) and "dpop=True" in repr(c)


def test_with_options_keeps_the_key_and_shares_tokens_and_the_dpop_key() -> None:
    log: list[httpx.Request] = []
    c = client(server(log), private_key=pem(ec.generate_private_key(ec.SECP256R1())), dpop=True)
    c.me()
    clone = c.with_options(max_retries=0)
    clone.me()
    assert sum(1 for r in log if r.url.path == "/oauth/token") == 1
    jwks = {json.dumps(parts(r.headers["dpop"])[0]["jwk"], sort_keys=True) for r in log if "dpop" in r.headers}
    assert len(jwks) == 1
    # Another client: another DPoP key.
    other = client(server(log), client_secret="s", dpop=True)
    other.me()
    jwks = {json.dumps(parts(r.headers["dpop"])[0]["jwk"], sort_keys=True) for r in log if "dpop" in r.headers}
    assert len(jwks) == 2
