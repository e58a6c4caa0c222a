"""What the sync and the async client share: configuration, request building, retry policy,
parsing. Nothing here does I/O."""

from __future__ import annotations

import base64
import dataclasses
import hmac
import logging
import os
import random
import re
import uuid
from typing import Any, Callable, Mapping, Optional, Sequence, Union
from urllib.parse import quote

import httpx

from ._exceptions import _retry_after_seconds
from ._keys import UnusableKey, SigningKey, load_signing_key
from ._version import __version__

log = logging.getLogger("caseforge")

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_AUTH_URL = "http://127.0.0.1:8081"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
# A `Retry-After` longer than this is not slept through: the error is raised instead.
MAX_RETRY_AFTER = 60.0
# Tokens are renewed this long before they expire (or at half their life when shorter).
RENEW_BEFORE_EXPIRY = 300.0
METADATA_PATH = "/.well-known/oauth-authorization-server"


class ConfigurationError(ValueError):
    """The client cannot be built from its arguments and the environment."""


class _NotGiven:
    """An argument left out (``None`` is a value: ``assign(id, assignee=None)`` unassigns)."""

    _instance: Optional["_NotGiven"] = None

    def __new__(cls) -> "_NotGiven":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()


class Secret:
    """A credential that never shows itself in ``repr``, ``str``, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(other._value.encode(), self._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a caseforge Secret cannot be pickled")


@dataclasses.dataclass(frozen=True)
class Config:
    base_url: str
    auth_url: str
    api_key: Optional[Secret]
    client_id: Optional[str]
    client_secret: Optional[Secret]
    # `private_key_jwt` (RFC 7523): signs client assertions instead of sending a secret.
    private_key: Optional[SigningKey]
    # DPoP (RFC 9449): sender-constrained tokens, a proof on every request.
    dpop: bool
    scopes: Optional[tuple[str, ...]]
    timeout: Union[float, httpx.Timeout]
    max_retries: int
    default_headers: Mapping[str, str]

    @property
    def uses_oauth(self) -> bool:
        return self.api_key is None


def _env(name: str) -> Optional[str]:
    value = os.environ.get(name)
    return value if value else None


def resolve_config(
    *,
    api_key: Optional[str],
    client_id: Optional[str],
    client_secret: Optional[str],
    base_url: Optional[str],
    auth_url: Optional[str],
    scopes: Union[None, str, Sequence[str]],
    private_key: Any = None,
    key_id: Optional[str] = None,
    dpop: bool = False,
    timeout: Union[None, float, httpx.Timeout],
    max_retries: Optional[int],
    default_headers: Optional[Mapping[str, str]],
) -> Config:
    """Arguments win over the environment; ``CASEFORGE_API_KEY`` before
    ``CASEFORGE_CLIENT_ID``/``CASEFORGE_CLIENT_SECRET``; client credentials given as arguments
    mean the environment's API key is not used. ``private_key`` (a PEM or a private JWK) takes the
    secret's place: the environment's secret is then not read either."""
    if api_key is not None and (client_id is not None or client_secret is not None or private_key is not None):
        raise ConfigurationError("Give either api_key or client_id/client_secret (or client_id/private_key), not both.")
    if private_key is not None and client_secret is not None:
        raise ConfigurationError("Give either client_secret or private_key, not both: an application authenticates one way.")
    if key_id is not None and private_key is None:
        raise ConfigurationError("key_id names the kid of private_key: give private_key too.")
    signing_key: Optional[SigningKey] = None
    if api_key is None:
        if client_id is None and client_secret is None and private_key is None:
            api_key = _env("CASEFORGE_API_KEY")
        if api_key is None:
            client_id = client_id if client_id is not None else _env("CASEFORGE_CLIENT_ID")
            if private_key is not None:
                try:
                    signing_key = load_signing_key(private_key, key_id)
                except UnusableKey as e:
                    raise ConfigurationError(str(e)) from None
                client_secret = None
                if not client_id:
                    raise ConfigurationError("private_key needs client_id= (or CASEFORGE_CLIENT_ID).")
            else:
                client_secret = client_secret if client_secret is not None else _env("CASEFORGE_CLIENT_SECRET")
                if not client_id or not client_secret:
                    raise ConfigurationError(
                        "No credentials: pass api_key= (or set CASEFORGE_API_KEY), or client_id= and "
                        "client_secret= (or set CASEFORGE_CLIENT_ID and CASEFORGE_CLIENT_SECRET), or "
                        "client_id= and private_key=."
                    )
    if api_key is not None and not api_key:
        raise ConfigurationError("api_key is empty.")
    if dpop and api_key is not None:
        raise ConfigurationError("dpop=True needs OAuth client credentials: API keys are not sender-constrained.")
    if isinstance(scopes, str):
        scope_tuple: Optional[tuple[str, ...]] = tuple(scopes.split())
    elif scopes is not None:
        scope_tuple = tuple(scopes)
    else:
        scope_tuple = None
    if max_retries is None:
        max_retries = DEFAULT_MAX_RETRIES
    if max_retries < 0:
        raise ConfigurationError("max_retries must be 0 or more.")
    return Config(
        base_url=(base_url or _env("CASEFORGE_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
        auth_url=(auth_url or _env("CASEFORGE_AUTH_URL") or DEFAULT_AUTH_URL).rstrip("/"),
        api_key=Secret(api_key) if api_key is not None else None,
        client_id=client_id if api_key is None else None,
        client_secret=Secret(client_secret) if (api_key is None and client_secret) else None,
        private_key=signing_key,
        dpop=bool(dpop),
        scopes=scope_tuple,
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        max_retries=max_retries,
        default_headers=dict(default_headers or {}),
    )


def config_repr(name: str, config: Config) -> str:
    if config.api_key is not None:
        key = config.api_key.reveal()
        cred = f"api_key='{key[:8]}…{key[-4:]}'" if len(key) > 16 else "api_key='…'"
    elif config.private_key is not None:
        cred = f"client_id={config.client_id!r}, private_key=<{config.private_key.alg} kid={config.private_key.kid!r}>"
    else:
        cred = f"client_id={config.client_id!r}, client_secret='**********'"
    if config.dpop:
        cred += ", dpop=True"
    return f"{name}(base_url={config.base_url!r}, auth_url={config.auth_url!r}, {cred})"


# --- one API call ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Op:
    """One API operation as a resource method describes it."""

    method: str
    path: str
    params: Optional[Mapping[str, Any]] = None
    json: Any = None
    # What the answer parses into: a model class, `None` (no body), or a page of `item`.
    cast: Any = None
    page_item: Any = None
    # Creates, transitions and deletes: the SDK sends an Idempotency-Key so they may be retried.
    send_idempotency_key: bool = False
    # POSTs that only read (screen, validate): retried like a GET.
    safe: bool = False
    if_match: Optional[str] = None
    idempotency_key: Optional[str] = None
    extra_headers: Optional[Mapping[str, str]] = None
    timeout: Any = None
    raw: bool = False


def new_request_id() -> str:
    # `X-Request-Id`: one per SDK call, the same on each of its retries (the server logs every
    # attempt under it, and errors carry it), 1–64 characters of [A-Za-z0-9_-].
    return "cfpy_" + uuid.uuid4().hex


def new_idempotency_key() -> str:
    return "cfpy_" + uuid.uuid4().hex


def clean(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the arguments that were not given."""
    return {k: v for k, v in mapping.items() if v is not NOT_GIVEN}


