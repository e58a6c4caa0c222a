"""Errors: ``APIError`` ⊃ ``APIConnectionError`` (⊃ ``APITimeoutError``) and ``APIStatusError``
(one class per HTTP status the API answers). None of them ever carries a credential: messages
are built from the error envelope, the method and the URL only."""

from __future__ import annotations

from typing import Any, Optional

import httpx

__all__ = [
    "APIError",
    "APIConnectionError",
    "APITimeoutError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "PreconditionFailedError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
]


class APIError(Exception):
    """Every error this SDK raises. ``request_id`` is the ``X-Request-Id`` of the call (the one
    the SDK sent, or the server's echo), so it can be found in the server's logs."""

    message: str
    request: Optional[httpx.Request]
    request_id: Optional[str]

    def __init__(
        self, message: str, *, request: Optional[httpx.Request] = None, request_id: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request id {self.request_id})"
        return self.message


class APIConnectionError(APIError):
    """No answer: the connection failed or was dropped (after the retries the call allowed)."""

    def __init__(
        self,
        message: str = "Connection error.",
        *,
        request: Optional[httpx.Request] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message, request=request, request_id=request_id)


class APITimeoutError(APIConnectionError):
    """No answer within ``timeout`` (after the retries the call allowed)."""

    def __init__(
        self, *, request: Optional[httpx.Request] = None, request_id: Optional[str] = None
    ) -> None:
        super().__init__("Request timed out.", request=request, request_id=request_id)


class APIStatusError(APIError):
    """The server answered with a 4xx or 5xx status and the error envelope
    ``{"error", "error_description", "details"}``."""

    response: httpx.Response
    status_code: int
    code: Optional[str]
    description: Optional[str]
    details: Any
    headers: httpx.Headers
    body: Any

    def __init__(self, message: str, *, response: httpx.Response, body: Any, request_id: Optional[str]) -> None:
        super().__init__(message, request=response.request, request_id=request_id)
        self.response = response
        self.status_code = response.status_code
        self.headers = response.headers
        self.body = body
        envelope = body if isinstance(body, dict) else {}
        self.code = envelope.get("error") if isinstance(envelope.get("error"), str) else None
        self.description = envelope.get("error_description")
        self.details = envelope.get("details")

    # `status` as in the Node SDK.
    @property
    def status(self) -> int:
        return self.status_code


class BadRequestError(APIStatusError):
    """400 (also 413/415: the request could not be read)."""


class AuthenticationError(APIStatusError):
    """401: ``invalid_token`` from the API, or ``invalid_client`` from the token endpoint (a
    wrong or rotated secret: make a new client with the new one)."""


class PermissionDeniedError(APIStatusError):
    """403, e.g. ``insufficient_scope`` (``details.required_scope``)."""


class NotFoundError(APIStatusError):
    """404: no such record in the credential's environment."""


class ConflictError(APIStatusError):
    """409. ``code == "conflict"`` is final (e.g. the case is already closed); ``"busy"`` is
    transient, and retried by the SDK while ``max_retries`` allows."""

    @property
    def retryable(self) -> bool:
        return self.code == "busy"


class PreconditionFailedError(APIStatusError):
    """412 ``precondition_failed``: the record changed since the ``if_match`` version; nothing
    was written. Retrieve it again and decide."""


class UnprocessableEntityError(APIStatusError):
    """422, e.g. ``validation_failed`` or ``idempotency_key_reused``."""


class RateLimitError(APIStatusError):
    """429 ``rate_limited``. ``retry_after``: seconds the server asked to wait (or ``None``)."""

    @property
    def retry_after(self) -> Optional[float]:
        return _retry_after_seconds(self.headers)


class InternalServerError(APIStatusError):
    """5xx."""


_BY_STATUS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    413: BadRequestError,
    415: BadRequestError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _retry_after_seconds(headers: httpx.Headers) -> Optional[float]:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime
        import datetime as _dt

        when = parsedate_to_datetime(value)
        return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def make_status_error(response: httpx.Response, request_id: Optional[str]) -> APIStatusError:
    """The ``APIStatusError`` subclass for ``response`` (already read)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500] if response.text else None
    status = response.status_code
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    request = response.request
    where = f"{request.method} {request.url.copy_with(query=None)}"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        text = f"{status} {body['error']}: {body.get('error_description') or ''}".rstrip(": ")
    else:
        text = f"{status} {response.reason_phrase}"
    return cls(f"{text} ({where})", response=response, body=body, request_id=request_id)
