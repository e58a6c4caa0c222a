"""Client behaviour that needs no server: configuration precedence, secrets kept out of
repr/errors, and the retry policy, against httpx's MockTransport."""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

import httpx
import pytest

import caseforge
from caseforge import _core

CASE = {
    "id": "case_1",
    "reference": "CF-2026-000001",
    "title": "t",
    "description": "",
    "status": "open",
    "priority": "medium",
    "assignee": None,
    "subject_ids": [],
    "resolution": None,
    "closed_at": None,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
}
METADATA = {"issuer": "http://auth", "token_endpoint": "http://auth/oauth/token"}  # auth_url="http://auth"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr("caseforge._client.time.sleep", lambda s: slept.append(s))

    async def fake_async_sleep(s: float) -> None:
        slept.append(s)

    monkeypatch.setattr("caseforge._client.asyncio.sleep", fake_async_sleep)
    return slept


def error(status: int, code: str, headers: Any = None) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "error_description": f"{code}."}, headers=headers)


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> caseforge.Client:
    kw.setdefault("api_key", "cf_sand_unit_test_key_0123456789")
    return caseforge.Client(base_url="http://api", auth_url="http://auth", http_client=httpx.Client(transport=httpx.MockTransport(handler)), **kw)


# --- configuration --------------------------------------------------------------------------


