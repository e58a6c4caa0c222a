"""``Client`` and ``AsyncClient``: credentials, tokens, retries, errors."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from typing import Any, Mapping, Optional, Sequence, Union

import httpx

from . import models
from ._core import (
    Config,
    Op,
    basic_auth,
    build_request,
    config_repr,
    is_nonce_challenge,
    is_retryable_status,
    log,
    log_response,
    new_idempotency_key,
    new_request_id,
    next_cursor_of,
    parse_model,
    resolve_config,
    retry_delay,
    user_agent,
    METADATA_PATH,
    RENEW_BEFORE_EXPIRY,
)
from ._keys import CLIENT_ASSERTION_TYPE, DPoPKey, client_assertion
from ._exceptions import APIConnectionError, APIError, APITimeoutError, AuthenticationError, make_status_error
from ._pagination import AsyncPage, AsyncPaginator, SyncPage
from ._resources import Resources
from ._resources_async import AsyncResources
from ._response import APIResponse

__all__ = ["Client", "AsyncClient"]


# --- tokens ---------------------------------------------------------------------------------


class _Token:
    __slots__ = ("value", "renew_at", "dpop")

    def __init__(self, value: str, expires_in: float, dpop: bool = False) -> None:
        self.value = value
        # `token_type: DPoP`: sent as `Authorization: DPoP` with a proof (RFC 9449 §7.1).
        self.dpop = dpop
        margin = min(RENEW_BEFORE_EXPIRY, expires_in / 2)
        self.renew_at = time.monotonic() + expires_in - margin

    def fresh(self) -> bool:
        return time.monotonic() < self.renew_at


def _token_request(
    http: Union[httpx.Client, httpx.AsyncClient], config: Config, endpoint: str, request_id: str, dpop: Optional[DPoPKey]
) -> httpx.Request:
    """One attempt at the token request: a new client assertion and a new DPoP proof each time
    (the server accepts each ``jti`` once)."""
    assert config.client_id is not None
    form = {"grant_type": "client_credentials"}
    if config.scopes:
        form["scope"] = " ".join(config.scopes)
    headers = {"Accept": "application/json", "User-Agent": user_agent(), "X-Request-Id": request_id}
    if config.private_key is not None:
        # RFC 7523 §2.2; `aud` is the issuer identifier (contract §7 takes it or the endpoint's
        # URL; the issuer is what FAPI 2.0 and RFC 7523bis ask for).
        form["client_assertion_type"] = CLIENT_ASSERTION_TYPE
        form["client_assertion"] = client_assertion(config.private_key, config.client_id, config.auth_url)
    else:
        assert config.client_secret is not None
        headers["Authorization"] = basic_auth(config.client_id, config.client_secret)
    if dpop is not None:
        headers["DPoP"] = dpop.proof("POST", endpoint)
    return http.build_request("POST", endpoint, data=form, headers=headers, timeout=config.timeout)


def _token_of(response: httpx.Response, request_id: str) -> _Token:
    try:
        body = response.json()
        value = body["access_token"]
        expires_in = float(body.get("expires_in") or 3600)
        dpop = str(body.get("token_type") or "").lower() == "dpop"
    except (ValueError, KeyError, TypeError, AttributeError):
        raise APIConnectionError("The token endpoint answered 200 without an access token.", request=response.request, request_id=request_id) from None
    return _Token(str(value), expires_in, dpop)


def _metadata_endpoint(response: httpx.Response, config: Config, request_id: str) -> str:
    """The token endpoint of the issuer's RFC 8414 metadata, whose ``issuer`` must be
    ``auth_url`` itself (RFC 8414 §3.3: metadata of another issuer is not used)."""
    try:
        metadata = response.json()
        endpoint = metadata["token_endpoint"]
        issuer = str(metadata["issuer"])
    except (ValueError, KeyError, TypeError):
        raise APIError(
            f"{config.auth_url}{METADATA_PATH} has no issuer or token_endpoint.", request=response.request, request_id=request_id
        ) from None
    if issuer.rstrip("/") != config.auth_url:
        raise APIError(
            f"{config.auth_url}{METADATA_PATH} names the issuer {issuer!r}: set auth_url (CASEFORGE_AUTH_URL) to the issuer.",
            request=response.request,
            request_id=request_id,
        )
    return str(endpoint)


class _SyncTokens:
    """The OAuth access token of one ``Client``: fetched on first use, cached, renewed within
    5 minutes of expiry; one fetch at a time however many threads call."""

    def __init__(self, client: "Client") -> None:
        self._client = client
        self._lock = threading.Lock()
        self._token: Optional[_Token] = None
        self._endpoint: Optional[str] = None

    def get(self) -> _Token:
        token = self._token
        if token is not None and token.fresh():
            return token
        with self._lock:
            token = self._token
            if token is None or not token.fresh():
                token = self._fetch()
                self._token = token
            return token

    def invalidate(self, value: str) -> None:
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def _fetch(self) -> _Token:
        client = self._client
        config = client._config
        if self._endpoint is None:
            rid = new_request_id()
            resp = client._send_with_retries(
                lambda: client._http.build_request(
                    "GET", config.auth_url + METADATA_PATH, headers={"Accept": "application/json", "User-Agent": user_agent(), "X-Request-Id": rid}, timeout=config.timeout
                ),
                rid,
                retryable=True,
            )
            self._endpoint = _metadata_endpoint(resp, config, rid)
        rid = new_request_id()
        endpoint = self._endpoint
        resp = client._send_with_retries(lambda: _token_request(client._http, config, endpoint, rid, client._dpop), rid, retryable=True)
        log.debug("caseforge: new access token (request id %s)", rid)
        return _token_of(resp, rid)


class _AsyncTokens:
    """As ``_SyncTokens``, one fetch at a time however many tasks call (``asyncio.Lock``)."""

    def __init__(self, client: "AsyncClient") -> None:
        self._client = client
        self._lock: Optional[asyncio.Lock] = None
        self._token: Optional[_Token] = None
        self._endpoint: Optional[str] = None

    def _the_lock(self) -> asyncio.Lock:
        # Made on first use, inside the running loop (Python 3.9 binds a lock to the loop
        # current when it is made).
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def get(self) -> _Token:
        token = self._token
        if token is not None and token.fresh():
            return token
        async with self._the_lock():
            token = self._token
            if token is None or not token.fresh():
                token = await self._fetch()
                self._token = token
            return token

    async def invalidate(self, value: str) -> None:
        async with self._the_lock():
            if self._token is not None and self._token.value == value:
                self._token = None

    async def _fetch(self) -> _Token:
        client = self._client
        config = client._config
        if self._endpoint is None:
            rid = new_request_id()
            resp = await client._send_with_retries(
                lambda: client._http.build_request(
                    "GET", config.auth_url + METADATA_PATH, headers={"Accept": "application/json", "User-Agent": user_agent(), "X-Request-Id": rid}, timeout=config.timeout
                ),
                rid,
                retryable=True,
            )
            self._endpoint = _metadata_endpoint(resp, config, rid)
        rid = new_request_id()
        endpoint = self._endpoint
        resp = await client._send_with_retries(lambda: _token_request(client._http, config, endpoint, rid, client._dpop), rid, retryable=True)
        log.debug("caseforge: new access token (request id %s)", rid)
        return _token_of(resp, rid)


# --- shared client surface ------------------------------------------------------------------


def _retryable(op: Op, idempotency_key: Optional[str]) -> bool:
    return op.method in ("GET", "HEAD") or op.safe or idempotency_key is not None


def _redact(request: httpx.Request) -> httpx.Request:
    """The request as an exception carries it: without its credential (a token, an API key or
    the Basic client secret), already sent."""
    if "authorization" in request.headers:
        request.headers["Authorization"] = "[redacted]"
    if "x-api-key" in request.headers:
        request.headers["X-API-Key"] = "[redacted]"
    return request


def _status_error(response: httpx.Response, request_id: str) -> Exception:
    _redact(response.request)
    return make_status_error(response, response.headers.get("x-request-id") or request_id)


def _connection_error(e: Exception, request: httpx.Request, request_id: str) -> Exception:
    _redact(request)
    if isinstance(e, httpx.TimeoutException):
        return APITimeoutError(request=request, request_id=request_id)
    return APIConnectionError(f"Connection error: {type(e).__name__}: {e}", request=request, request_id=request_id)


class _Base:
    _config: Config
    _dpop: Optional[DPoPKey] = None

    def _api_request(self, op: Op, token: Union[_Token, str], request_id: str, idem: Optional[str]) -> httpx.Request:
        """One attempt at an API call: with a DPoP-bound token, ``Authorization: DPoP`` and a new
        proof of this method and URL with ``ath`` (RFC 9449 §7.1)."""
        http: Any = getattr(self, "_http")
        if isinstance(token, str):
            return build_request(http, self._config, op, bearer=token, request_id=request_id, idempotency_key=idem)
        if not token.dpop or self._dpop is None:
            return build_request(http, self._config, op, bearer=token.value, request_id=request_id, idempotency_key=idem)
        request = build_request(http, self._config, op, bearer=token.value, request_id=request_id, idempotency_key=idem, scheme="DPoP")
        request.headers["DPoP"] = self._dpop.proof(request.method, str(request.url), token.value)
        return request

    def _nonce_retry(self, response: httpx.Response) -> bool:
        """Notes a server's ``DPoP-Nonce`` (RFC 9449 §8.2: any answer may carry a new one); true
        when the answer asks for a proof with it, which the next attempt's proof will carry."""
        if self._dpop is None:
            return False
        self._dpop.note_nonce(str(response.request.url), response.headers.get("dpop-nonce"))
        return is_nonce_challenge(response)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def auth_url(self) -> str:
        return self._config.auth_url

    @property
    def max_retries(self) -> int:
        return self._config.max_retries

    @property
    def timeout(self) -> Any:
        return self._config.timeout

    @property
    def client_id(self) -> Optional[str]:
        return self._config.client_id

    @property
    def scopes(self) -> Optional[tuple[str, ...]]:
        return self._config.scopes

    def __repr__(self) -> str:
        return config_repr(type(self).__name__, self._config)

    def _parse(self, op: Op, response: httpx.Response, request_id: str, page_cls: Any) -> Any:
        def parse() -> Any:
            if op.page_item is not None:
                body = response.json()
                items = [op.page_item.model_validate(x) for x in body.get("data", [])]
                raw_pagination = body.get("pagination")
                pagination = models.Pagination.model_validate(raw_pagination) if isinstance(raw_pagination, dict) else None
                return page_cls(
                    data=items,
                    pagination=pagination,
                    next_cursor=next_cursor_of(body, response),
                    op=dataclasses.replace(op, raw=False),
                    client=self,
                )
            return parse_model(op.cast, response)

        if op.raw:
            return APIResponse(response, request_id, parse)
        return parse()

    def _options_for(self, options: dict[str, Any], http_client: Any) -> dict[str, Any]:
        """This client's options with ``options`` over them."""
        c = self._config
        merged: dict[str, Any] = {
            "api_key": c.api_key.reveal() if c.api_key else None,
            "client_id": c.client_id,
            "client_secret": c.client_secret.reveal() if c.client_secret else None,
            "private_key": c.private_key,
            "dpop": c.dpop,
            "base_url": c.base_url,
            "auth_url": c.auth_url,
            "scopes": c.scopes,
            "timeout": c.timeout,
            "max_retries": c.max_retries,
            "default_headers": c.default_headers,
        }
        if "api_key" in options:  # another key: no client credentials
            merged["client_id"] = merged["client_secret"] = merged["private_key"] = None
            merged["dpop"] = False
        elif "client_id" in options or "client_secret" in options or "private_key" in options:  # the other half kept
            merged["api_key"] = None
            if "client_secret" in options:
                merged["private_key"] = None
            elif "private_key" in options:
                merged["client_secret"] = None
        merged.update(options)
        merged.setdefault("http_client", http_client)
        return merged

    def _share_tokens(self, clone: Any) -> None:
        """The same application, credential, scopes, issuer and DPoP choice: one token cache (and
        the DPoP key its tokens are bound to)."""
        mine: Any = getattr(self, "_tokens", None)
        c, o = clone._config, self._config
        same = (c.client_id, c.client_secret, c.private_key, c.scopes, c.auth_url, c.dpop) == (o.client_id, o.client_secret, o.private_key, o.scopes, o.auth_url, o.dpop)
        if clone._tokens is not None and mine is not None and same:
            clone._tokens = mine
            clone._dpop = self._dpop


