"""Pages of a list. Iterating a page walks every item of every page after it by cursor
(resending the list's filters and ``page_size``, never ``page``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Generator, Generic, Iterator, List, Optional, TypeVar

from . import models
from ._core import Op, next_page_op

if TYPE_CHECKING:
    from ._client import AsyncClient, Client

T = TypeVar("T")

__all__ = ["SyncPage", "AsyncPage", "AsyncPaginator"]


class _BasePage(Generic[T]):
    data: List[T]
    pagination: Optional[models.Pagination]
    next_cursor: Optional[str]

    def __init__(self, *, data: List[T], pagination: Any, next_cursor: Optional[str], op: Op, client: Any) -> None:
        self.data = data
        self.pagination = pagination
        self.next_cursor = next_cursor
        self._op = op
        self._client = client

    def has_next_page(self) -> bool:
        return bool(self.next_cursor)

    def _next_op(self) -> Op:
        if not self.next_cursor:
            raise RuntimeError("This is the last page: check has_next_page() first.")
        return next_page_op(self._op, self.next_cursor)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(data=<{len(self.data)} items>, pagination={self.pagination!r}, has_next_page={self.has_next_page()})"


class SyncPage(_BasePage[T]):
    """``.data`` (this page), ``.pagination``, ``has_next_page()``, ``next_page()``;
    ``for item in page`` walks this page and every page after it."""

    _client: "Client"

    def next_page(self) -> "SyncPage[T]":
        return self._client._call(self._next_op())

    def iter_pages(self) -> Iterator["SyncPage[T]"]:
        page: SyncPage[T] = self
        yield page
        while page.has_next_page():
            page = page.next_page()
            yield page

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.data


class AsyncPage(_BasePage[T]):
    """As ``SyncPage``; ``await page.next_page()`` and ``async for item in page``."""

    _client: "AsyncClient"

    async def next_page(self) -> "AsyncPage[T]":
        return await self._client._call(self._next_op())

    async def iter_pages(self) -> AsyncIterator["AsyncPage[T]"]:
        page: AsyncPage[T] = self
        yield page
        while page.has_next_page():
            page = await page.next_page()
            yield page

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item


class AsyncPaginator(Generic[T]):
    """What ``AsyncClient``'s ``list()`` returns: ``await`` it for the first page, or
    ``async for item in client.cases.list(...)`` to walk every item."""

    def __init__(self, client: "AsyncClient", op: Op) -> None:
        self._client = client
        self._op = op

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._client._call(self._op).__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page: AsyncPage[T] = await self
        async for item in page:
            yield item
