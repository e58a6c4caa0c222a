"""``client.with_raw_response``: the same calls, answering the HTTP response (headers,
status) with ``parse()`` for the typed result."""

from __future__ import annotations

from typing import Any, Callable, Generic, Optional, TypeVar

import httpx

T = TypeVar("T")


class APIResponse(Generic[T]):
    def __init__(self, response: httpx.Response, request_id: str, parser: Callable[[], T]) -> None:
        self.http_response = response
        self._parser = parser
        self._request_id = request_id
        self._parsed: Any = _UNSET

    @property
    def headers(self) -> httpx.Headers:
        return self.http_response.headers

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def request_id(self) -> Optional[str]:
        return self.http_response.headers.get("x-request-id") or self._request_id

    @property
    def url(self) -> httpx.URL:
        return self.http_response.url

    def json(self) -> Any:
        return self.http_response.json()

    def parse(self) -> T:
        if self._parsed is _UNSET:
            self._parsed = self._parser()
        return self._parsed

    def __repr__(self) -> str:
        return f"<APIResponse [{self.status_code}] {self.http_response.request.method} {self.url}>"


_UNSET: Any = object()