def query_params(params: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in (params or {}).items():
        if v is None or v is NOT_GIVEN:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif hasattr(v, "isoformat"):
            v = v.isoformat()
        out[k] = v
    return out


def json_body(value: Any) -> Any:
    """JSON-ready: models dumped, dates as ISO strings, NOT_GIVEN dropped."""
    if value is NOT_GIVEN:
        return None
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Mapping):
        return {k: json_body(v) for k, v in value.items() if v is not NOT_GIVEN}
    if isinstance(value, (list, tuple)):
        return [json_body(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def user_agent() -> str:
    return f"caseforge-python/{__version__}"


def build_request(
    http: Union[httpx.Client, httpx.AsyncClient],
    config: Config,
    op: Op,
    *,
    bearer: str,
    request_id: str,
    idempotency_key: Optional[str],
    scheme: str = "Bearer",
) -> httpx.Request:
    headers = {
        "Accept": "application/json",
        "User-Agent": user_agent(),
        **config.default_headers,
        "Authorization": f"{scheme} {bearer}",
        "X-Request-Id": request_id,
    }
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    if op.if_match is not None:
        headers["If-Match"] = op.if_match
    if op.extra_headers:
        headers.update(op.extra_headers)
    kwargs: dict[str, Any] = {}
    if op.json is not None or op.method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = json_body(op.json) if op.json is not None else {}
    return http.build_request(
        op.method,
        config.base_url + op.path,
        params=query_params(op.params),
        headers=headers,
        timeout=op.timeout if op.timeout is not None else config.timeout,
        **kwargs,
    )


def path_segment(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty id, got {value!r}")
    return quote(value, safe="")


def is_retryable_status(response: httpx.Response) -> bool:
    status = response.status_code
    if status in (408, 429) or status >= 500:
        return True
    if status == 409:
        return error_code(response) == "busy"
    return False


def is_nonce_challenge(response: httpx.Response) -> bool:
    """RFC 9449 §8/§9: the server wants a proof with its nonce (400 from the token endpoint,
    401 from the API), which it sends in ``DPoP-Nonce``."""
    return response.status_code in (400, 401) and bool(response.headers.get("dpop-nonce")) and error_code(response) == "use_dpop_nonce"


def error_code(response: httpx.Response) -> Optional[str]:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def retry_delay(attempt: int, response: Optional[httpx.Response]) -> Optional[float]:
    """Seconds to wait before retry number ``attempt + 1``; ``None``: do not retry (the server
    asked for a longer wait than this SDK sleeps through)."""
    if response is not None:
        after = _retry_after_seconds(response.headers)
        if after is not None:
            if after > MAX_RETRY_AFTER:
                return None
            # A little jitter on top, so that clients told the same second do not all return at once.
            return after + random.uniform(0, min(0.25, after * 0.1 + 0.05))
    base = min(INITIAL_RETRY_DELAY * (2**attempt), MAX_RETRY_DELAY)
    return base * (1 - 0.25 * random.random())


def basic_auth(client_id: str, client_secret: Secret) -> str:
    # RFC 6749 §2.3.1: form-url-encode each before base64.
    from urllib.parse import quote_plus

    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret.reveal())}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


_LINK_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


def next_cursor_of(body: Mapping[str, Any], response: httpx.Response) -> Optional[str]:
    pagination = body.get("pagination") or {}
    cursor = pagination.get("next_cursor") if isinstance(pagination, dict) else None
    if cursor:
        return str(cursor)
    link = response.headers.get("link")
    if link:
        m = _LINK_NEXT.search(link)
        if m:
            q = httpx.URL(m.group(1)).params.get("cursor")
            if q:
                return q
    return None


def next_page_op(op: Op, cursor: str) -> Op:
    """The same list, filters and ``page_size`` with ``cursor``; never ``page``."""
    params = {k: v for k, v in (op.params or {}).items() if k not in ("page", "cursor")}
    params["cursor"] = cursor
    return dataclasses.replace(op, params=params)


def parse_model(cast: Any, response: httpx.Response) -> Any:
    if cast is None or response.status_code == 204 or not response.content:
        return None
    data = response.json()
    obj = cast.model_validate(data)
    etag = response.headers.get("etag")
    if etag is not None and hasattr(obj, "_etag"):
        obj._etag = etag
    return obj


def log_response(response: httpx.Response, request_id: str, attempt: int) -> None:
    if log.isEnabledFor(logging.DEBUG):
        req = response.request
        log.debug(
            "%s %s -> %s (request id %s, attempt %d)",
            req.method,
            req.url.copy_with(query=None),
            response.status_code,
            request_id,
            attempt + 1,
        )


Callback = Callable[..., Any]