def test_api_key_from_environment_first(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CASEFORGE_API_KEY", "cf_sand_from_env_000000000000")
    clean_env.setenv("CASEFORGE_CLIENT_ID", "app_env")
    clean_env.setenv("CASEFORGE_CLIENT_SECRET", "env-secret")
    clean_env.setenv("CASEFORGE_BASE_URL", "http://env-api/")
    clean_env.setenv("CASEFORGE_AUTH_URL", "http://env-auth")
    c = caseforge.Client()
    assert c._config.api_key is not None and c._config.api_key.reveal() == "cf_sand_from_env_000000000000"
    assert c._tokens is None
    assert c.base_url == "http://env-api" and c.auth_url == "http://env-auth"
    assert c.max_retries == 2


def test_client_credentials_arguments_ignore_the_environment_api_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CASEFORGE_API_KEY", "cf_sand_from_env_000000000000")
    c = caseforge.Client(client_id="app_arg", client_secret="arg-secret", scopes="cases:read cases:write")
    assert c._config.api_key is None and c._tokens is not None
    assert c.client_id == "app_arg" and c.scopes == ("cases:read", "cases:write")


def test_client_credentials_from_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CASEFORGE_CLIENT_ID", "app_env")
    clean_env.setenv("CASEFORGE_CLIENT_SECRET", "env-secret")
    c = caseforge.Client(base_url="http://arg-api")
    assert c.client_id == "app_env" and c.base_url == "http://arg-api"
    # An argument wins over its variable.
    assert caseforge.Client(client_id="app_arg").client_id == "app_arg"


def test_no_credentials_is_a_configuration_error(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(caseforge.ConfigurationError):
        caseforge.Client()
    with pytest.raises(caseforge.ConfigurationError):
        caseforge.Client(client_id="app_only")
    with pytest.raises(caseforge.ConfigurationError):
        caseforge.Client(api_key="k", client_id="app", client_secret="s")


def test_secret_never_in_repr(clean_env: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-value-that-must-not-leak"
    c = caseforge.Client(client_id="app_x", client_secret=secret)
    assert secret not in repr(c) and secret not in str(c) and secret not in repr(c._config)
    key = "cf_sand_abcdefghijklmnopqrstuvwxyz012345"
    k = caseforge.Client(api_key=key)
    assert key not in repr(k) and key not in repr(k._config)


# --- retries --------------------------------------------------------------------------------


def test_get_retried_on_5xx_408_429_and_busy_with_one_request_id(no_sleep: list[float]) -> None:
    answers = [error(503, "service_unavailable"), error(408, "timeout"), error(409, "busy", {"Retry-After": "1"}), httpx.Response(200, json=CASE)]
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return answers[len(seen) - 1]

    case = mock_client(handler, max_retries=3).cases.retrieve("case_1")
    assert case.id == "case_1" and len(seen) == 4
    assert len({r.headers["x-request-id"] for r in seen}) == 1
    assert len(no_sleep) == 3 and 1.0 <= no_sleep[2] <= 1.3  # Retry-After honoured


def test_permanent_conflict_is_not_retried() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return error(409, "conflict")

    with pytest.raises(caseforge.ConflictError) as e:
        mock_client(handler).cases.close("case_1", resolution="r")
    assert len(seen) == 1 and e.value.code == "conflict" and not e.value.retryable


def test_create_retried_with_the_same_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if len(seen) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=req)
        if len(seen) == 2:
            return error(500, "internal_error")
        return httpx.Response(201, json=CASE, headers={"ETag": '"1"'})

    case = mock_client(handler).cases.create(title="t")
    assert case.etag == '"1"' and len(seen) == 3
    keys = {r.headers["idempotency-key"] for r in seen}
    assert len(keys) == 1 and next(iter(keys)).startswith("cfpy_")
    # A second call makes a key of its own.
    seen.clear()
    mock_client(lambda r: (seen.append(r), httpx.Response(201, json=CASE))[1]).cases.create(title="t")
    assert seen[0].headers["idempotency-key"] not in keys


def test_transitions_carry_an_idempotency_key_and_if_match() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json=CASE)

    c = mock_client(handler)
    c.cases.assign("case_1", assignee=None, if_match='"3"')
    c.cases.close("case_1", resolution="r", idempotency_key="mine-1")
    assert json.loads(seen[0].content) == {"assignee": None}
    assert seen[0].headers["if-match"] == '"3"' and seen[0].headers["idempotency-key"].startswith("cfpy_")
    assert seen[1].headers["idempotency-key"] == "mine-1"


def test_update_is_not_retried_it_has_no_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return error(503, "service_unavailable")

    with pytest.raises(caseforge.InternalServerError) as e:
        mock_client(handler).cases.update("case_1", title="x", if_match='"1"')
    assert len(seen) == 1 and "idempotency-key" not in seen[0].headers
    assert e.value.status_code == 503 and e.value.request_id == seen[0].headers["x-request-id"]


def test_connection_errors_exhaust_max_retries() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        raise httpx.ConnectError("refused", request=req)

    with pytest.raises(caseforge.APIConnectionError) as e:
        mock_client(handler, max_retries=2).cases.list()
    assert len(seen) == 3 and e.value.request_id == seen[0].headers["x-request-id"]

    seen.clear()

    def slow(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        raise httpx.ReadTimeout("slow", request=req)

    with pytest.raises(caseforge.APITimeoutError):
        mock_client(slow, max_retries=0).cases.list()
    assert len(seen) == 1


def test_rate_limit_error_exposes_retry_after() -> None:
    c = mock_client(lambda r: error(429, "rate_limited", {"Retry-After": "7"}), max_retries=0)
    with pytest.raises(caseforge.RateLimitError) as e:
        c.me()
    assert e.value.retry_after == 7.0 and e.value.status_code == 429 and e.value.code == "rate_limited"


def test_retry_after_beyond_a_minute_is_not_slept_through(no_sleep: list[float]) -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return error(429, "rate_limited", {"Retry-After": "3600"})

    with pytest.raises(caseforge.RateLimitError):
        mock_client(handler).me()
    assert len(seen) == 1 and no_sleep == []


def test_api_key_401_is_not_retried() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return error(401, "invalid_token")

    with pytest.raises(caseforge.AuthenticationError):
        mock_client(handler).me()
    assert len(seen) == 1


def test_oauth_401_renews_once_then_raises() -> None:
    seen: list[httpx.Request] = []
    tokens = iter(["tok-1", "tok-2", "tok-3"])

    sent: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if req.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=METADATA)
        if req.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": next(tokens), "token_type": "Bearer", "expires_in": 3600})
        sent.append(req.headers["authorization"])  # as sent (an error's copy is redacted)
        return error(401, "invalid_token")

    c = mock_client(handler, api_key=None, client_id="app_x", client_secret="sec")
    with pytest.raises(caseforge.AuthenticationError):
        c.me()
    assert sent == ["Bearer tok-1", "Bearer tok-2"]


def test_invalid_client_raises_at_once_without_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    secret = "wrong-secret-do-not-print"
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if req.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=METADATA)
        return error(401, "invalid_client", {"WWW-Authenticate": 'Basic realm="caseforge"'})

    caplog.set_level(logging.DEBUG)
    c = mock_client(handler, api_key=None, client_id="app_x", client_secret=secret, max_retries=5)
    with pytest.raises(caseforge.AuthenticationError) as e:
        c.cases.list()
    assert e.value.code == "invalid_client"
    assert [r.url.path for r in seen] == ["/.well-known/oauth-authorization-server", "/oauth/token"]
    import base64

    basic = base64.b64encode(f"app_x:{secret}".encode()).decode()
    for text in (str(e.value), repr(e.value), repr(e.value.__dict__), caplog.text, str(e.value.request.headers), str(e.value.response.request.headers)):
        assert secret not in text and basic not in text


