"""``private_key`` (RFC 7523 client assertions) and ``dpop=True`` (RFC 9449) against the real
services (see conftest.py; ``nonce_stack`` runs them with ``DPOP_NONCE_KEY`` set)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import caseforge
from caseforge._keys import load_signing_key
from conftest import Recorder, Stack, wait_until


def b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def claims_of(jwt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    h, p, _ = jwt.split(".")
    return json.loads(b64d(h)), json.loads(b64d(p))


def p256_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def ed25519_private_jwk(kid: str) -> dict[str, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    d = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = load_signing_key(key).public_jwk()
    return {**public, "d": base64.urlsafe_b64encode(d).rstrip(b"=").decode(), "kid": kid}


def public_jwk(private_key: Any, kid: str) -> dict[str, str]:
    return {**load_signing_key(private_key).public_jwk(), "kid": kid}


def test_private_key_jwt_with_a_p256_pem_gets_a_token_and_calls_v2(stack: Stack, recorder: Recorder) -> None:
    pem = p256_pem()
    app = stack.create_key_application([public_jwk(pem, "k1")])
    assert "client_secret" not in app
    with caseforge.Client(client_id=app["client_id"], private_key=pem, key_id="k1", base_url=stack.base_url, auth_url=stack.auth_url, http_client=recorder.sync_client()) as client:
        me = client.me()
        assert me.principal_type == "application" and me.id == app["client_id"]
        created = client.cases.create(title="signed, not shared")
        assert client.cases.retrieve(created.id).title == "signed, not shared"
    token_req = next(r for r in recorder.requests if r.url.path == "/oauth/token")
    assert "authorization" not in token_req.headers
    header, claims = claims_of(dict(__import__("urllib.parse").parse.parse_qsl(token_req.content.decode()))["client_assertion"])
    assert header == {"alg": "ES256", "typ": "JWT", "kid": "k1"}
    assert claims["iss"] == claims["sub"] == app["client_id"] and claims["aud"] == stack.auth_url
    api = [r for r in recorder.requests if r.url.path.startswith("/v2/")]
    assert api and all(r.headers["authorization"].startswith("Bearer ") for r in api)


def test_private_key_jwt_with_an_ed25519_jwk_gets_a_token_and_calls_v2(stack: Stack) -> None:
    jwk = ed25519_private_jwk("ed-1")
    public = {k: v for k, v in jwk.items() if k != "d"}
    # Two keys registered: the JWK's own `kid` picks the right one.
    app = stack.create_key_application([public_jwk(p256_pem(), "other"), public])
    with caseforge.Client(client_id=app["client_id"], private_key=jwk, base_url=stack.base_url, auth_url=stack.auth_url) as client:
        assert client.me().id == app["client_id"]
        assert client.cases.list(page_size=1).data is not None


def test_dpop_gets_a_dpop_token_and_every_v2_call_carries_a_new_proof(stack: Stack, recorder: Recorder) -> None:
    pem = p256_pem()
    app = stack.create_key_application([public_jwk(pem, "k1")])
    with caseforge.Client(client_id=app["client_id"], private_key=pem, dpop=True, base_url=stack.base_url, auth_url=stack.auth_url, http_client=recorder.sync_client()) as client:
        case = client.cases.create(title="sender-constrained")
        case = client.cases.assign(case.id, assignee="inv-1", if_match=case.etag)
        assert [c.id for c in client.cases.list(assignee="inv-1", page_size=5)] == [case.id]
        assert client.me().id == app["client_id"]
    token_resp = [s for s in recorder.statuses if s[0] == "/oauth/token"]
    assert token_resp == [("/oauth/token", 200)]
    api = [r for r in recorder.requests if r.url.path.startswith("/v2/")]
    assert len(api) >= 4
    jtis = set()
    for r in api:
        assert r.headers["authorization"].startswith("DPoP ")
        _, claims = claims_of(r.headers["dpop"])
        assert claims["htu"] == f"{stack.base_url}{r.url.path}" and "?" not in claims["htu"]
        jtis.add(claims["jti"])
    assert len(jtis) == len(api)
    # The token is bound: copied and sent as a bearer token, it is refused.
    token = api[0].headers["authorization"].split(" ", 1)[1]
    with caseforge.Client(api_key=token, base_url=stack.base_url) as thief:
        with pytest.raises(caseforge.AuthenticationError) as e:
            thief.me()
    assert e.value.status_code == 401


def test_dpop_with_a_client_secret_too(stack: Stack, app: dict[str, Any]) -> None:
    with caseforge.Client(client_id=app["client_id"], client_secret=app["client_secret"], dpop=True, base_url=stack.base_url, auth_url=stack.auth_url) as client:
        assert client.me().id == app["client_id"]
        token = client._tokens.get()  # type: ignore[union-attr]
        assert token.dpop


def test_dpop_bound_application_needs_dpop(stack: Stack) -> None:
    pem = p256_pem()
    app = stack.create_key_application([public_jwk(pem, "k1")], dpop_bound=True)
    with caseforge.Client(client_id=app["client_id"], private_key=pem, base_url=stack.base_url, auth_url=stack.auth_url) as client:
        with pytest.raises(caseforge.BadRequestError) as e:
            client.me()
        assert e.value.code == "invalid_dpop_proof"
    with caseforge.Client(client_id=app["client_id"], private_key=pem, dpop=True, base_url=stack.base_url, auth_url=stack.auth_url) as client:
        assert client.me().id == app["client_id"]


def test_nonces_on_one_retry_at_each_server_then_remembered(nonce_stack: Stack, recorder: Recorder) -> None:
    stack = nonce_stack
    pem = p256_pem()
    app = stack.create_key_application([public_jwk(pem, "k1")], dpop_bound=True)
    with caseforge.Client(client_id=app["client_id"], private_key=pem, dpop=True, base_url=stack.base_url, auth_url=stack.auth_url, http_client=recorder.sync_client()) as client:
        assert client.me().id == app["client_id"]
        client.cases.list(page_size=1)
        client.me()
    assert recorder.statuses[1:] == [
        ("/oauth/token", 400),  # use_dpop_nonce with DPoP-Nonce
        ("/oauth/token", 200),
        ("/v2/me", 401),  # the API's own nonce
        ("/v2/me", 200),
        ("/v2/cases", 200),
        ("/v2/me", 200),
    ], recorder.statuses
    proofs = [claims_of(r.headers["dpop"])[1] for r in recorder.requests if "dpop" in r.headers]
    assert [("nonce" in p) for p in proofs] == [False, True, False, True, True, True]
    assert len({p["jti"] for p in proofs}) == len(proofs)


async def test_async_client_with_a_key_and_dpop_under_nonces(nonce_stack: Stack, recorder: Recorder) -> None:
    stack = nonce_stack
    jwk = ed25519_private_jwk("a1")
    app = stack.create_key_application([{k: v for k, v in jwk.items() if k != "d"}])
    async with caseforge.AsyncClient(client_id=app["client_id"], private_key=jwk, dpop=True, base_url=stack.base_url, auth_url=stack.auth_url, http_client=recorder.async_client()) as client:
        assert (await client.me()).id == app["client_id"]
        created = await client.cases.create(title="async, bound")
        assert (await client.cases.retrieve(created.id)).id == created.id
    assert ("/oauth/token", 400) in recorder.statuses and ("/v2/me", 401) in recorder.statuses
    assert recorder.statuses[-1][1] == 200 and recorder.statuses[-2][1] == 201


def test_a_removed_key_is_refused_with_an_authentication_error(stack: Stack) -> None:
    old, new = p256_pem(), p256_pem()
    app = stack.create_key_application([public_jwk(old, "old"), public_jwk(new, "new")])
    with caseforge.Client(client_id=app["client_id"], private_key=old, key_id="old", base_url=stack.base_url, auth_url=stack.auth_url) as client:
        assert client.me().id == app["client_id"]
    stack.set_jwks(app["client_id"], [public_jwk(new, "new")])

    def refused() -> bool:
        with caseforge.Client(client_id=app["client_id"], private_key=old, key_id="old", base_url=stack.base_url, auth_url=stack.auth_url, max_retries=0) as c:
            try:
                c.me()
            except caseforge.AuthenticationError as e:
                assert e.status_code == 401 and e.code == "invalid_client"
                return True
        return False

    wait_until(refused, what="the removed key refused")
    with caseforge.Client(client_id=app["client_id"], private_key=new, key_id="new", base_url=stack.base_url, auth_url=stack.auth_url) as client:
        assert client.me().id == app["client_id"]


def test_readme_private_key_and_dpop_example_runs(stack: Stack, clean_env: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The root README's ``<!-- sdk-python-keys-example -->`` block, as written."""
    import re

    from conftest import REPO

    m = re.search(r"<!-- sdk-python-keys-example -->\n```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert m, "README.md has no <!-- sdk-python-keys-example --> block"
    pem = p256_pem()
    (tmp_path / "client-key.pem").write_text(pem)
    app = stack.create_key_application([public_jwk(pem, "k1")], dpop_bound=True)
    clean_env.chdir(tmp_path)
    clean_env.setenv("KEY_CLIENT_ID", app["client_id"])
    clean_env.setenv("CASEFORGE_BASE_URL", stack.base_url)
    clean_env.setenv("CASEFORGE_AUTH_URL", stack.auth_url)
    exec(compile(m.group(1), "README.md#sdk-python-keys-example", "exec"), {"__name__": "readme_example"})
    assert "page_size=20" in capsys.readouterr().out