class Client(_Base, Resources):
    """The CaseForge API, synchronously (safe to share between threads).

    ``Client()`` reads ``CASEFORGE_API_KEY`` (else ``CASEFORGE_CLIENT_ID`` and
    ``CASEFORGE_CLIENT_SECRET``), ``CASEFORGE_BASE_URL`` and ``CASEFORGE_AUTH_URL``; arguments
    win. ``http_client`` may be an ``httpx.Client`` of your own (proxies, event hooks, …).
    """

    def __init__(
        self,
        *,
        api_key: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        private_key: Any = None,
        key_id: Optional[str] = None,
        dpop: bool = False,
        base_url: Optional[str] = None,
        auth_url: Optional[str] = None,
        scopes: Union[None, str, Sequence[str]] = None,
        timeout: Union[None, float, httpx.Timeout] = None,
        max_retries: Optional[int] = None,
        default_headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        self._config = resolve_config(
            api_key=api_key,
            client_id=client_id,
            client_secret=client_secret,
            private_key=private_key,
            key_id=key_id,
            dpop=dpop,
            base_url=base_url,
            auth_url=auth_url,
            scopes=scopes,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=self._config.timeout, follow_redirects=False)
        self._tokens = _SyncTokens(self) if self._config.uses_oauth else None
        # One fresh P-256 key per client, in memory only (RFC 9449 §2).
        self._dpop = DPoPKey() if self._config.dpop else None
        self._init_resources(self)

    # -- lifecycle

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def with_options(self, **options: Any) -> "Client":
        """A client with some options changed (``max_retries``, ``timeout``, …), sharing this one's
        connection pool (and token cache). Credentials not given are this client's."""
        clone = Client(**self._options_for(options, self._http))
        clone._owns_http = False
        self._share_tokens(clone)
        return clone

    @property
    def with_raw_response(self) -> Any:
        """``client.with_raw_response.cases.retrieve(id)`` → ``APIResponse`` (``.headers``,
        ``.status_code``, ``.request_id``, ``.parse()``)."""
        return _RawClient(self)

    # -- requests

    def _bearer(self) -> Union[_Token, str]:
        if self._tokens is None:
            assert self._config.api_key is not None
            return self._config.api_key.reveal()
        return self._tokens.get()

    def _send_with_retries(self, make: Any, request_id: str, *, retryable: bool, max_retries: Optional[int] = None) -> httpx.Response:
        """Sends ``make()`` until a success, retrying connection errors, 408, 429, 5xx and 409
        ``busy`` when ``retryable``; raises the typed error otherwise. (Token endpoint and
        metadata; API calls go through ``_call``, which adds the 401 renewal.)"""
        retries = self._config.max_retries if max_retries is None else max_retries
        attempt = 0
        nonce_retried = False
        while True:
            request = make()
            try:
                response = self._http.send(request)
            except httpx.TimeoutException as e:
                if retryable and attempt < retries:
                    time.sleep(retry_delay(attempt, None) or 0)
                    attempt += 1
                    continue
                raise _connection_error(e, request, request_id) from None
            except httpx.TransportError as e:
                if retryable and attempt < retries:
                    time.sleep(retry_delay(attempt, None) or 0)
                    attempt += 1
                    continue
                raise _connection_error(e, request, request_id) from None
            response.read()
            log_response(response, request_id, attempt)
            if self._nonce_retry(response) and not nonce_retried:
                # Once per call, at once: `make()` signs a new proof with the nonce just given.
                nonce_retried = True
                continue
            if response.is_success:
                return response
            if retryable and attempt < retries and is_retryable_status(response):
                delay = retry_delay(attempt, response)
                if delay is not None:
                    time.sleep(delay)
                    attempt += 1
                    continue
            raise _status_error(response, request_id)

    def _call(self, op: Op) -> Any:
        request_id = new_request_id()
        idem = op.idempotency_key or (new_idempotency_key() if op.send_idempotency_key else None)
        retryable = _retryable(op, idem)
        renewed = False
        while True:
            bearer = self._bearer()
            try:
                response = self._send_with_retries(
                    lambda: self._api_request(op, bearer, request_id, idem),
                    request_id,
                    retryable=retryable,
                )
            except AuthenticationError as e:
                # A 401 to an OAuth token: a new token at once and the request once more.
                if self._tokens is not None and not renewed and e.status_code == 401:
                    renewed = True
                    self._tokens.invalidate(bearer.value if not isinstance(bearer, str) else bearer)
                    continue
                raise
            return self._parse(op, response, request_id, SyncPage)

    def _list(self, op: Op) -> Any:
        return self._call(op)


class AsyncClient(_Base, AsyncResources):
    """The CaseForge API for asyncio: the same surface as ``Client`` with ``await``;
    ``list()`` can be awaited (first page) or walked with ``async for``."""

    def __init__(
        self,
        *,
        api_key: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        private_key: Any = None,
        key_id: Optional[str] = None,
        dpop: bool = False,
        base_url: Optional[str] = None,
        auth_url: Optional[str] = None,
        scopes: Union[None, str, Sequence[str]] = None,
        timeout: Union[None, float, httpx.Timeout] = None,
        max_retries: Optional[int] = None,
        default_headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self._config = resolve_config(
            api_key=api_key,
            client_id=client_id,
            client_secret=client_secret,
            private_key=private_key,
            key_id=key_id,
            dpop=dpop,
            base_url=base_url,
            auth_url=auth_url,
            scopes=scopes,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self._config.timeout, follow_redirects=False)
        self._tokens = _AsyncTokens(self) if self._config.uses_oauth else None
        self._dpop = DPoPKey() if self._config.dpop else None
        self._init_resources(self)

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def with_options(self, **options: Any) -> "AsyncClient":
        """As ``Client.with_options``."""
        clone = AsyncClient(**self._options_for(options, self._http))
        clone._owns_http = False
        self._share_tokens(clone)
        return clone

    @property
    def with_raw_response(self) -> Any:
        """As ``Client.with_raw_response``; ``await`` each call."""
        return _RawClient(self)  # the same resource methods: each answers the client's coroutine

    async def _bearer(self) -> Union[_Token, str]:
        if self._tokens is None:
            assert self._config.api_key is not None
            return self._config.api_key.reveal()
        return await self._tokens.get()

    async def _send_with_retries(self, make: Any, request_id: str, *, retryable: bool, max_retries: Optional[int] = None) -> httpx.Response:
        retries = self._config.max_retries if max_retries is None else max_retries
        attempt = 0
        nonce_retried = False
        while True:
            request = make()
            try:
                response = await self._http.send(request)
            except httpx.TimeoutException as e:
                if retryable and attempt < retries:
                    await asyncio.sleep(retry_delay(attempt, None) or 0)
                    attempt += 1
                    continue
                raise _connection_error(e, request, request_id) from None
            except httpx.TransportError as e:
                if retryable and attempt < retries:
                    await asyncio.sleep(retry_delay(attempt, None) or 0)
                    attempt += 1
                    continue
                raise _connection_error(e, request, request_id) from None
            await response.aread()
            log_response(response, request_id, attempt)
            if self._nonce_retry(response) and not nonce_retried:
                nonce_retried = True
                continue
            if response.is_success:
                return response
            if retryable and attempt < retries and is_retryable_status(response):
                delay = retry_delay(attempt, response)
                if delay is not None:
                    await asyncio.sleep(delay)
                    attempt += 1
                    continue
            raise _status_error(response, request_id)

    async def _call(self, op: Op) -> Any:
        request_id = new_request_id()
        idem = op.idempotency_key or (new_idempotency_key() if op.send_idempotency_key else None)
        retryable = _retryable(op, idem)
        renewed = False
        while True:
            bearer = await self._bearer()
            try:
                response = await self._send_with_retries(
                    lambda: self._api_request(op, bearer, request_id, idem),
                    request_id,
                    retryable=retryable,
                )
            except AuthenticationError as e:
                if self._tokens is not None and not renewed and e.status_code == 401:
                    renewed = True
                    await self._tokens.invalidate(bearer.value if not isinstance(bearer, str) else bearer)
                    continue
                raise
            return self._parse(op, response, request_id, AsyncPage)

    def _list(self, op: Op) -> Any:
        return AsyncPaginator(self, op)


class _RawClient(Resources):
    """The client's resources, each call answering an ``APIResponse`` (for ``AsyncClient``, an
    awaitable of one)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._init_resources(self)

    def _call(self, op: Op) -> Any:
        return self._client._call(dataclasses.replace(op, raw=True))

    def _list(self, op: Op) -> Any:
        return self._client._call(dataclasses.replace(op, raw=True))