def test_credentials_are_redacted_from_the_request_an_error_carries() -> None:
    key = "cf_sand_unit_test_key_0123456789"
    c = mock_client(lambda r: error(404, "not_found"))
    with pytest.raises(caseforge.NotFoundError) as e:
        c.cases.retrieve("nope")
    assert e.value.request is not None and e.value.request.headers["authorization"] == "[redacted]"

    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    with pytest.raises(caseforge.APIConnectionError) as ce:
        mock_client(refuse, max_retries=0).cases.list()
    assert ce.value.request is not None and key not in str(ce.value.request.headers)
    assert "refused" in str(ce.value)


def test_token_renewed_within_five_minutes_of_expiry() -> None:
    fetches: list[int] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=METADATA)
        if req.url.path == "/oauth/token":
            fetches.append(1)
            return httpx.Response(200, json={"access_token": f"tok-{len(fetches)}", "expires_in": 3600})
        return httpx.Response(200, json={"principal_type": "application", "id": "app_x", "environment": "sandbox", "scopes": [], "tier": "standard"})

    c = mock_client(handler, api_key=None, client_id="app_x", client_secret="sec")
    c.me()
    c.me()
    assert len(fetches) == 1
    assert c._tokens is not None and c._tokens._token is not None
    # Issued with expires_in 3600: renewed once less than 300 s remain.
    c._tokens._token.renew_at -= 3300 - 1  # 5 min 1 s before expiry: still used
    c.me()
    assert len(fetches) == 1
    c._tokens._token.renew_at -= 2  # 4 min 59 s before expiry: renewed before the call
    c.me()
    assert len(fetches) == 2


def test_form_encoded_basic_credentials() -> None:
    header = _core.basic_auth("app_x", _core.Secret("a b:c"))
    import base64

    assert base64.b64decode(header.split()[1]).decode() == "app_x:a+b%3Ac"


async def test_async_retry_and_page_walk_resend_filters() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if len(seen) == 1:
            return error(503, "service_unavailable")
        cursor = req.url.params.get("cursor")
        nxt = {None: "c2", "c2": "c3", "c3": None}[cursor]
        item = dict(CASE, id=f"case_{cursor}")
        return httpx.Response(200, json={"data": [item], "pagination": {"page": 1, "page_size": 1, "total": 3, "total_pages": 3, "next_cursor": nxt}})

    c = caseforge.AsyncClient(api_key="k" * 20, base_url="http://api", http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    ids = [case.id async for case in c.cases.list(status="open", page_size=1, page=1)]
    assert ids == ["case_None", "case_c2", "case_c3"]
    later = [dict(r.url.params) for r in seen[2:]]
    assert later == [{"status": "open", "page_size": "1", "cursor": "c2"}, {"status": "open", "page_size": "1", "cursor": "c3"}]


# --- webhooks ---------------------------------------------------------------------------------


def test_webhook_endpoints_paths_and_keys() -> None:
    at = "2026-01-01T00:00:00Z"
    endpoint = {"id": "whe_1", "url": "https://example.com/hook", "events": ["case.closed"], "description": "", "enabled": True, "created_at": at, "updated_at": at, "secret": "whsec_c2VjcmV0"}
    delivery = {"id": "whd_1", "endpoint_id": "whe_1", "event_id": "evt_1", "event_type": "case.closed", "status": "pending", "attempts": 1, "created_at": at, "updated_at": at, "attempt_log": [{"at": at, "response_status": 500, "duration_ms": 3}]}
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if req.url.path.endswith("/retry"):
            return httpx.Response(202, json=delivery)
        if req.url.path.endswith("/deliveries"):
            return httpx.Response(200, json={"data": [delivery], "pagination": {"page": 1, "page_size": 20, "total": 1, "total_pages": 1, "next_cursor": None}})
        if req.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(201 if req.method == "POST" else 200, json=endpoint, headers={"ETag": '"1"'})

    c = mock_client(handler)
    created = c.webhook_endpoints.create(url="https://example.com/hook", events=["case.closed"])
    assert created.secret == "whsec_c2VjcmV0" and "whsec_" not in repr(created) and created.etag == '"1"'
    assert isinstance(created, caseforge.models.WebhookEndpointWithSecret) and isinstance(created, caseforge.models.WebhookEndpoint)
    c.webhook_endpoints.update("whe_1", enabled=True, if_match='"1"')
    c.webhook_endpoints.rotate_secret("whe_1", grace_period_seconds=0)
    assert [d.attempt_log[0].response_status for d in c.webhook_endpoints.deliveries("whe_1")] == [500]
    assert c.webhook_endpoints.retry_delivery("whe_1", "whd_1").status == "pending"
    assert c.webhook_endpoints.delete("whe_1") is None
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/v2/webhook-endpoints"),
        ("PATCH", "/v2/webhook-endpoints/whe_1"),
        ("POST", "/v2/webhook-endpoints/whe_1/rotate-secret"),
        ("GET", "/v2/webhook-endpoints/whe_1/deliveries"),
        ("POST", "/v2/webhook-endpoints/whe_1/deliveries/whd_1/retry"),
        ("DELETE", "/v2/webhook-endpoints/whe_1"),
    ]
    assert json.loads(seen[1].content) == {"enabled": True} and json.loads(seen[2].content) == {"grace_period_seconds": 0}
    # create and rotate-secret are not replayed by the server: no key, so never retried.
    keyed = [(r.method, r.url.path) for r in seen if "idempotency-key" in r.headers]
    assert keyed == [("POST", "/v2/webhook-endpoints/whe_1/deliveries/whd_1/retry"), ("DELETE", "/v2/webhook-endpoints/whe_1")]


def test_webhook_create_and_rotate_are_not_retried() -> None:
    # The server does not replay them (their answer holds a secret): a retry could make a second endpoint.
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(503, json={"error": {"code": "unavailable", "message": "try later"}})

    c = mock_client(handler)
    with pytest.raises(caseforge.APIStatusError):
        c.webhook_endpoints.create(url="https://example.com/hook", events=["case.closed"])
    with pytest.raises(caseforge.APIStatusError):
        c.webhook_endpoints.rotate_secret("whe_1")
    assert len(seen) == 2


def test_webhook_signature_standard_webhooks_example() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,bm9ldHRoaXNvbmU= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert caseforge.webhooks.sign(secret, headers["webhook-id"], 1614265330, body) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert caseforge.webhooks.verify(body, headers, secret, now=1614265330 + 10) == {"test": 2432232314}
    with pytest.raises(caseforge.webhooks.WebhookVerificationError):
        caseforge.webhooks.verify(body, headers, secret, now=1614265330 + 301)  # too old
    with pytest.raises(caseforge.webhooks.WebhookVerificationError):
        caseforge.webhooks.verify(b'{"test": 1}', headers, secret, now=1614265330)  # altered body
    with pytest.raises(caseforge.webhooks.WebhookVerificationError):
        caseforge.webhooks.verify(body, headers, "whsec_" + "QUJD" * 8, now=1614265330)  # another secret


def test_metadata_of_another_issuer_is_refused() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json={"issuer": "http://elsewhere", "token_endpoint": "http://elsewhere/oauth/token"})

    c = mock_client(handler, api_key=None, client_id="app_x", client_secret="sec")
    with pytest.raises(caseforge.APIError) as e:
        c.me()
    assert not isinstance(e.value, caseforge.APIConnectionError)
    assert "elsewhere" in str(e.value) and [r.url.path for r in seen] == ["/.well-known/oauth-authorization-server"]


def test_with_options_shares_the_pool_and_the_token_cache() -> None:
    fetches: list[int] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=METADATA)
        if req.url.path == "/oauth/token":
            fetches.append(1)
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        return httpx.Response(200, json={"principal_type": "application", "id": "app_x", "environment": "sandbox", "scopes": [], "tier": "standard"})

    c = mock_client(handler, api_key=None, client_id="app_x", client_secret="sec")
    c.me()
    patient = c.with_options(max_retries=7, timeout=5.0)
    patient.me()
    assert patient.max_retries == 7 and patient.timeout == 5.0 and patient._http is c._http
    assert len(fetches) == 1
    other = c.with_options(client_secret="other-secret")
    other.me()
    assert len(fetches) == 2 and other.client_id == "app_x"
    assert "other-secret" not in repr(other)


def test_a_value_a_newer_server_adds_to_a_closed_set_is_kept_not_refused() -> None:
    """An old SDK reads a record whose status (or any enum field) it does not know yet."""
    from caseforge import models

    row = {
        "id": "sub_1",
        "subject_type": "person",
        "name": "A",
        "country": "GB",
        "date_of_birth": None,
        "risk_score": 97,
        "risk_level": "critical",
        "created_at": "2026-12-04T00:00:00Z",
        "updated_at": "2026-12-04T00:00:00Z",
    }
    subject = models.Subject.model_validate(row)
    assert subject.risk_level == "critical"
    assert models.Subject.model_validate({**row, "risk_level": "high"}).risk_level == "high"
